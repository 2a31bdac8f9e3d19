"""The Excel button: RunPython targets behind ตรวจสอบข้อมูล (``KpiValidate``) and ล้างเครื่องหมาย.

``macros/KpiMacros.bas`` runs ``import kpi_xl.excel; kpi_xl.excel.validate()`` in a fresh Python on
every press, so this module is built for three things:

* **The same answer as head office.** The open workbook's contract cells are fetched through the
  workbook's own defined names into the same :class:`~kpi_xl.model.RawWorkbook` the file reader
  (:mod:`kpi_xl.reader`) builds — same names kept, same blanks, dates and error texts — and
  :func:`kpi_xl.validate.evaluate` runs on it. The marks come from :func:`kpi_xl.marks.plan_marks`,
  the plan ``kpi-xl validate --annotate`` applies with openpyxl.
* **Few round trips.** Each call into Excel crosses a process boundary. Values are read as one
  rectangle per sheet (A1 to the last named cell; the metadata sheet's used range), names once;
  the results sheet and the undo list are written as one rectangle each.
* **Speed and no tracebacks.** Nothing heavy is imported at module level (xlwings, pydantic, the
  rules are imported when the button runs; pandas, openpyxl and XlsxWriter never on this path).
  Every failure is caught at the entry points, logged with its traceback under
  ``%LOCALAPPDATA%\\kpi_xl\\logs`` and shown as one Thai message box that says what to do.

Testing without Excel: xlwings' remote engine (``xw.Book(json=payload)``, the engine behind
xlwings Server) implements the same Book/Sheet/Range API on Linux; :func:`remote_payload` turns a
real workbook file into the payload Excel's add-in would send. What that cannot show (COM,
message boxes, sheet protection, notes in desktop Excel) is listed in ``docs/it-guide.md``.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import re
import sys
import tempfile
import time
import traceback
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

# The button's interpreter lives for one press (< 1 s). Everything imported before this module —
# the standard library and xlwings, ~30,000 objects — lives until it ends, yet CPython's cyclic
# collector walks all of it again on every full collection; one such pass fell inside the read
# and cost ~15 ms of a press on a PC without pandas (with pandas installed, its many objects
# postpone the pass past the press, which is why reading looked twice as fast there). Freezing
# moves those objects out of the collector's sight (constant time, nothing is freed or kept that
# would not be); objects made later are collected as usual. In another process that imports this
# module (tests, ``kpi-xl doctor``) it only exempts what was already imported.
gc.freeze()

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .marks import MarkPlan, MarkRecord
    from .model import DistrictReport, RawWorkbook
    from .names import ContractName
    from .submit import SignResult

__all__ = [
    "validate", "submit", "clear_marks", "run_validate", "run_submit", "run_clear", "read_book", "apply_plan", "clear_book",
    "log_dir", "remote_payload", "warn_version", "workbook_vba_version",
]

TITLE = "kpi-xl ตรวจสอบข้อมูล"
KPI_CODE = "kpi_code"
LOG_ENV = "KPI_XL_LOG_DIR"
PASSWORD_KEY = "kpi_sheet_password"  # optional row of the xlwings.conf sheet, for --password workbooks
_BUILTIN_NAMES = {"print_area", "print_titles", "_filterdatabase", "criteria", "extract", "consolidate_area"}
_REFERS_TO = re.compile(
    r"""^=\s*(?:'((?:[^']|'')+)'|([^'!:\[\]]+))!\$?([A-Za-z]{1,3})\$?([0-9]{1,7})(?::\$?[A-Za-z]{1,3}\$?[0-9]{1,7})?\s*$"""
)


class ButtonError(Exception):
    """A failure the clerk can act on (not a bug): its Thai text is shown as it is."""

    def __init__(self, message_th: str, message_en: str):
        super().__init__(message_en)
        self.message_th = message_th


# ---------------------------------------------------------------------------------------------
# Entry points (RunPython targets). Nothing escapes them.


def validate(book: Any = None) -> None:
    """ตรวจสอบข้อมูล: check the calling workbook, mark it, and say the result in one message box."""
    _run("validate", _validate_message, book)


def submit(book: Any = None) -> None:
    """ยืนยันส่งรายงาน: the full check for the cover's quarter, marks as :func:`validate` makes them,
    and, when nothing stops it, the sign-off stamp on the hidden metadata sheet (kpi_xl.signoff)."""
    _run("submit", _submit_message, book)


def clear_marks(book: Any = None) -> None:
    """ล้างเครื่องหมาย: remove what :func:`validate` added; the clerk's own formatting stays."""
    _run("clear_marks", _clear_message, book)


