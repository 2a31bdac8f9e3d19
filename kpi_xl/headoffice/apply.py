"""``kpi-xl review apply REVIEW.xlsx``: check head office's entries, keep them, send them back.

1. Every entry is checked and every problem is reported with its cell (score out of 0–5, a score
   or comment without a decision, a decision not in the list, sent back without a comment, no
   reviewer, an unknown district or indicator, edited read-only columns: the row's hidden hash);
   with any error nothing is stored and nothing is written.
2. Each assessed district's workbook in the inbox must still be the file consolidated (its SHA-256
   as history recorded it), else KPI-E720 and nothing is stored.
3. One feedback workbook per assessed district (:mod:`.feedback`), a copy of the file it sent,
   written into a staging folder beside the target first;
4. then the entries go into the history database beside the district's self-assessment
   (:func:`kpi_xl.history.record_assessments`: append-only, one audit row per changed value), and
   only then are the feedback files moved into place. A failure before that stores nothing.

The review workbook is only read. The feedback folder (default ``feedback_<fy>_Q<q>`` beside the
review workbook) is checked before any work and may not lie inside the inbox (the next
consolidation would take the copies for submissions).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..problems import KpiError, Location, Problem, problem
from .review import COL, COLUMNS, DECISIONS, HQ, SHEET, Entry, read_meta, read_review, row_hash


@dataclass
class Applied:
    fiscal_year: int
    quarter: int
    stored: int
    audit: int
    feedback: dict[int, Path] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)
    returned: int = 0


def _letter(key: str) -> str:
    from ..catalog import column_letter

    return column_letter(COL[key])


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any) -> str | None:
    if _blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def check_entries(entries: list[Entry], known: set[tuple[int, str]], file: str,
                  files: dict[int, str] | None = None) -> tuple[list[dict[str, Any]], list[Problem]]:
    """Entries → clean dicts (rows with any head-office entry) and every problem, located.

    ``files``: district → SHA-256 of the workbook the period's current run used; a row reviewed
    from another file (the district sent again and head office re-consolidated) is refused, since
    what was assessed is no longer what the district says."""
    from .. import thai

    found: list[Problem] = []
    clean: list[dict[str, Any]] = []

    def at(e: Entry, key: str) -> Location:
        return Location(file=file, sheet=SHEET, cell=f"{_letter(key)}{e.row}", row=e.row, column=key)

    for e in entries:
        try:
            key = (int(float(e.district_code)), str(e.indicator_code).strip())
        except (TypeError, ValueError):
            key = None
        if key is None or key not in known:
            found.append(problem("KPI-E713", at(e, "district_code"), district=_text(e.district_code) or "-",
                                 indicator=_text(e.indicator_code) or "-"))
            continue
        if row_hash(e.read_only) != e.row_hash:
            found.append(problem("KPI-E714", Location(file=file, sheet=SHEET, row=e.row, cell=f"A{e.row}")))
            continue
        if all(_blank(getattr(e, k)) for k in HQ):
            continue
        if files is not None and key[0] in files and _text(e.submission) != files[key[0]]:
            found.append(problem("KPI-E719", at(e, "district_code"), district=key[0]))
            continue
        score = None
        if not _blank(e.hq_score):
            try:
                score = float(thai.parse_number(e.hq_score))  # type: ignore[arg-type]
            except (thai.ThaiParseError, TypeError, ValueError):
                score = None
            if score is None or not 0 <= score <= 5:
                found.append(problem("KPI-E711", at(e, "hq_score"), value=_text(e.hq_score)))
        decision = _text(e.decision)
        comment = _text(e.hq_comment)
        if decision is None and (score is not None or comment):
            found.append(problem("KPI-E712", at(e, "decision")))
        elif decision is not None and decision not in DECISIONS:
            found.append(problem("KPI-E715", at(e, "decision"), value=decision))
        elif decision == DECISIONS[1] and not comment:
            found.append(problem("KPI-E716", at(e, "hq_comment")))
        if _blank(e.reviewer):
            found.append(problem("KPI-E717", at(e, "reviewer")))
        clean.append({"district_code": key[0], "indicator_code": key[1], "hq_score": score, "comment": comment,
                      "decision": decision, "reviewer": _text(e.reviewer), "file": _text(e.file),
                      "indicator_name_th": _text(e.read_only.get("indicator_name_th"))})
    return clean, found


def _sources(inbox: Path, by_district: dict[int, list[dict[str, Any]]],
             files: dict[int, str]) -> tuple[dict[int, Path], list[Problem]]:
    """Each assessed district's workbook in the inbox, checked to be the very file consolidated.

    A district may have dropped a corrected file into the inbox since the run: feedback written from
    it would show head office's verdict on a workbook head office never saw. That is an error for
    the whole review (KPI-E720: nothing stored); a file gone from the inbox only costs its feedback."""
    import hashlib

    sources: dict[int, Path] = {}
    missing: list[Problem] = []
    changed: list[Problem] = []
    for code, items in sorted(by_district.items()):
        rel = next((e["file"] for e in items if e["file"]), None)
        src = inbox / rel if rel else None
        if src is None or not src.is_file():
            missing.append(problem("KPI-W710", Location(file=str(src or inbox)), value=str(src or code)))
            continue
        if code in files:
            digest = hashlib.sha256()
            with src.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
            if digest.hexdigest() != files[code]:
                changed.append(problem("KPI-E720", Location(file=str(src)), district=code, value=rel))
                continue
        sources[code] = src
    if changed:
        raise KpiError(changed)
    return sources, missing


def apply_review(review: str | Path, *, db: str | Path | None = None, out: str | Path | None = None,
                 now: dt.datetime | None = None) -> Applied:
    """Check, store, write feedback. Raises :class:`KpiError` with every problem when any is an error."""
    from .. import history
    from ..files import check_output_folder
    from .feedback import feedback_name, write_feedback

    review = Path(review)
    where = Location(file=str(review))
    try:
        meta = read_meta(review)
        entries = read_review(review)
    except Exception as exc:  # noqa: BLE001 - calamine's own errors for a wrong or broken file
        raise KpiError([problem("KPI-E718", where, detail=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)]) from None
    if not {"fiscal_year", "quarter", "inbox"} <= set(meta):
        raise KpiError([problem("KPI-E718", where, detail="ไม่มีแผ่นงาน _review / no _review sheet")])
    fy, q, inbox = int(meta["fiscal_year"]), int(meta["quarter"]), Path(meta["inbox"])
    folder = Path(out) if out is not None else review.parent / f"feedback_{fy}_Q{q}"
    check_output_folder(folder, inputs=[review, inbox], option="--out")
    if folder.resolve() == inbox.resolve() or inbox.resolve() in folder.resolve().parents:
        raise KpiError([problem("KPI-E602", Location(), option="--out", path=str(folder), folder=str(inbox))])
    url = db if db is not None else history.default_location(review.parent)
    if not history.exists(url):
        raise KpiError([problem("KPI-E718", where, detail=f"ไม่พบฐานข้อมูลประวัติ / no history database: {url}")])
    engine = history.open_db(url)
    try:
        results = history.current_results(engine, fy, q)
        files = history.current_files(engine, fy, q)
        clean, found = check_entries(entries, set(results), review.name, files)
        if any(p.is_error for p in found):
            raise KpiError(found)
        when = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(tzinfo=None)
        for e in clean:
            got = results[(e["district_code"], e["indicator_code"])]
            e["self_score"], e["content_hash"] = got.get("score"), got.get("content_hash")
        by_district: dict[int, list[dict[str, Any]]] = {}
        for e in clean:
            by_district.setdefault(e["district_code"], []).append(e)
        sources, missing = _sources(inbox, by_district, files)
        # Feedback first, into a folder of its own beside the target: a broken workbook or a full disk
        # stops the run before anything is stored, so history and the feedback never disagree.
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".kpi-xl-tmp", dir=folder.parent))
        try:
            local = (now or dt.datetime.now(dt.UTC)).astimezone(dt.timezone(dt.timedelta(hours=7)))
            staged = {code: write_feedback(src, staging / feedback_name(src, fy, q), by_district[code],
                                           fiscal_year=fy, quarter=q, applied_at=local)
                      for code, src in sources.items()}
            stored, audit = history.record_assessments(engine, fy, q, clean, applied_at=when, review_file=str(review))
            folder.mkdir(exist_ok=True)
            placed: dict[int, Path] = {}
            for code, path in staged.items():
                os.replace(path, folder / path.name)  # same file system: each file appears whole
                placed[code] = folder / path.name
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    finally:
        engine.dispose()
    applied = Applied(fiscal_year=fy, quarter=q, stored=stored, audit=audit,
                      returned=sum(1 for e in clean if e["decision"] == DECISIONS[1]), feedback=placed)
    applied.warnings.extend(missing)
    return applied


__all__ = ["Applied", "COLUMNS", "apply_review", "check_entries"]
