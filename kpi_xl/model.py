"""The plain models every part meets at.

``RawWorkbook`` is what any fetcher produces — the file reader (calamine + the workbook's own
defined names) or the Excel button (xlwings) — so the rules never see a library object: the same
evaluation runs at head office and in a district office. ``Meta`` is the hidden metadata sheet,
which also carries the catalog itself (as JSON) so the button can score without a catalog file on
the district's PC; its checksum reveals an edited sheet.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .defaults import new_list
from .limits import MAX_CATALOG_PARTS
from .problems import Location, Problem, Report

CHUNK = 30000
# The section of a split district's copy that owns no indicator: the coordinator's (kpi_xl.sections).
COORDINATOR = "ผู้ประสานงานเขต (coordinator)"
REQUIRED_CODES = ("KPI-E201", "KPI-E202", "KPI-E203")


def section_owns(section: str, responsible: str) -> bool:
    """Whether a section's copy owns an indicator with this ``responsible`` (blank: the coordinator's)."""
    return (responsible.strip() or COORDINATOR) == section  # characters per metadata cell (Excel's limit is 32,767)


class Cell(BaseModel):
    """One named cell as found: where it is and what it holds, unparsed."""

    name: str
    sheet: str
    cell: str | None = Field(None, description="A1 address, e.g. B21")
    raw: Any = None

    def location(self, file: str | None = None) -> Location:
        return Location(file=file, sheet=self.sheet, cell=self.cell, name=self.name)

    @property
    def blank(self) -> bool:
        return self.raw is None or (isinstance(self.raw, str) and not self.raw.strip())


class RawWorkbook(BaseModel):
    """A workbook's contract cells, fetched by any means."""

    file: str
    sheet_names: list[str] = Field(default_factory=new_list)
    meta: dict[str, Cell] = Field(default_factory=dict, description="metadata key → cell (key order kept)")
    workbook_cells: dict[str, Cell] = Field(default_factory=dict, description="workbook-scoped names")
    sheets: dict[str, dict[str, Cell]] = Field(default_factory=dict, description="indicator sheet → name → cell")
    modified: dt.datetime | None = Field(None, description="last saved (docProps/core.xml), for duplicates")
    problems: list[Problem] = Field(default_factory=new_list,
                                    description="found while reading: contract names pointing elsewhere")


def meta_rows(
    *,
    template_version: str,
    fiscal_year: int,
    district_code: int,
    district_name_th: str,
    district_name_en: str,
    catalog_hash: str,
    indicator_codes: list[str],
    build_time: str,
    catalog_json: str,
    section: str = "",
    past_json: str = "",
    key: bytes | None = None,
) -> list[tuple[str, str]]:
    """The metadata sheet's rows (key, value), checksum included; values are text so they round-trip.

    With head office's secret ``key`` a ``checksum_kind = hmac-sha256`` row is added and the
    checksum is keyed (see :mod:`kpi_xl.keys`); without one the rows are exactly as before.
    ``section`` marks a section's copy (``kpi-xl build --split-by``); the row exists only in such
    copies, so a whole workbook's metadata is what it always was. ``past_json`` (a
    :class:`DistrictPast` as JSON, from ``kpi-xl build --history``) lets the Excel button compare a
    value with the district's own past without the history database.
    """
    parts = [catalog_json[i:i + CHUNK] for i in range(0, len(catalog_json), CHUNK)] or [""]
    rows = [
        ("template_version", template_version),
        ("fiscal_year", str(fiscal_year)),
        ("district_code", str(district_code)),
        ("district_name_th", district_name_th),
        ("district_name_en", district_name_en),
        ("catalog_hash", catalog_hash),
        ("indicator_codes", ",".join(indicator_codes)),
        ("build_time", build_time),
        ("catalog_parts", str(len(parts))),
    ]
    rows += [(f"catalog_json_{i}", part) for i, part in enumerate(parts, start=1)]
    if section:
        rows.append(("section", section))
    if past_json:
        rows.append(("past_json", past_json))
    if key is not None:
        rows.append(("checksum_kind", HMAC_KIND))
    return [*rows, ("meta_checksum", meta_checksum(rows, key))]


HMAC_KIND = "hmac-sha256"


def meta_checksum(rows: list[tuple[str, str]], key: bytes | None = None) -> str:
    """SHA-256 of the rows, or HMAC-SHA256 under head office's key (the payload is the same)."""
    payload = b"".join(f"{k}\x1f{v}\x1e".encode() for k, v in rows)
    if key is not None:
        from .keys import keyed_digest

        return keyed_digest(key, payload)
    return hashlib.sha256(payload).hexdigest()


class Meta(BaseModel):
    template_version: str
    fiscal_year: int
    district_code: int
    district_name_th: str
    district_name_en: str
    catalog_hash: str
    indicator_codes: list[str]
    build_time: str
    catalog_json: str
    checksum_ok: bool
    section: str = ""
    past_json: str = ""
    checksum_kind: str = "sha256"