def _run(what: str, action: Any, book: Any) -> None:
    """One press, start to message box, with the cyclic garbage collector paused: a press leaves
    next to no garbage in cycles (a full collection after one finds ~120 objects), yet importing
    the engine (pydantic builds its models' schemas) and reading ~700 cells set off ~100
    collections of the young generations, ~10 ms. The previous state comes back afterwards, for a
    process (tests, a console) that goes on after the press."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        _press(what, action, book)
    finally:
        if was_enabled:
            gc.enable()


def _press(what: str, action: Any, book: Any) -> None:
    started = time.perf_counter()
    try:
        if book is None:
            import xlwings as xw

            book = xw.Book.caller()
    except Exception:  # noqa: BLE001 - no workbook to talk to: log it and use the OS's message box
        _message_box_without_excel(_failure_text(_log_exception(what)))
        return
    try:
        warn_version(book)
    except Exception:  # noqa: BLE001 - the warning is advice; its failure must not stop the check
        _log_exception(f"{what} version check")
    try:
        message, mode = action(book)
        _log(f"{what} ok in {time.perf_counter() - started:.3f}s: {_book_name(book)} — {message.splitlines()[0]}")
    except ButtonError as exc:  # explained, not a bug: say what to do
        message, mode = exc.message_th, "critical"
        _log(f"{what}: {_book_name(book)}: {exc}")
    except Exception as exc:  # noqa: BLE001 - the clerk must never see a traceback
        problems = getattr(exc, "problems", None)
        if problems:  # a located, explained problem (KpiError): show it, it is not a bug
            message, mode = "\n".join(p.message_th for p in problems[:10]), "critical"
            _log(f"{what}: {_book_name(book)}: {exc}")
        else:
            message, mode = _failure_text(_log_exception(what)), "critical"
    try:
        book.app.alert(message, title=TITLE, buttons="ok", mode=mode)
    except Exception:  # noqa: BLE001 - e.g. Excel busy in a cell edit
        _log_exception(f"{what} alert")
        _message_box_without_excel(message)


def workbook_vba_version(book: Any) -> str | None:
    """The xlwings VBA module version the workbook was built with (its ``xlwings.conf`` row), or
    None for workbooks built before the row existed."""
    from .xlcompat import VBA_VERSION_KEY

    conf = _sheet(book, "xlwings.conf")
    if conf is None:
        return None
    for line in _used_grid(conf):
        if line and str(line[0] or "").strip().lower() == VBA_VERSION_KEY and len(line) > 1 and line[1]:
            return str(line[1]).strip()
    return None


def warn_version(book: Any) -> str | None:
    """Before anything else: tell the clerk (Thai, English beside) when this PC's xlwings differs
    from the workbook's VBA module, so a failure that follows has its likely cause on screen.
    Returns the message shown, or None."""
    import xlwings as xw

    from .xlcompat import version_message

    text = version_message(xw.__version__, workbook_vba_version(book))
    if text is None:
        return None
    message = f"{text[0]}\n\n{text[1]}"
    _log(f"version mismatch: {text[1]}")
    book.app.alert(message, title=TITLE, buttons="ok", mode="info")
    return message


def _validate_message(book: Any) -> tuple[str, str]:
    report, plan = run_validate(book)
    if plan is None:
        lines = ["ตรวจสอบไม่ได้: แฟ้มนี้ไม่ใช่แบบรายงานที่สร้างจาก kpi-xl หรือข้อมูลกำกับแฟ้มเสียหาย"]
        lines += [p.message_th for p in list(report.problems)[:5]]
        lines.append("ใช้แฟ้มแบบรายงานที่ส่วนกลางส่งให้ แล้วกดปุ่มอีกครั้ง")
        return "\n".join(lines), "critical"
    lines = [plan.summary_th]
    if report.district_score is not None:
        lines.append(f"คะแนนรวมถ่วงน้ำหนักของเขต {report.district_score:.2f}")
    if plan.rows:
        lines.append(f"ช่องที่ต้องแก้มีพื้นสีแดง (คำเตือนสีเหลือง) และมีบันทึกอธิบาย ดูรายการทั้งหมดในแผ่นงาน {plan.results_sheet}")
    return "\n".join(lines), ("critical" if plan.errors else "info")


def _submit_message(book: Any) -> tuple[str, str]:
    result = run_submit(book)
    return result.message_th, ("info" if result.ok else "critical")


def _clear_message(book: Any) -> tuple[str, str]:
    records = run_clear(book)
    cells = sum(1 for r in records if r.kind == "fill")
    return f"ล้างเครื่องหมายการตรวจสอบแล้ว {cells} ช่อง (รูปแบบที่ท่านตั้งไว้เองยังอยู่ครบ)", "info"


# ---------------------------------------------------------------------------------------------
# The work, without the safety net (tests and the bench call these).


def run_validate(book: Any, *, now: dt.datetime | None = None) -> tuple[DistrictReport, MarkPlan | None]:
    """Read, evaluate, plan, write back. ``plan`` is None when the workbook is not a kpi-xl one."""
    from .marks import plan_marks
    from .validate import evaluate

    raw = read_book(book)
    report = evaluate(raw)
    if not report.readable or report.meta is None:
        return report, None
    plan = plan_marks(report, now=now)
    apply_plan(book, plan)
    return report, plan


def run_submit(book: Any, *, now: dt.datetime | None = None) -> SignResult:
    """The same engine as ``kpi-xl submit`` (:func:`kpi_xl.submit.sign`), on the open workbook:
    read, check for the cover's quarter, mark, and write the stamp rows when it may be signed."""
    from .marks import plan_marks
    from .rules import read_report_quarter
    from .signoff import placement
    from .submit import sign

    raw = read_book(book)
    quarter = read_report_quarter(raw)
    if quarter is None and raw.meta:
        raise ButtonError("ยังไม่ได้เลือกไตรมาสที่รายงานในแผ่นงานคำชี้แจง เลือกไตรมาสก่อน แล้วกดยืนยันส่งรายงานอีกครั้ง",
                          "no reporting quarter chosen on the cover sheet: choose it, then sign off again")
    result = sign(raw, quarter or 4)
    if not result.report.readable or result.report.meta is None:
        return result
    apply_plan(book, plan_marks(result.report, now=now))
    if result.ok:
        from .form import load_spec

        sheet = _sheet(book, load_spec().meta_sheet)
        if sheet is None:  # pragma: no cover - read_book found the metadata through this sheet
            raise ButtonError("ไม่พบแผ่นงานข้อมูลกำกับแฟ้ม ใช้แฟ้มที่ส่วนกลางส่งให้", "metadata sheet missing")
        first, blank = placement(raw.meta, result.rows)
        # A leading apostrophe keeps every value text in Excel ("2" stays text, a hash never a number).
        grid = [["'" + key, "'" + value] for key, value in result.rows] + [[None, None]] * blank
        with _Protection(book).off(sheet):
            sheet.range((first, 1), (first + len(grid) - 1, 2)).value = grid
    return result


