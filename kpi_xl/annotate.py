"""``kpi-xl validate --annotate OUT``: a marked *copy* of a district workbook, written with openpyxl.

Head office uses it where the button cannot run (macros blocked, the ``.xlsx`` variant): the copy
carries exactly the marks the button would leave — the same :class:`~kpi_xl.marks.MarkPlan` — so
the district sees the same red and yellow cells, the same Thai notes, the same scores and the same
ผลการตรวจสอบ list, whichever side ran the check.

Promises kept here:

* the input is never modified (``dst`` must differ from ``src``; the copy is written atomically);
* an ``.xlsm`` stays a working macro workbook: openpyxl is asked to keep the VBA project, which
  it copies byte for byte, and the buttons' drawings with their macro links (tests check both).
  openpyxl 3.1 keeps only ``vmlDrawing1.vml``…``vmlDrawing9.vml`` (its pattern matches one digit),
  so a workbook with ten or more button sheets lost its later buttons and kept dangling
  relationships; :func:`save_keeping_vba` saves with that pattern fixed;
* marks from an earlier run (the button's, or an earlier ``--annotate``) are reverted first, using
  the same hidden undo list, so re-annotating never stacks marks.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .files import atomic_path
from .keep_vba import save_keeping_vba
from .limits import MAX_MEMBER_BYTES
from .marks import (
    FILL_NONE,
    FILL_UNKNOWN,
    MARKS_SHEET,
    NOTE_AUTHOR,
    RESULTS_WIDTHS,
    MarkPlan,
    MarkRecord,
    parse_records,
    plan_marks,
    records_grid,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from openpyxl.workbook.workbook import Workbook
    from openpyxl.worksheet.worksheet import Worksheet

    from .model import DistrictReport

__all__ = ["annotate", "annotate_workbook", "clear_workbook", "save_keeping_vba"]

FONT = "TH Sarabun New"
FONT_SIZE = 16
NOTE_WIDTH, NOTE_LINE = 300, 22  # px (VML box): wide enough for one Thai sentence per line


def annotate(src: str | Path, dst: str | Path, report: DistrictReport, *, plan: MarkPlan | None = None) -> Path:
    """Write ``src`` with ``report``'s marks to ``dst`` (never over ``src``); returns ``dst``."""
    import openpyxl

    src, dst = Path(src), Path(dst)
    if src.resolve() == dst.resolve() or (dst.exists() and os.path.samefile(src, dst)):
        raise ValueError(f"จะไม่เขียนทับแฟ้มต้นฉบับ {src} / refusing to write over the input {src}")
    keep_vba = src.suffix.lower() == ".xlsm"
    book = _load(openpyxl, src, keep_vba)
    annotate_workbook(book, plan or plan_marks(report))
    with atomic_path(dst) as tmp:
        save_keeping_vba(book, tmp)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp's 0600 would hide the copy from colleagues
    return dst


# XML 1.0 forbids these; calamine reads them, openpyxl's parser and writer refuse them.
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_CONTROL_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _unopenable(item: Any) -> Exception:
    """The error for a workbook openpyxl cannot open: a :class:`~kpi_xl.reader.ReadError` (its one
    coded, bilingual problem), which ``cli.main`` prints like any other library error (exit 2)."""
    from .reader import ReadError

    return ReadError(item)