def parse_meta(cells: dict[str, Cell], key: bytes | None = None) -> Meta:
    """Metadata cells → :class:`Meta`; raises ``ValueError`` when keys are missing or unreadable.

    ``key``: head office's secret key; when given, only a valid HMAC checksum is "ok" (a plain
    SHA-256, even a correct one, may be a relabelled workbook). Without a key a keyed workbook
    cannot be verified (a district PC never holds the key) and its plain rows are accepted.
    """
    def text(key: str) -> str:
        cell = cells.get(key)
        if cell is None:
            raise ValueError(f"missing metadata key {key}")
        raw = cell.raw
        if isinstance(raw, float) and raw.is_integer():
            raw = int(raw)
        return "" if raw is None else str(raw)

    parts = int(text("catalog_parts") or 0)
    if not 0 <= parts <= MAX_CATALOG_PARTS:  # a hand-edited count must not gather 10**9 keys
        raise ValueError(f"catalog_parts {parts} outside 0–{MAX_CATALOG_PARTS}")
    keys = ["template_version", "fiscal_year", "district_code", "district_name_th", "district_name_en",
            "catalog_hash", "indicator_codes", "build_time", "catalog_parts"]
    keys += [f"catalog_json_{i}" for i in range(1, parts + 1)]
    keys += [k for k in ("section", "past_json") if k in cells]
    if "checksum_kind" in cells:
        keys.append("checksum_kind")
    rows = [(k, text(k)) for k in keys]
    values = dict(rows)
    kind = values.get("checksum_kind", "sha256")
    if key is not None:
        from .keys import same

        checksum_ok = kind == HMAC_KIND and same(meta_checksum(rows, key), text("meta_checksum"))
    elif kind == HMAC_KIND:
        checksum_ok = bool(text("meta_checksum"))
    else:
        checksum_ok = meta_checksum(rows) == text("meta_checksum")
    return Meta(
        template_version=values["template_version"],
        fiscal_year=int(values["fiscal_year"]),
        district_code=int(values["district_code"]),
        district_name_th=values["district_name_th"],
        district_name_en=values["district_name_en"],
        catalog_hash=values["catalog_hash"],
        indicator_codes=[c for c in values["indicator_codes"].split(",") if c],
        build_time=values["build_time"],
        catalog_json="".join(values[f"catalog_json_{i}"] for i in range(1, parts + 1)),
        checksum_ok=checksum_ok,
        checksum_kind=kind,
        section=values.get("section", ""),
        past_json=values.get("past_json", ""),
    )


def catalog_to_json(catalog: Any) -> str:
    return json.dumps(catalog.model_dump(mode="json"), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


# The two history models are built on first use (defer_build): a press of the Excel button reads a
# district's past only from a workbook built with --history, and need not pay for their schemas.
class PastResult(BaseModel):
    """One indicator's stored result for a district in an earlier period (head office's history)."""

    model_config = ConfigDict(defer_build=True)

    fiscal_year: int
    quarter: int
    year_value: float | None = None
    score: float | None = None


class DistrictPast(BaseModel):
    """What the history knows of one district before ``fiscal_year``: last year's results to print
    beside this year's inputs, and the values of earlier years for the outlier warning.

    ``known`` lists every indicator code any district reported last year, so an indicator missing
    from it is new (ตัวชี้วัดใหม่), while one known but absent from ``last_year`` had no result here.
    ``own`` is indicator code → quarter → the district's values scored in that quarter of earlier years.
    """

    model_config = ConfigDict(defer_build=True)

    fiscal_year: int
    district_code: int
    last_year: dict[str, PastResult] = Field(default_factory=dict)
    known: list[str] = Field(default_factory=new_list)
    own: dict[str, dict[int, list[float]]] = Field(default_factory=dict)


class FieldValue(BaseModel):
    """A contract cell after parsing: the typed value (number, date, quarter, text) and its origin."""

    cell: Cell
    value: Any = None


class IndicatorResult(BaseModel):
    code: str
    sheet: str
    name_th: str = ""
    weight: float = 0.0
    scoring: str = ""
    fields: dict[str, FieldValue] = Field(default_factory=dict)
    year_value: float | None = None
    score: float | None = None
    target_met: bool | None = None
    explanation_th: str = ""
    explanation_en: str = ""
    flagged_cells: list[str] = Field(default_factory=new_list)
    """A1 cells with an error that the score rests on (inputs it was computed from): head office's
    summary flags the score, and the catalog's ``error_scores`` rule decides what it counts for."""
    value_source: str | None = None
    """Which value scored: ``typed`` (ผลงานที่ทำได้ as the district typed it), ``computed`` (the
    quarterly values or levels), ``None`` when nothing scored."""
    typed_difference: float | None = None
    """Typed result minus what the quarterly values give, when they differ (KPI-W402)."""
    counted: bool = True
    content_hash: str | None = None
    """SHA-256 of the sheet's input cells (kpi_xl.signoff.sheet_hash): "was a returned item changed?"."""
    """Whether the score counts in the weighted district score (``error_scores: excluded`` leaves a
    flagged one out); ``score`` is as computed either way."""

    @property
    def flagged(self) -> bool:
        return bool(self.flagged_cells)

    def value(self, name: str) -> Any:
        field = self.fields.get(name)
        return None if field is None else field.value


class SignoffState(BaseModel):
    """A workbook's sign-off as found (:func:`kpi_xl.signoff.state_of`): ``unsigned``, ``signed``
    (and unchanged since), ``changed`` (cells changed after signing, as ``"KPI-05!E21"``) or
    ``damaged`` (the stamp's own checksum fails)."""

    state: str = "unsigned"
    quarter: int | None = None
    signer: str = ""
    time: str = ""
    changed: list[str] = Field(default_factory=new_list)


class DistrictReport(BaseModel):
    """One workbook, validated and scored: what the CLI prints, the button writes back, HQ collects."""

    file: str
    readable: bool = True
    meta: Meta | None = None
    district_code: int | None = None
    district_name_th: str | None = None
    district_name_en: str | None = None
    fiscal_year: int | None = None
    report_quarter: int | None = None
    declared_quarter: int | None = Field(None, description="the quarter chosen on the cover, even when the run "
                                         "was told another (head office compares the two)")
    modified: dt.datetime | None = None
    indicators: list[IndicatorResult] = Field(default_factory=new_list)
    district_score: float | None = None
    problems: Report = Field(default_factory=Report)
    signoff: SignoffState | None = None

    @property
    def valid(self) -> bool:
        return self.readable and self.problems.valid