def run_clear(book: Any) -> list[MarkRecord]:
    """Revert every recorded mark and empty the results sheet; returns what was reverted."""
    from .form import load_spec

    records, _ = clear_book(book, results_sheet=load_spec().sheets["results"])
    return records


# ---------------------------------------------------------------------------------------------
# Reading: names once, one rectangle of values per sheet.


def _unquote(sheet: str) -> str:
    sheet = sheet.strip()
    if len(sheet) >= 2 and sheet[0] == sheet[-1] == "'":
        return sheet[1:-1].replace("''", "'")
    return sheet


def _parse_refers_to(text: Any) -> tuple[str, str] | None:
    """``='KPI-05'!$B$3`` → (``KPI-05``, ``B3``); None for #REF!, constants, formulas, other files."""
    match = _REFERS_TO.match(text) if isinstance(text, str) else None
    if match is None:
        return None
    quoted, bare, col, row = match.groups()
    if int(row) == 0:
        return None
    return (quoted.replace("''", "'") if quoted is not None else bare.strip()), f"{col.upper()}{int(row)}"


def _book_names(book: Any, sheet_names: Sequence[str]) -> list[ContractName]:
    """Every defined name, Excel's built-ins left out; ``target`` says when it is not one plain
    cell of this workbook, exactly as :mod:`kpi_xl.reader` does for the file (KPI-E115)."""
    from .names import ContractName

    sheets = set(sheet_names)
    out: list[ContractName] = []
    for item in book.names:
        full, refers_to = item.name, item.refers_to  # two calls per name, nothing more
        scope: str | None = None
        local = full
        if "!" in full:
            prefix, local = full.rsplit("!", 1)
            scope = _unquote(prefix)
        low = local.lower()
        if not local or low.startswith("_xl") or low in _BUILTIN_NAMES or (scope is not None and scope not in sheets):
            continue
        ref = _parse_refers_to(refers_to)
        text = str(refers_to or "").lstrip("=").strip()
        if ref is None:
            out.append(ContractName(local, scope, "", "", (text or "(ว่าง / empty)")[:80]))
        elif ":" in text.rsplit("!", 1)[-1]:  # a range: Excel sheet names cannot hold ":"
            out.append(ContractName(local, scope, ref[0], ref[1], text[:80]))
        elif ref[0] not in sheets:
            out.append(ContractName(local, scope, ref[0], ref[1], f"'{ref[0]}'!{ref[1]}"))
        else:
            out.append(ContractName(local, scope, ref[0], ref[1], ""))
    return out


