"""What one consolidation found: the result model every head-office writer reads.

It sits below the writers on purpose. ``consolidate`` reads, checks and decides, then hands a
:class:`ConsolidationResult` to the writers (summary, hq, history, review, feedback, web); the writers
import only this module, never ``consolidate``, so data flows one way and there is no import cycle
(before this module existed, summary, hq and history imported ``consolidate`` back for these types).
``kpi_xl.consolidate`` re-exports every name here, so old imports keep working.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["BANGKOK", "ConsolidationResult", "Status", "Submission"]

BANGKOK = dt.timezone(dt.timedelta(hours=7), "ICT")


class Status(StrEnum):
    """What became of a file, and of a district. Each has a Thai and an English label."""

    CLEAN = "clean"
    WITH_ERRORS = "with_errors"
    MISSING = "missing"
    DUPLICATE = "duplicate"
    WRONG_YEAR = "wrong_year"
    OTHER_CATALOG = "other_catalog"
    CORRUPT = "corrupt"
    ENCRYPTED = "encrypted"
    XLS = "xls"
    NOT_KPI_XL = "not_kpi_xl"
    UNKNOWN_DISTRICT = "unknown_district"
    LOCK_FILE = "lock_file"

    @property
    def th(self) -> str:
        return _STATUS_LABELS[self][0]

    @property
    def en(self) -> str:
        return _STATUS_LABELS[self][1]

    @property
    def usable(self) -> bool:
        """Scores of this workbook count in the summary."""
        return self in (Status.CLEAN, Status.WITH_ERRORS)

    @property
    def unreadable(self) -> bool:
        return self in (Status.CORRUPT, Status.ENCRYPTED, Status.XLS, Status.NOT_KPI_XL)


_STATUS_LABELS: dict[Status, tuple[str, str]] = {
    Status.CLEAN: ("ส่งแล้ว ถูกต้อง", "received, clean"),
    Status.WITH_ERRORS: ("ส่งแล้ว มีข้อผิดพลาด", "received, with errors"),
    Status.MISSING: ("ยังไม่ส่ง", "missing"),
    Status.DUPLICATE: ("ส่งซ้ำ ไม่ใช้ (มีแฟ้มที่บันทึกล่าสุดกว่า)", "duplicate, superseded by a later save"),
    Status.WRONG_YEAR: ("ผิดปีงบประมาณ", "wrong fiscal year"),
    Status.OTHER_CATALOG: ("สร้างจากทะเบียนตัวชี้วัดฉบับอื่น", "built from another catalog version"),
    Status.CORRUPT: ("เปิดไม่ได้ (แฟ้มเสียหรือว่างเปล่า)", "unreadable: corrupt or empty"),
    Status.ENCRYPTED: ("เปิดไม่ได้ (ตั้งรหัสผ่าน)", "unreadable: password-protected"),
    Status.XLS: ("เปิดไม่ได้ (แฟ้ม .xls รุ่นเก่า)", "unreadable: old .xls format"),
    Status.NOT_KPI_XL: ("ไม่ใช่แบบรายงานของ kpi-xl", "not a kpi-xl workbook"),
    Status.UNKNOWN_DISTRICT: ("เขตไม่อยู่ในทะเบียนตัวชี้วัด", "district not in the catalog"),
    Status.LOCK_FILE: ("ข้าม (แฟ้มล็อกของ Excel)", "skipped: Excel lock file"),
}


@dataclass(slots=True)
class Submission:
    """One input file as head office sees it; small on purpose (kept for every file). Slots, not a
    per-instance ``__dict__``: at 10,000 files the dicts alone were ≈ 4 MB of the parent's memory."""

    file: str
    size: int | None
    sha256: str | None
    mtime: float | None
    status: Status
    district_code: int | None = None
    district_name_th: str | None = None
    district_name_en: str | None = None
    identified_by: Literal["metadata", "file name", ""] = ""
    fiscal_year: int | None = None
    report_quarter: int | None = None
    declared_quarter: int | None = None
    catalog_hash: str | None = None
    template_version: str | None = None
    modified: dt.datetime | None = None
    district_score: float | None = None
    errors: int = 0
    warnings: int = 0
    used: bool = False
    note_th: str = ""
    note_en: str = ""
    problems: list[dict[str, Any]] = field(default_factory=list)
    indicators: list[dict[str, Any]] | None = None
    claimed_reason: str = ""  # "future" / "drift": the internal saved date is not used to choose (KPI-W602)
    signoff: dict[str, Any] | None = None  # kpi_xl.model.SignoffState as a dict (crosses the worker boundary)

    @property
    def saved(self) -> dt.datetime | None:
        """Last saved (docProps), else the file's mtime; naive UTC."""
        if self.modified is not None:
            return self.modified
        if self.mtime is not None:
            return dt.datetime.fromtimestamp(self.mtime, dt.UTC).replace(tzinfo=None)
        return None

    @property
    def trusted_saved(self) -> dt.datetime | None:
        """The saved date used for choosing: the file's mtime when the internal one is implausible."""
        if self.claimed_reason and self.mtime is not None:
            return dt.datetime.fromtimestamp(self.mtime, dt.UTC).replace(tzinfo=None)
        return self.saved

    def sort_key(self) -> tuple[Any, ...]:
        """Total order for choosing among one district's files: usable, last saved (when plausible,
        else mtime), mtime, path."""
        saved = self.trusted_saved or dt.datetime.min
        return (self.status.usable, saved, self.mtime or 0.0, self.file)


@dataclass
class ConsolidationResult:
    """Everything one run found, as DataFrames, plus the paths it wrote."""

    fiscal_year: int
    quarter: int
    catalog_hash: str
    catalog_title_th: str
    inbox: Path
    run_at: dt.datetime
    submissions: pd.DataFrame
    districts: pd.DataFrame
    scores: pd.DataFrame
    indicators: pd.DataFrame
    problems: pd.DataFrame
    manifest: pd.DataFrame
    history: bool = False
    paths: dict[str, Path | str] = field(default_factory=dict)
    error_scores: str = "scored"
    """The catalog's rule for scores resting on error cells (catalog.ErrorScores), which the summary states."""

    @property
    def previous_quarter(self) -> tuple[int, int]:
        return (self.fiscal_year, self.quarter - 1) if self.quarter > 1 else (self.fiscal_year - 1, 4)

    @property
    def previous_year(self) -> tuple[int, int]:
        return (self.fiscal_year - 1, self.quarter)

    @property
    def counts(self) -> dict[str, int]:
        """Districts per status, plus totals the overview shows."""
        status = self.districts["status"]
        out = {s.value: int((status == s.value).sum()) for s in Status}
        out["districts"] = len(self.districts)
        out["received"] = out[Status.CLEAN] + out[Status.WITH_ERRORS]
        out["unusable"] = out["districts"] - out["received"] - out[Status.MISSING]
        out["duplicates"] = int(self.districts["duplicate"].sum())
        out["files"] = len(self.submissions)
        out["unreadable"] = int(self.submissions["status"].map(lambda v: Status(v).unreadable).sum())
        return out

    @property
    def mean_score(self) -> float | None:
        scores = self.districts["score"].dropna()
        if scores.empty:
            return None
        from .scoring import round2

        return round2(math.fsum(scores) / len(scores))

    @property
    def complete(self) -> bool:
        """Every district sent a clean workbook."""
        return self.counts["clean"] == len(self.districts)