def _load(openpyxl: Any, src: Path, keep_vba: bool) -> Workbook:
    """The workbook, opened by openpyxl. A package ``validate`` accepts can still trip openpyxl: a
    raw control byte in a narrative (Excel writes ``_x0001_``; a hand-made file may not) is not
    well-formed XML. Such bytes are dropped from an in-memory copy (the input is never touched);
    anything else openpyxl cannot open, or a DTD, is one located, coded problem, not a traceback."""
    from .problems import Location, problem

    data = src.read_bytes()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            parts = {info.filename: zf.read(info) for info in zf.infolist()
                     if info.filename.endswith((".xml", ".rels", ".vml")) and info.file_size <= MAX_MEMBER_BYTES}
    except (zipfile.BadZipFile, OSError, ValueError, RuntimeError, zlib.error) as exc:
        raise _unopenable(problem("KPI-E100", Location(file=str(src)), detail=f"{type(exc).__name__}: {exc}"[:200])) from exc
    for name, xml in parts.items():
        if b"<!DOCTYPE" in xml or b"<!ENTITY" in xml:
            raise _unopenable(problem("KPI-E116", Location(file=str(src)), part=name))
    dirty = {name for name, xml in parts.items() if _CONTROL.search(xml)}
    source: Any = src
    if dirty:
        buf = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(data)) as zf, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
            for info in zf.infolist():
                body = _CONTROL.sub(b"", parts[info.filename]) if info.filename in dirty else zf.read(info)
                out.writestr(info, body, compress_type=zipfile.ZIP_DEFLATED)
        source = io.BytesIO(buf.getvalue())
    try:
        return openpyxl.load_workbook(source, keep_vba=keep_vba, keep_links=True)
    except Exception as exc:  # noqa: BLE001 - whatever openpyxl trips on, the user gets a located code
        detail = f"openpyxl: {type(exc).__name__}: {exc}".splitlines()[0][:200]
        raise _unopenable(problem("KPI-E100", Location(file=str(src)), detail=detail)) from exc


def _text(cell: Any, value: Any) -> Any:
    """Put ``value`` into ``cell`` as data: a string is always text (openpyxl would turn "=…" into a
    formula: a narrative like ``=cmd|' /C calc'!A0`` must stay words), without control bytes."""
    if isinstance(value, str):
        cell.value = _CONTROL_TEXT.sub("", value)
        cell.data_type = "s"
    else:
        cell.value = value
    return cell


def annotate_workbook(book: Workbook, plan: MarkPlan) -> list[MarkRecord]:
    """Apply ``plan`` to an open openpyxl workbook (previous marks reverted first)."""
    from openpyxl.comments import Comment
    from openpyxl.styles import PatternFill

    restored = clear_workbook(book)
    records: list[MarkRecord] = []
    for mark in plan.marks:
        if mark.sheet not in book.sheetnames:
            continue
        cell = book[mark.sheet][mark.cell]
        original = restored.get((mark.sheet, mark.cell))
        if original is None:
            original = _fill_code(cell.fill)
        cell.fill = PatternFill(fill_type="solid", fgColor=_argb(mark.fill), bgColor=_argb(mark.fill))
        noted = cell.comment is None  # a note someone else wrote stays untouched
        if noted:
            note = _CONTROL_TEXT.sub("", mark.note)
            lines = note.count("\n") + 1 + len(note) // 60
            cell.comment = Comment(note, NOTE_AUTHOR, height=max(80, NOTE_LINE * (lines + 1)), width=NOTE_WIDTH)
        records.append(MarkRecord("fill", mark.sheet, mark.cell, original, noted))
    for write in plan.writes:
        if write.sheet not in book.sheetnames:
            continue
        cell = book[write.sheet][write.cell]
        before = cell.value
        _text(cell, write.value)
        restore = before if isinstance(before, str) and before.startswith("=") else write.restore
        if restore:
            records.append(MarkRecord("value", write.sheet, write.cell, restore))
    _write_records(book, records)  # the same sheet order as the button leaves: undo list, then results
    _write_results(book, plan)
    return records


def clear_workbook(book: Workbook) -> dict[tuple[str, str], str]:
    """Revert the recorded marks and empty the results sheet; returns each cell's restored fill code."""
    from .form import load_spec

    restored: dict[tuple[str, str], str] = {}
    if MARKS_SHEET in book.sheetnames:
        ws = book[MARKS_SHEET]
        records = parse_records(list(ws.iter_rows(min_row=2, values_only=True)))
        for rec in records:
            if rec.sheet not in book.sheetnames:
                continue
            cell = book[rec.sheet][rec.cell]
            if rec.kind == "fill":
                cell.fill = _fill_from_code(rec.original)
                restored[(rec.sheet, rec.cell)] = rec.original
                if rec.noted and cell.comment is not None and cell.comment.author == NOTE_AUTHOR:
                    cell.comment = None
            elif rec.kind == "value":
                cell.value = rec.original
        _empty(ws)
    results = load_spec().sheets["results"]
    if results in book.sheetnames:
        _empty(book[results])
    return restored


# ---------------------------------------------------------------------------------------------