def _normal(value: Any) -> Any:
    """What calamine gives for the same cell: blanks None, numbers float, dates at midnight ``date``."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, dt.datetime):
        value = value.replace(tzinfo=None)
        return value.date() if value.time() == dt.time(0) else value
    return value


def _grid(sheet: Any, rows: int, cols: int) -> list[list[Any]]:
    if rows < 1 or cols < 1:
        return []
    rng = sheet.range((1, 1), (rows, cols))
    values = rng.options(ndim=2, err_to_str=True, empty=None).value
    return [list(line) for line in values or []]


def _used_grid(sheet: Any) -> list[list[Any]]:
    """The sheet from A1 to its used range's last cell (so A1 is [0][0] whatever Excel reports)."""
    last = sheet.used_range.last_cell
    return _grid(sheet, last.row, last.column)


def _meta_grid(sheet: Any) -> list[list[Any]]:
    """The metadata sheet's keys and values (columns A:B) from row 1, as far as the file reader reads
    them (kpi_xl.limits.MAX_META_ROWS): a stray entry at XFD1048576 on the hidden sheet would
    otherwise make one read of 17 billion cells through Excel."""
    from .limits import MAX_META_ROWS

    last = sheet.used_range.last_cell
    return _grid(sheet, min(last.row, MAX_META_ROWS), min(last.column, 2))


def _at(grid: list[list[Any]], row: int, col: int) -> Any:
    """The cell at 1-based (row, col) of a grid read from A1, as calamine would give it."""
    if row > len(grid) or col > len(grid[row - 1]):
        return None
    return _normal(grid[row - 1][col - 1])


