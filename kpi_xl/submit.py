"""The sign-off engine behind ยืนยันส่งรายงาน (:func:`kpi_xl.excel.submit`) and ``kpi-xl submit``.

:func:`sign` runs the full check (:func:`kpi_xl.validate.evaluate`) for the chosen quarter and
returns the stamp rows (:mod:`kpi_xl.signoff` defines them and reads them back) or the refusal with
every reason; the button writes the rows through xlwings, :func:`submit_file` into a signed copy
with openpyxl. It sits above the validator, which in turn reads the stamps through
:mod:`kpi_xl.signoff`: no import cycle.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .signoff import (
    BANGKOK,
    CHUNK,
    PREFIX,
    SHOWN_ERRORS,
    SIGNATURE,
    _text,
    bangkok_text,
    content_hash,
    contract_cells,
    digests,
    placement,
    stamp_checksum,
)

if TYPE_CHECKING:  # pragma: no cover
    from .catalog import Catalog
    from .model import Cell, DistrictReport, RawWorkbook
    from .problems import Problem


@dataclass
class SignResult:
    """What :func:`sign` decided. ``rows`` is empty when it refused; ``problems`` says why."""

    ok: bool
    report: DistrictReport
    quarter: int
    rows: list[tuple[str, str]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    message_th: str = ""
    message_en: str = ""


def signers(raw: RawWorkbook) -> tuple[list[str], list[tuple[str, str]]]:
    """Distinct "name (position)" of the indicator sheets' signature blocks, and the (sheet, name)
    of every signature cell left blank."""
    seen: list[str] = []
    blank: list[tuple[str, str]] = []
    for sheet, cells in raw.sheets.items():
        got = {}
        for name in SIGNATURE:
            cell = cells.get(name)
            if cell is None or cell.blank:
                blank.append((sheet, name))
            else:
                got[name] = _text(cell.raw)
        if "signer_name" in got:
            who = f"{got['signer_name']} ({got.get('signer_position', '')})".replace(" ()", "")
            if who not in seen:
                seen.append(who)
    return seen, blank


def sign(raw: RawWorkbook, quarter: int, *, now: dt.datetime | None = None,
         catalog: Catalog | None = None) -> SignResult:
    """The full check for ``quarter``, then the stamp rows, or the refusal with every reason."""
    from .form import load_spec
    from .problems import Location, problem
    from .validate import evaluate

    spec = load_spec()
    report = evaluate(raw, catalog=catalog, quarter=quarter)
    result = SignResult(ok=False, report=report, quarter=quarter)
    if not report.readable or report.meta is None:
        result.problems = list(report.problems.problems)
        result.message_th = ("แฟ้มนี้ไม่ใช่แบบรายงานของ kpi-xl จึงยืนยันส่งรายงานไม่ได้ — ใช้แฟ้มที่สำนักงานส่งให้")
        result.message_en = "not a kpi-xl workbook: it cannot be signed off — use the workbook head office sent"
        return result
    allow = _allows_errors(report)
    errors = [p for p in report.problems.problems if p.is_error]
    who, blank = signers(raw)
    missing = []
    for sheet, name in blank:
        cell = raw.sheets[sheet].get(name)
        fs = spec.fields[name]
        missing.append(problem("KPI-E702", Location(file=raw.file, sheet=sheet, cell=cell.cell if cell else None,
                                                    name=name), field_th=fs.label_th, field_en=fs.label_en))
    if (errors and not allow) or missing:
        result.problems = ([] if allow else errors) + missing
        lines = [p.message_th for p in result.problems[:SHOWN_ERRORS]]
        more = len(result.problems) - len(lines)
        head = problem("KPI-E701", Location(file=raw.file), count=len(result.problems), quarter=quarter)
        result.problems.insert(0, head)
        result.message_th = "\n".join([head.message_th, *lines] + ([f"… และอีก {more} รายการ"] if more > 0 else []))
        result.message_en = head.message_en
        return result
    cells = contract_cells(raw, spec)
    when = now or dt.datetime.now(BANGKOK)
    cell_json = json.dumps(digests(cells), ensure_ascii=False, separators=(",", ":"))
    parts = [cell_json[i:i + CHUNK] for i in range(0, len(cell_json), CHUNK)] or [""]
    rows = [
        (f"{PREFIX}quarter", str(quarter)),
        (f"{PREFIX}signer", "; ".join(who)),
        (f"{PREFIX}time", bangkok_text(when)),
        (f"{PREFIX}errors", str(len(errors))),
        (f"{PREFIX}content_hash", content_hash(cells)),
        (f"{PREFIX}cells_parts", str(len(parts))),
        *[(f"{PREFIX}cells_{i}", part) for i, part in enumerate(parts, start=1)],
    ]
    rows.append((f"{PREFIX}checksum", stamp_checksum(rows)))
    result.ok, result.rows = True, rows
    result.message_th = (f"ยืนยันส่งรายงานไตรมาสที่ {quarter} แล้ว เมื่อ {bangkok_text(when)} โดย {'; '.join(who)}"
                         + (f" (ยังมีข้อผิดพลาด {len(errors)} รายการ ซึ่งทะเบียนตัวชี้วัดอนุญาตให้ส่งได้)" if errors else "")
                         + "\nบันทึกแฟ้มแล้วส่งให้สำนักงาน หากแก้ไขข้อมูลหลังจากนี้ ต้องกดยืนยันส่งรายงานอีกครั้ง")
    result.message_en = (f"signed off for quarter {quarter} at {when.astimezone(BANGKOK):%Y-%m-%d %H:%M} (Bangkok); "
                         "save the file and send it; after any change, sign off again")
    return result


def _allows_errors(report: DistrictReport) -> bool:
    """The workbook's own catalog (embedded; the same head office built it from) decides."""
    try:
        return bool(json.loads(report.meta.catalog_json).get("submit_with_errors", False))  # type: ignore[union-attr]
    except (ValueError, AttributeError):
        return False