def _argb(hex_rgb: str) -> str:
    return "FF" + hex_rgb.lstrip("#").upper()


def _fill_code(fill: Any) -> str:
    """openpyxl fill → the undo list's text: "" none, "#RRGGBB", "theme:N:tint", "indexed:N", "?"."""
    if fill is None or fill.fill_type is None:
        return FILL_NONE
    if fill.fill_type != "solid":
        return FILL_UNKNOWN
    color = fill.fgColor
    if color.type == "rgb" and isinstance(color.rgb, str):
        return "#" + color.rgb[-6:].upper()
    if color.type == "theme":
        return f"theme:{color.theme}:{color.tint}"
    if color.type == "indexed":
        return f"indexed:{color.indexed}"
    return FILL_UNKNOWN


def _fill_from_code(code: str) -> Any:
    from openpyxl.styles import PatternFill
    from openpyxl.styles.colors import Color

    if code.startswith("#") and len(code) == 7:
        return PatternFill(fill_type="solid", fgColor=_argb(code), bgColor=_argb(code))
    if code.startswith("theme:"):
        _, theme, tint = code.split(":")
        return PatternFill(fill_type="solid", fgColor=Color(theme=int(theme), tint=float(tint)))
    if code.startswith("indexed:"):
        return PatternFill(fill_type="solid", fgColor=Color(indexed=int(code.split(":")[1])))
    return PatternFill(fill_type=None)


def _empty(ws: Worksheet) -> None:
    """Every cell of the sheet emptied (values, styles, links); column widths stay."""
    ws._cells.clear()  # noqa: SLF001 - openpyxl has no public "clear this sheet"
    ws._hyperlinks = []  # noqa: SLF001


def _sheet(book: Workbook, name: str, *, hidden: bool) -> tuple[Worksheet, bool]:
    """The sheet emptied (True when it had to be created)."""
    if name in book.sheetnames:
        ws, created = book[name], False
        _empty(ws)
    else:
        ws, created = book.create_sheet(name), True
    ws.sheet_state = "hidden" if hidden else "visible"
    return ws, created


def _write_results(book: Workbook, plan: MarkPlan) -> None:
    from openpyxl.styles import Alignment, Font
    from openpyxl.worksheet.hyperlink import Hyperlink

    ws, created = _sheet(book, plan.results_sheet, hidden=False)
    plain = Font(name=FONT, size=FONT_SIZE)
    bold = Font(name=FONT, size=FONT_SIZE, bold=True)
    link = Font(name=FONT, size=FONT_SIZE, color="FF1F4E79", underline="single")
    wrap = Alignment(wrap_text=True, vertical="top")
    from .template import row_height

    for r, line in enumerate(plan.results_grid(), start=1):
        for c, value in enumerate(line, start=1):
            if value is None:
                continue
            cell = _text(ws.cell(row=r, column=c), value)
            cell.font = bold if (r <= len(plan.header) and c == 1) or r == plan.table_row else plain
            cell.alignment = wrap
        # Neither Excel nor LibreOffice grows a row on open: size it for its longest wrapped text.
        ws.row_dimensions[r].height = row_height(
            [(str(v), w) for v, w in zip(line, RESULTS_WIDTHS, strict=False) if isinstance(v, str)])
    for row, col, item in plan.link_cells():
        cell = ws.cell(row=row, column=col)
        cell.hyperlink = Hyperlink(ref=cell.coordinate, location=item.link.lstrip("#") if item.link else None,
                                   tooltip=f"ไปที่ {item.sheet}!{item.cell}", display=item.cell)
        cell.font = link
    if created:  # a sheet the clerk has seen before keeps the widths they chose
        for letter, width in zip("ABCDEF", RESULTS_WIDTHS, strict=True):
            ws.column_dimensions[letter].width = width
    ws.freeze_panes = ws.cell(row=plan.table_row + 1, column=1)


def _write_records(book: Workbook, records: list[MarkRecord]) -> None:
    ws, _ = _sheet(book, MARKS_SHEET, hidden=True)
    for r, line in enumerate(records_grid(records), start=1):  # not append(): it remembers old rows
        for c, value in enumerate(line, start=1):
            _text(ws.cell(row=r, column=c), value)