def read_book(book: Any) -> RawWorkbook:
    """The open workbook's contract cells as the file reader would give them for the saved file."""
    from .form import load_spec
    from .model import Cell, RawWorkbook
    from .names import cell_rc, contract_names

    spec = load_spec()
    meta_sheet = spec.meta_sheet
    sheet_names = [s.name for s in book.sheets]
    names = _book_names(book, sheet_names)
    indicator_sheets = {n.scope for n in names if n.name == KPI_CODE and n.scope is not None}
    # The same rule as the file reader: a contract name pointing elsewhere is KPI-E115, not read
    # (and never sizes the rectangle read below: a name on XFD1048576 is refused first).
    used, misdirected = contract_names(tuple(names), indicator_sheets, set(sheet_names), _book_name(book))

    extent: dict[str, tuple[int, int]] = {}
    positions = [cell_rc(n.cell) for n in used]  # once per name: ~700 of them
    for n, (row, col) in zip(used, positions, strict=True):
        r0, c0 = extent.get(n.sheet, (0, 0))
        extent[n.sheet] = (max(r0, row), max(c0, col))
    grids: dict[str, list[list[Any]]] = {}
    for sheet in sheet_names:
        if sheet == meta_sheet:
            grids[sheet] = _meta_grid(book.sheets[sheet])
        elif sheet in extent:
            grids[sheet] = _grid(book.sheets[sheet], *extent[sheet])

    workbook_cells: dict[str, Cell] = {}
    sheets: dict[str, dict[str, Cell]] = {s: {} for s in sheet_names if s in indicator_sheets}
    for n, (row, col) in zip(used, positions, strict=True):
        cell = Cell(name=n.name, sheet=n.sheet, cell=n.cell, raw=_at(grids[n.sheet], row, col))
        if n.scope is None:
            workbook_cells[n.name] = cell
        else:
            sheets[n.scope][n.name] = cell

    remote = _is_remote(book)
    meta: dict[str, Cell] = {}
    for r, line in enumerate(grids.get(meta_sheet, ()), start=1):
        key = _normal(line[0]) if line else None
        if key is None:
            continue
        if isinstance(key, float) and key.is_integer():
            key = int(key)
        raw = line[1] if len(line) > 1 else None
        if remote and isinstance(raw, dt.datetime):
            # The remote engine turns any ISO-8601 *text* into a datetime (its wire format for dates);
            # metadata values are always text, written by the builder as YYYY-MM-DDTHH:MM:SSZ.
            raw = raw.strftime("%Y-%m-%dT%H:%M:%SZ")
        raw = _normal(raw)
        meta[str(key)] = Cell(name=str(key), sheet=meta_sheet, cell=f"B{r}", raw=raw)

    return RawWorkbook(file=_book_name(book), sheet_names=sheet_names, meta=meta,
                       workbook_cells=workbook_cells, sheets=sheets, modified=None, problems=misdirected)


def _book_name(book: Any) -> str:
    try:
        return str(book.fullname)
    except Exception:  # noqa: BLE001 - a closed or half-open workbook still needs a label in the log
        return "?"


# ---------------------------------------------------------------------------------------------
# Writing the plan through xlwings.


def _is_remote(book: Any) -> bool:
    return book.app.engine.name == "remote"


def _sheet(book: Any, name: str) -> Any | None:
    for sheet in book.sheets:
        if sheet.name == name:
            return sheet
    return None


def _hex(color: Any) -> str:
    if color is None:
        return ""
    if isinstance(color, str):
        return color.upper() if color.startswith("#") else "#" + color.upper()
    red, green, blue = color
    return f"#{red:02X}{green:02X}{blue:02X}"


def _read_fill(rng: Any) -> str:
    from .marks import FILL_UNKNOWN

    try:
        return _hex(rng.color)
    except NotImplementedError:  # the remote engine cannot read colours synchronously
        return FILL_UNKNOWN


def _set_fill(rng: Any, original: str) -> None:
    rng.color = original if original.startswith("#") else None  # "", "?" and theme fills → no fill