# ---------------------------------------------------------------------------------------------
# The command's writer (macro-free path): a signed copy, never the input.


def default_output(src: Path, quarter: int) -> Path:
    return src.with_name(f"{src.stem}_signed_Q{quarter}{src.suffix}")


def submit_file(src: str | Path, quarter: int, *, out: str | Path | None = None, now: dt.datetime | None = None,
                catalog: Catalog | None = None, overwrite: bool = False) -> tuple[SignResult, Path | None]:
    """``kpi-xl submit``: check ``src`` for ``quarter`` and, when it may be signed, write a signed
    copy (``<name>_signed_Q<q>.xlsx`` beside it unless ``out``) with openpyxl, macros kept. The
    output path is checked before any work (:func:`kpi_xl.files.check_output`); an existing file is
    replaced only with ``overwrite`` (KPI-E608): a mistyped ``--out`` may name another workbook."""
    from .files import check_output
    from .problems import KpiError, Location, problem
    from .reader import read_workbook

    src = Path(src)
    dst = check_output(Path(out) if out is not None else default_output(src, quarter), inputs=[src],
                       suffixes=(".xlsx", ".xlsm"))
    if dst.exists() and not overwrite:
        raise KpiError([problem("KPI-E608", Location(), option="--out", path=str(dst))])
    raw = read_workbook(src)
    result = sign(raw, quarter, now=now, catalog=catalog)
    if not result.ok:
        return result, None
    write_stamp(src, dst, raw.meta, result.rows)
    return result, dst


def write_stamp(src: Path, dst: Path, meta: dict[str, Cell], rows: list[tuple[str, str]]) -> Path:
    """Copy ``src`` to ``dst`` with the stamp rows on the metadata sheet, every value as text."""
    import openpyxl

    from .form import load_spec
    from .keep_vba import save_workbook

    if src.resolve() == dst.resolve():
        raise ValueError(f"จะไม่เขียนทับไฟล์ต้นฉบับ {src} / refusing to overwrite the source {src}")
    keep_vba = src.suffix.lower() == ".xlsm"
    book = openpyxl.load_workbook(src, keep_vba=keep_vba)
    ws = book[load_spec().meta_sheet]
    first, blank = placement(meta, rows)
    for i, (key, value) in enumerate(rows):
        for col, text in ((1, key), (2, value)):
            cell = ws.cell(row=first + i, column=col)
            cell.value = text
            cell.data_type = "s"  # a signer named "=..." stays text, never a formula
    for i in range(blank):
        for col in (1, 2):
            ws.cell(row=first + len(rows) + i, column=col).value = None
    return save_workbook(book, dst, keep_vba=keep_vba)