class _Protection:
    """Desktop Excel only: the builder protects every sheet (formats and notes locked), so marks are
    written with the sheet unprotected for a moment and the same protection put back."""

    FLAGS = ("AllowFormattingCells", "AllowFormattingColumns", "AllowFormattingRows", "AllowInsertingColumns",
             "AllowInsertingRows", "AllowInsertingHyperlinks", "AllowDeletingColumns", "AllowDeletingRows",
             "AllowSorting", "AllowFiltering", "AllowUsingPivotTables")

    def __init__(self, book: Any):
        self.book = book
        self.remote = _is_remote(book)
        self._password: str | None = None

    def password(self) -> str:
        """The sheets' password: none by default; a ``--password`` build may add a conf row for it."""
        if self._password is None:
            self._password = os.environ.get("KPI_XL_SHEET_PASSWORD", "")
            conf = _sheet(self.book, "xlwings.conf")
            if conf is not None and not self._password:
                for line in _used_grid(conf):
                    if line and str(line[0] or "").strip().lower() == PASSWORD_KEY:
                        self._password = str(line[1] or "") if len(line) > 1 else ""
        return self._password

    @contextmanager
    def off(self, sheet: Any) -> Iterator[None]:
        if self.remote:
            yield
            return
        api = sheet.api  # pragma: no cover - COM, see docs/it-guide.md
        if not api.ProtectContents:  # pragma: no cover
            yield
            return
        keep = {flag: getattr(api.Protection, flag) for flag in self.FLAGS}  # pragma: no cover
        drawing, scenarios, selection = api.ProtectDrawingObjects, api.ProtectScenarios, api.EnableSelection
        try:  # pragma: no cover
            api.Unprotect("")
        except Exception:  # noqa: BLE001  # pragma: no cover
            try:
                api.Unprotect(self.password())
            except Exception as exc:  # noqa: BLE001
                raise ButtonError(
                    f"แผ่นงาน {sheet.name} ถูกป้องกันด้วยรหัสผ่าน ระบบจึงทำเครื่องหมายไม่ได้\n"
                    f"ให้เจ้าหน้าที่ไอทีเพิ่มแถว {PASSWORD_KEY} ในแผ่นงานซ่อน xlwings.conf "
                    "หรือขอแฟ้มที่สร้างโดยไม่ตั้งรหัสผ่านจากส่วนกลาง",
                    f"sheet {sheet.name} is protected with a password; add a {PASSWORD_KEY} row to xlwings.conf",
                ) from exc
        try:  # pragma: no cover
            yield
        finally:  # pragma: no cover
            api.Protect(self.password() if self._password else "", drawing, True, scenarios, False, *keep.values())
            api.EnableSelection = selection


def _add_link(book: Any, rng: Any, sheet: str, cell: str, text: str) -> None:
    from .marks import sheet_ref

    if _is_remote(book):
        rng.add_hyperlink("#" + sheet_ref(sheet, cell), text, f"ไปที่ {sheet}!{cell}")
        return
    # Desktop Excel: an in-workbook link is Address="" + SubAddress (Microsoft's documented form).
    rng.api.Hyperlinks.Add(Anchor=rng.api, Address="", SubAddress=sheet_ref(sheet, cell),  # pragma: no cover
                           ScreenTip=f"ไปที่ {sheet}!{cell}", TextToDisplay=text)


def _get_or_add(book: Any, name: str, *, hidden: bool) -> Any:
    sheet = _sheet(book, name)
    if sheet is None:
        sheet = book.sheets.add(name=name, after=book.sheets[len(book.sheets) - 1])
    else:
        sheet.clear()
    if hidden and sheet.visible:
        sheet.visible = False
    return sheet


def _write_grid(sheet: Any, grid: list[list[Any]]) -> None:
    if grid:
        sheet.range((1, 1), (len(grid), max(len(r) for r in grid))).value = grid


def _by_sheet(items: Iterable[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for item in items:
        out.setdefault(item.sheet, []).append(item)
    return out


def clear_book(book: Any, *, results_sheet: str | None = None, guard: _Protection | None = None,
               rewrite: bool = True) -> tuple[list[MarkRecord], dict[tuple[str, str], str]]:
    """Revert the recorded marks; returns the records and each filled cell's restored fill."""
    from .marks import MARKS_SHEET, parse_records, records_grid

    marks_sheet = _sheet(book, MARKS_SHEET)
    if marks_sheet is None:
        records = []
    else:
        records = parse_records(_used_grid(marks_sheet)[1:])
    guard = guard or _Protection(book)
    restored: dict[tuple[str, str], str] = {}
    for sheet_name, items in _by_sheet(records).items():
        sheet = _sheet(book, sheet_name)
        if sheet is None:
            continue  # the clerk deleted the sheet: nothing left to revert there
        with guard.off(sheet):
            for rec in items:
                rng = sheet.range(rec.cell)
                if rec.kind == "fill":
                    _set_fill(rng, rec.original)
                    restored[(rec.sheet, rec.cell)] = rec.original
                    if rec.noted and rng.note is not None:
                        rng.note.delete()
                elif rec.kind == "value":
                    rng.formula = rec.original
    if results_sheet is not None:
        sheet = _sheet(book, results_sheet)
        if sheet is not None:
            sheet.clear()
    if marks_sheet is not None and rewrite and records:
        marks_sheet.clear()
        _write_grid(marks_sheet, records_grid([]))
    return records, restored


def apply_plan(book: Any, plan: MarkPlan) -> list[MarkRecord]:
    """Clear the previous run's marks, then write ``plan``: fills, notes, scores, results, undo list."""
    from .marks import MARKS_SHEET, MarkRecord, records_grid
    from .xlcompat import add_note

    guard = _Protection(book)
    try:
        active = book.sheets.active.name
    except Exception:  # noqa: BLE001 - no active sheet (hidden window): nothing to return to
        active = None
    _, restored = clear_book(book, guard=guard, rewrite=False)
    records: list[MarkRecord] = []
    writes = _by_sheet(plan.writes)
    marks = _by_sheet(plan.marks)
    try:
        # Each change is recorded *before* it is made, and the undo list is written even when a
        # write fails half-way (Excel busy, a sheet locked): clear_marks can always take it back.
        for sheet_name in list(dict.fromkeys([*marks, *writes])):
            sheet = _sheet(book, sheet_name)
            if sheet is None:
                continue
            with guard.off(sheet):
                for mark in marks.get(sheet_name, ()):
                    rng = sheet.range(mark.cell)
                    original = restored.get((mark.sheet, mark.cell))
                    if original is None:
                        original = _read_fill(rng)
                    records.append(MarkRecord("fill", mark.sheet, mark.cell, original, False))
                    rng.color = mark.fill
                    if rng.note is None:  # a note the clerk (or the template) wrote stays untouched
                        note = add_note(rng, mark.note)  # Range.add_note, or COM before xlwings 0.37.5
                        records[-1] = MarkRecord("fill", mark.sheet, mark.cell, original, True)
                        if note is not None and not guard.remote:  # pragma: no cover - desktop: fit the box
                            try:
                                note.api.Shape.TextFrame.AutoSize = True
                            except Exception:  # noqa: BLE001 - cosmetic only
                                pass
                for write in writes.get(sheet_name, ()):
                    if write.restore:
                        records.append(MarkRecord("value", write.sheet, write.cell, write.restore))
                    sheet.range(write.cell).value = write.value
    finally:
        undo = _get_or_add(book, MARKS_SHEET, hidden=True)
        _write_grid(undo, records_grid(records))

    results = _get_or_add(book, plan.results_sheet, hidden=False)
    grid = plan.results_grid()
    _write_grid(results, grid)
    if grid:  # like --annotate's row heights: wrap the messages and let Excel size the rows
        results.range((1, 1), (len(grid), max(len(r) for r in grid))).wrap_text = True
        results.autofit("rows")
    for row, col, item in plan.link_cells():
        _add_link(book, results.range((row, col)), item.sheet, item.cell, item.cell)
    if active is not None:
        try:
            book.sheets[active].activate()
        except Exception:  # noqa: BLE001 - the sheet went away meanwhile; staying put is fine
            pass
    return records


# ---------------------------------------------------------------------------------------------
# Logs and message boxes.


def log_dir() -> Path:
    """``%LOCALAPPDATA%\\kpi_xl\\logs`` on Windows; ``$XDG_STATE_HOME``/``~/.local/state`` elsewhere."""
    override = os.environ.get(LOG_ENV)
    if override:
        return Path(override)
    if sys.platform.startswith("win"):
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "kpi_xl" / "logs"
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "kpi_xl" / "logs"


def _log_file() -> Path:
    name = f"kpi_xl_{dt.date.today():%Y%m%d}.log"
    for folder in (log_dir(), Path(tempfile.gettempdir()) / "kpi_xl" / "logs"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            with open(path, "a", encoding="utf-8"):
                pass
            return path
        except OSError:
            continue
    return Path(tempfile.gettempdir()) / name  # pragma: no cover - no writable folder at all


def _log(text: str) -> Path:
    path = _log_file()
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f"{dt.datetime.now():%Y-%m-%d %H:%M:%S} {text}\n")
    except OSError:  # pragma: no cover - logging must never be the failure
        pass
    return path


def _log_exception(what: str) -> Path:
    details = traceback.format_exc()
    return _log(f"{what} FAILED (python {sys.version.split()[0]}, {sys.executable})\n{details}")


def _failure_text(log: Path) -> str:
    return (
        "ตรวจสอบข้อมูลไม่สำเร็จ เนื่องจากเกิดข้อผิดพลาดในโปรแกรม (ข้อมูลในแฟ้มไม่ได้เสียหาย)\n"
        "1. บันทึกแฟ้ม ปิด Excel แล้วเปิดแฟ้มและกดปุ่มอีกครั้ง\n"
        "2. ถ้ายังไม่ได้ ส่งแฟ้มบันทึกนี้ให้เจ้าหน้าที่ไอที หรือส่งแฟ้มรายงานให้ส่วนกลางตรวจแทน:\n"
        f"{log}\n\n"
        f"kpi-xl could not check this workbook. Please send the log file above to IT: {log}"
    )


def _message_box_without_excel(text: str) -> None:
    """When Excel itself cannot be reached: Windows' own message box, else standard error."""
    if sys.platform.startswith("win"):  # pragma: no cover - Windows only
        try:
            import ctypes

            ctypes.windll.user32.MessageBoxW(None, text, TITLE, 0x10 | 0x40000)  # MB_ICONERROR | MB_TOPMOST
            return
        except Exception:  # noqa: BLE001
            pass
    sys.stderr.write(text + "\n")


# ---------------------------------------------------------------------------------------------
# A real workbook file → the payload xlwings' remote engine takes (tests, bench, debugging).


def remote_payload(path: str | Path) -> dict[str, Any]:
    """What Excel's xlwings add-in would send for this saved workbook: every sheet's values from A1,
    its notes, the defined names with their ``refers_to``. Imports openpyxl (not on the button path)."""
    import openpyxl
    import xlwings as xw
    from openpyxl.utils import get_column_letter

    book = openpyxl.load_workbook(path, data_only=True, keep_links=False)
    sheet_index = {ws.title: i for i, ws in enumerate(book.worksheets)}
    names: list[dict[str, Any]] = []

    def add(name: str, value: str, scope: str | None) -> None:
        ref = _parse_refers_to("=" + value.lstrip("="))
        names.append({
            "name": name,
            "refers_to": "=" + value.lstrip("="),
            "sheet_index": sheet_index.get(ref[0]) if ref else None,
            "address": ref[1] if ref else None,
            "book_scope": scope is None,
            "scope_sheet_index": None if scope is None else sheet_index[scope],
            "scope_sheet_name": scope,
        })

    for name, defined in book.defined_names.items():
        add(name, defined.value, None)
    for ws in book.worksheets:
        for name, defined in ws.defined_names.items():
            add(name, defined.value, ws.title)
    sheets = []
    for ws in book.worksheets:
        rows, cols = ws.max_row, ws.max_column
        values = [[_payload_value(c.value) for c in line]
                  for line in ws.iter_rows(min_row=1, max_row=rows, min_col=1, max_col=cols)]
        sheets.append({
            "name": ws.title,
            "values": values or [[]],
            "visibility": "Visible" if ws.sheet_state == "visible" else "Hidden",
            "used_range_address": f"A1:{get_column_letter(cols)}{rows}",
            "notes": [{"address": c.coordinate} for line in ws.iter_rows() for c in line if c.comment],
            "pictures": [], "shapes": [], "charts": [], "tables": [], "pivot_tables": [],
            "print_area": None, "show_gridlines": True,
        })
    return {
        "client": "Office.js",
        "version": xw.__version__,
        "book": {"name": Path(path).name, "active_sheet_index": 0, "selection": "A1"},
        "names": names,
        "sheets": sheets,
    }


def _payload_value(value: Any) -> Any:
    """As Office.js sends cells: blanks "", dates as ISO text (xlwings turns them back into datetimes)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    if isinstance(value, dt.date):
        return f"{value.isoformat()}T00:00:00.000Z"
    if isinstance(value, dt.time):
        return value.isoformat()
    return value
