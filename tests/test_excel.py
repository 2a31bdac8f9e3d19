"""The Excel button end to end through xlwings' real Book/Sheet/Range API, on Linux.

Excel cannot run here, so the button's code runs against xlwings' *remote engine*
(``xw.Book(json=payload)``, the engine behind xlwings Server; PolyForm Noncommercial, key
``noncommercial``). The payload is made from a real workbook built by ``kpi_xl.template`` and
filled wrongly by ``kpi_xl.fill`` (:func:`kpi_xl.excel.remote_payload`); every write the button
makes comes back from ``book.json()`` as an action.

:class:`ExcelState` plays the part of Excel behind the add-in: it applies those actions to the
workbook's state (values, fills, notes, links, sheets), so that a second press sees what the first
one left, as in Excel. The assertions are on that state.

What this cannot show (no Excel here): ``Book.caller()`` over COM, the message box, reading the
original fill (the remote engine cannot read colours, so a cleared cell gets no fill — desktop
Excel gets its own fill back), sheet protection and notes in desktop Excel. See docs/it-guide.md.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")

import openpyxl  # noqa: E402
import xlwings as xw  # noqa: E402

from kpi_xl import catalog as cat_mod  # noqa: E402
from kpi_xl import excel, fill, scoring, xlcompat  # noqa: E402
from kpi_xl.annotate import annotate  # noqa: E402
from kpi_xl.form import load_spec  # noqa: E402
from kpi_xl.marks import ERROR_FILL, MARKS_SHEET, WARNING_FILL, plan_marks  # noqa: E402
from kpi_xl.reader import read_workbook  # noqa: E402
from kpi_xl.validate import validate_file  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CATALOG = cat_mod.load(ROOT / "workbook_templates" / "catalog_2564.yaml")
SPEC = load_spec()
RESULTS = SPEC.sheets["results"]
DISTRICT = 1030
QUARTER = 2

# Quarter 2, filled the way a hurried clerk would: a number typed in Thai words, a cumulative count
# that fell, a milestone level skipped, a narrative dated in the wrong quarter, a percentage over
# 100, a missing quarter-2 value. Everything else for quarters 1–2 is filled correctly.
WRONG: dict[str, dict[str, Any]] = {
    "KPI-01": {"q1_value": "สิบ", "q1_report": "จัดทำร่างแผนป้องกันภัย", "q2_value": 100, "q2_report": "แผนเสร็จแล้ว"},
    "KPI-03": {"q1_value": 700, "q2_value": 650, "q1_report": "จัดกิจกรรม", "q2_report": "จัดกิจกรรมต่อ"},
    "KPI-04": {"q1_value": 5, "q2_value": 3, "q1_report": "รับเรื่อง", "q2_report": "รับเรื่อง"},
    "KPI-05": {"level_1": 1, "level_3": 2, "q1_report": "ประชุมเครือข่าย 23 มีนาคม 2564", "q2_report": "สำรวจรายชื่อ"},
    "KPI-06": {"q1_value": 4, "q2_value": 5, "q1_report": "ตรวจ", "q2_report": "ตรวจ"},
    "KPI-07": {"q1_value": 33, "q2_value": 31, "q1_report": "วัด", "q2_report": "วัด"},
    "KPI-08": {"level_1": 1, "q1_report": "ตั้งคณะทำงาน", "q2_report": "ประชุม"},
    "KPI-10": {"q1_value": 120, "q2_value": 85, "q1_report": "คัดแยก", "q2_report": "คัดแยก"},
    "KPI-11": {"level_1": 2, "q1_report": "เตรียม", "q2_report": "เริ่มงาน"},
    "KPI-12": {"q1_value": 80, "q1_report": "สำรวจ", "q2_report": "สำรวจ"},
}
# What the clerk corrects before pressing the button again.
FIXES: dict[str, dict[str, Any]] = {"KPI-01": {"q1_value": 90}, "KPI-10": {"q1_value": 75}}


def _cell(a1: str) -> tuple[int, int]:
    m = re.fullmatch(r"\$?([A-Z]+)\$?(\d+)", a1)
    assert m, a1
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    return int(m.group(2)), col


def _a1(row: int, col: int) -> str:
    letters = ""
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters}{row}"


class ExcelState:
    """The workbook as Excel holds it, kept up to date from the actions xlwings sends.

    Models what Excel ends up holding after each action the button uses (values as typed — a
    leading ``=`` makes a formula, a leading ``'`` text —, fills, notes, links, sheets); an action
    it does not know fails the test, so a new kind of write cannot slip through unexamined.
    """

    def __init__(self, payload: dict[str, Any]):
        self.payload = copy.deepcopy(payload)
        self.colors: dict[tuple[str, str], str] = {}
        self.notes: dict[tuple[str, str], str] = {}
        self.links: dict[tuple[str, str], str] = {}
        self.alerts: list[list[Any]] = []
        self.wrapped: set[tuple[str, str]] = set()
        self.autofit: list[tuple[str, Any]] = []
        for sheet in self.payload["sheets"]:
            for note in sheet.get("notes", []):
                self.notes[(sheet["name"], note["address"].replace("$", ""))] = "(note already in the file)"

    # -- reading the state ---------------------------------------------------------------------
    def sheet(self, name: str) -> dict[str, Any]:
        return next(s for s in self.payload["sheets"] if s["name"] == name)

    def value(self, sheet: str, a1: str) -> Any:
        row, col = _cell(a1)
        values = self.sheet(sheet)["values"]
        if row > len(values) or col > len(values[row - 1]):
            return ""
        return values[row - 1][col - 1]

    def rows(self, sheet: str) -> list[list[Any]]:
        return [list(r) for r in self.sheet(sheet)["values"] if any(v not in ("", None) for v in r)]

    def book(self) -> xw.Book:
        """A fresh xlwings Book of the current state: the next press of the button."""
        data = copy.deepcopy(self.payload)
        for sheet in data["sheets"]:
            values = sheet["values"]
            width = max((len(r) for r in values), default=0)
            sheet["values"] = [list(r) + [""] * (width - len(r)) for r in values] or [[]]
            sheet["used_range_address"] = f"A1:{_a1(len(values), width)}" if values and width else None
            sheet["notes"] = [{"address": a1} for (s, a1) in self.notes if s == sheet["name"]]
        return xw.Book(json=data)

    # -- applying actions ----------------------------------------------------------------------
    def apply(self, actions: list[dict[str, Any]]) -> None:
        for action in actions:
            handler = getattr(self, "_" + action["func"], None)
            assert handler is not None, f"the button sent an action this state does not know: {action['func']}"
            handler(action)

    def _name(self, action: dict[str, Any]) -> str:
        return self.payload["sheets"][action["sheet_position"]]["name"]

    def _area(self, action: dict[str, Any]) -> list[tuple[int, int]]:
        r0, c0 = action["start_row"] + 1, action["start_column"] + 1
        return [(r0 + i, c0 + j) for i in range(action["row_count"]) for j in range(action["column_count"])]

    def _put(self, sheet: str, row: int, col: int, value: Any) -> None:
        values = self.sheet(sheet)["values"]
        if values == [[]]:
            values.clear()
        while len(values) < row:
            values.append([])
        line = values[row - 1]
        while len(line) < col:
            line.append("")
        line[col - 1] = "" if value is None else value

    def _setValues(self, action: dict[str, Any]) -> None:  # noqa: N802 - action names are xlwings'
        """As Excel takes typed values: a leading ' makes text; a leading = makes a formula, whose
        text the next read does not see (it sees the result; here an error marker)."""
        sheet = self._name(action)
        r0, c0 = action["start_row"] + 1, action["start_column"] + 1
        for i, line in enumerate(action["values"]):
            for j, value in enumerate(line):
                if isinstance(value, str) and value.startswith("'"):
                    value = value[1:]
                elif isinstance(value, str) and value.startswith("=") and len(value) > 1:
                    value = "#FORMULA-WRITTEN-AS-VALUE!"
                self._put(sheet, r0 + i, c0 + j, value)

    def _setFormula(self, action: dict[str, Any]) -> None:  # noqa: N802
        """Kept as the formula's text (what ``Range.formula`` shows), so tests can compare it."""
        sheet = self._name(action)
        r0, c0 = action["start_row"] + 1, action["start_column"] + 1
        for i, line in enumerate(action["values"]):
            for j, value in enumerate(line):
                self._put(sheet, r0 + i, c0 + j, value)

    def _setRangeColor(self, action: dict[str, Any]) -> None:  # noqa: N802
        sheet, color = self._name(action), action["args"][0]
        for row, col in self._area(action):
            if color is None:
                self.colors.pop((sheet, _a1(row, col)), None)
            else:
                self.colors[(sheet, _a1(row, col))] = color.upper()

    def _setWrapText(self, action: dict[str, Any]) -> None:  # noqa: N802
        args = action["args"]
        if args[0] if isinstance(args, list) else args:
            self.wrapped.update((self._name(action), _a1(r, c)) for r, c in self._area(action))

    def _setSheetAutofit(self, action: dict[str, Any]) -> None:  # noqa: N802
        self.autofit.append((self._name(action), action["args"]))

    def _addNote(self, action: dict[str, Any]) -> None:  # noqa: N802
        address, text = action["args"]
        key = (self._name(action), address.replace("$", ""))
        assert key not in self.notes, f"Excel refuses a second note on {key}"
        self.notes[key] = text

    def _deleteNote(self, action: dict[str, Any]) -> None:  # noqa: N802
        del self.notes[(self._name(action), action["args"][0].replace("$", ""))]

    def _addHyperlink(self, action: dict[str, Any]) -> None:  # noqa: N802
        address, text, _tip = action["args"]
        (row, col), = self._area(action)
        self.links[(self._name(action), _a1(row, col))] = address
        self._put(self._name(action), row, col, text)

    def _sheetClear(self, action: dict[str, Any]) -> None:  # noqa: N802
        sheet = self._name(action)
        self.sheet(sheet)["values"] = [[]]
        for store in (self.colors, self.notes, self.links):
            for key in [k for k in store if k[0] == sheet]:
                del store[key]

    def _addSheet(self, action: dict[str, Any]) -> None:  # noqa: N802
        index, name = action["args"]
        self.payload["sheets"].insert(index, {
            "name": name, "values": [[]], "visibility": "Visible", "notes": [], "pictures": [], "shapes": [],
            "charts": [], "tables": [], "pivot_tables": [], "print_area": None, "show_gridlines": True,
        })

    def _setSheetVisibility(self, action: dict[str, Any]) -> None:  # noqa: N802
        self.payload["sheets"][action["sheet_position"]]["visibility"] = action["args"][0]

    def _activateSheet(self, action: dict[str, Any]) -> None:  # noqa: N802
        self.payload["book"]["active_sheet_index"] = action["args"][0]

    def _alert(self, action: dict[str, Any]) -> None:
        self.alerts.append(action["args"])


# ---------------------------------------------------------------------------------------------
# Fixtures: one real workbook, built and filled wrongly


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("excel")


@pytest.fixture(scope="module")
def wrong(chatuchak_workbook: Path, work: Path) -> Path:
    """Chatuchak's workbook (built once per session by kpi_xl.template), filled wrongly."""
    return fill.fill_workbook(chatuchak_workbook, work / "wrong.xlsm", values=WRONG, report_quarter=QUARTER)


@pytest.fixture(scope="module")
def fixed(chatuchak_workbook: Path, work: Path) -> Path:
    values = {sheet: {**named, **FIXES.get(sheet, {})} for sheet, named in WRONG.items()}
    return fill.fill_workbook(chatuchak_workbook, work / "fixed.xlsm", values=values, report_quarter=QUARTER)


@pytest.fixture(autouse=True)
def _logs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(excel.LOG_ENV, str(tmp_path / "logs"))
    return tmp_path / "logs"


def press(state: ExcelState, action: Any = excel.validate) -> list[dict[str, Any]]:
    """Press a button: a fresh xlwings Book of the state, the entry point, the actions applied."""
    book = state.book()
    action(book)
    actions = book.json()["actions"]
    state.apply(actions)
    return actions


def expected_plan(path: Path) -> Any:
    """The marks the file engine (head office's path) plans for the same workbook."""
    return plan_marks(validate_file(path))


def note_codes(text: str) -> tuple[str, ...]:
    return tuple(line.split(" ", 1)[0] for line in text.splitlines())


def table(state: ExcelState) -> list[tuple[Any, ...]]:
    """(code, sheet, cell) of every problem row on the results sheet."""
    rows = state.rows(RESULTS)
    header = next(i for i, r in enumerate(rows) if r[:1] == ["ลำดับ"])
    return [(r[2], r[3], r[4]) for r in rows[header + 1:]]


# ---------------------------------------------------------------------------------------------
# Reading


def test_read_book_builds_the_same_raw_workbook_as_the_file_reader(wrong: Path) -> None:
    book = xw.Book(json=excel.remote_payload(wrong))
    raw, ref = excel.read_book(book), read_workbook(wrong)
    assert raw.sheet_names == ref.sheet_names
    assert raw.meta == ref.meta
    assert raw.workbook_cells == ref.workbook_cells
    assert raw.sheets == ref.sheets
    assert raw.sheets["KPI-01"]["q1_value"].raw == "สิบ"
    assert raw.workbook_cells["report_quarter"].raw == QUARTER
    # Few round trips: every value came from one rectangle per sheet, not cell by cell.
    assert book.json()["actions"] == []


def test_read_book_follows_the_names_not_the_spec(wrong: Path) -> None:
    """A name that moved (a clerk inserted a row) is read where it points now."""
    payload = excel.remote_payload(wrong)
    sheet = next(i for i, s in enumerate(payload["sheets"]) if s["name"] == "KPI-01")
    row, col = _cell(SPEC.a1("q1_value"))
    values = payload["sheets"][sheet]["values"]
    values.insert(row - 1, [""] * len(values[0]))  # a blank row above q1_value: everything below moves
    for name in payload["names"]:
        if name["scope_sheet_name"] == "KPI-01" and name["address"]:
            r, c = _cell(name["address"])
            if r >= row:
                name["address"] = _a1(r + 1, c)
                name["refers_to"] = f"='KPI-01'!${re.sub(r'[0-9]', '', name['address'])}${r + 1}"
    raw = excel.read_book(xw.Book(json=payload))
    moved = raw.sheets["KPI-01"]["q1_value"]
    assert (moved.cell, moved.raw) == (_a1(row + 1, col), "สิบ")


# ---------------------------------------------------------------------------------------------
# validate(): what the clerk sees


def test_validate_marks_cells_notes_scores_and_results(wrong: Path) -> None:
    state = ExcelState(excel.remote_payload(wrong))
    actions = press(state)
    plan = expected_plan(wrong)
    report = validate_file(wrong)
    codes = {p.code for p in report.problems}
    assert {"KPI-E301", "KPI-W401", "KPI-E401", "KPI-W403", "KPI-E403", "KPI-E201"} <= codes

    # Fills: exactly the faulty cells, red for errors and yellow for warnings-only cells.
    assert state.colors == {(m.sheet, m.cell): m.fill for m in plan.marks}
    assert state.colors[("KPI-01", SPEC.a1("q1_value"))] == ERROR_FILL
    assert state.colors[("KPI-03", SPEC.a1("q2_value"))] == WARNING_FILL  # cumulative fell: a warning
    assert {func["func"] for func in actions if func["func"] == "setRangeColor"} == {"setRangeColor"}
    touched = {(a["sheet_position"], a["start_row"], a["start_column"]) for a in actions if a["func"] == "setRangeColor"}
    assert len(touched) == len(plan.marks)  # no other cell's formatting was touched

    # Notes: one per faulty cell, listing every problem there, in Thai.
    notes = {k: v for k, v in state.notes.items() if v != "(note already in the file)"}
    assert {k: note_codes(v) for k, v in notes.items()} == {(m.sheet, m.cell): m.codes for m in plan.marks}
    q1 = notes[("KPI-01", SPEC.a1("q1_value"))]
    assert q1.startswith("KPI-E301 ผลไตรมาสที่ 1 ต้องเป็นตัวเลข") and "สิบ" in q1

    # score / target_met hold Python's result.
    for ind in report.indicators:
        score = state.value(ind.sheet, SPEC.a1("score"))
        met = state.value(ind.sheet, SPEC.a1("target_met"))
        assert score == ("" if ind.score is None else round(ind.score, 2))
        assert met == ("" if ind.target_met is None else ("ผ่าน" if ind.target_met else "ไม่ผ่าน"))

    # The results sheet: every problem in order, each with a link to its cell.
    assert table(state) == [(p.code, p.location.sheet, p.location.cell) for p in report.problems]
    # Long Thai messages wrap and the rows are sized to them (as --annotate does).
    rows = state.rows(RESULTS)
    assert {(RESULTS, _a1(len(rows), 6))} <= state.wrapped
    assert state.autofit == [(RESULTS, ["rows"])]
    links = {k[1]: v for k, v in state.links.items() if k[0] == RESULTS}
    assert len(links) == len(report.problems)
    assert "#'KPI-01'!" + SPEC.a1("q1_value") in links.values()
    header = dict((r[0], r[1]) for r in state.rows(RESULTS)[:9])
    assert header["เขต / District"] == "จตุจักร (1030)"
    assert header["ไตรมาสที่รายงาน / Quarter"] == QUARTER
    assert header["สรุป / Summary"] == report.problems.summary_th()

    # The undo list is on a hidden sheet; the clerk is left on the sheet they were on.
    assert state.sheet(MARKS_SHEET)["visibility"] == "Hidden"
    assert state.payload["book"]["active_sheet_index"] == 0

    # One Thai message box: the summary first.
    assert len(state.alerts) == 1
    prompt, title, _buttons, mode, _callback = state.alerts[0]
    errors, warnings = len(report.problems.errors), len(report.problems.warnings)
    assert prompt.splitlines()[0] == f"พบข้อผิดพลาด {errors} รายการ, คำเตือน {warnings} รายการ"
    assert title == excel.TITLE and mode == "critical"


def test_second_press_leaves_no_mark_of_the_first(wrong: Path, fixed: Path) -> None:
    state = ExcelState(excel.remote_payload(wrong))
    press(state)
    first = dict(state.colors)
    # The clerk corrects two cells in Excel, then presses the button again.
    for sheet, named in FIXES.items():
        for name, value in named.items():
            row, col = _cell(SPEC.a1(name))
            state._put(sheet, row, col, value)
    press(state)

    after = expected_plan(fixed)
    assert state.colors == {(m.sheet, m.cell): m.fill for m in after.marks}
    for sheet, named in FIXES.items():
        for name in named:
            key = (sheet, SPEC.a1(name))
            assert key in first and key not in state.colors and key not in state.notes
    assert {k: note_codes(v) for k, v in state.notes.items()} == {(m.sheet, m.cell): m.codes for m in after.marks}
    assert table(state) == [(r.code, r.sheet, r.cell) for r in after.rows]
    assert len(state.alerts) == 2
    assert state.alerts[1][0].splitlines()[0] == after.summary_th
    # The undo list describes the second run only.
    undo = [r for r in state.rows(MARKS_SHEET)[1:] if r[0] == "fill"]
    assert {(r[1], r[2]) for r in undo} == {(m.sheet, m.cell) for m in after.marks}


def test_clear_marks_removes_only_what_validate_added(wrong: Path) -> None:
    payload = excel.remote_payload(wrong)
    marked = ("KPI-01", SPEC.a1("q1_value"))
    # A note the clerk wrote on a cell that will be marked: it must survive validate and clear.
    next(s for s in payload["sheets"] if s["name"] == marked[0])["notes"].append({"address": marked[1]})
    state = ExcelState(payload)
    actions = press(state)
    assert not [a for a in actions if a["func"] == "addNote" and a["args"][0].replace("$", "") == marked[1]
                and a["sheet_position"] == 1]
    assert state.colors[marked] == ERROR_FILL
    assert state.notes[marked] == "(note already in the file)"

    press(state, excel.clear_marks)
    assert state.colors == {}
    assert state.notes == {marked: "(note already in the file)"}
    assert state.rows(RESULTS) == []
    assert state.rows(MARKS_SHEET)[1:] == []
    # score / target_met hold the template's formulas again.
    for ind in CATALOG.for_district(DISTRICT):
        assert state.value(ind.code, SPEC.a1("score")) == scoring.excel_score(ind)
        assert state.value(ind.code, SPEC.a1("target_met")) == scoring.excel_target_met(ind)
    assert state.alerts[-1][0].startswith("ล้างเครื่องหมายการตรวจสอบแล้ว")


def test_seed_page_scores_five(seed_filled_workbook: Path) -> None:
    path = seed_filled_workbook
    report = validate_file(path)
    state = ExcelState(excel.remote_payload(path))
    press(state)
    kpi05 = next(i for i in report.indicators if i.code == "KPI-05")
    assert state.value("KPI-05", SPEC.a1("score")) == 5.0 == kpi05.score
    assert state.value("KPI-05", SPEC.a1("target_met")) == "ผ่าน"
    assert not [key for key in state.colors if key[0] == "KPI-05"]  # the seed page is clean
    assert state.alerts[0][0].splitlines()[0] == report.problems.summary_th()


# ---------------------------------------------------------------------------------------------
# The same marks as head office's `kpi-xl validate --annotate`


def test_button_marks_equal_annotate(wrong: Path, tmp_path: Path) -> None:
    state = ExcelState(excel.remote_payload(wrong))
    press(state)
    out = annotate(wrong, tmp_path / "checked.xlsm", validate_file(wrong))
    book = openpyxl.load_workbook(out)
    fills: dict[tuple[str, str], str] = {}
    notes: dict[tuple[str, str], tuple[str, ...]] = {}
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                rgb = cell.fill.fgColor.rgb if cell.fill.fill_type == "solid" else None
                if isinstance(rgb, str) and "#" + rgb[-6:] in (ERROR_FILL, WARNING_FILL):
                    fills[(ws.title, cell.coordinate)] = "#" + rgb[-6:]
                if cell.comment is not None and cell.comment.author == "kpi-xl":
                    notes[(ws.title, cell.coordinate)] = note_codes(cell.comment.text)
    results_fills = {k: v for k, v in fills.items() if k[0] != RESULTS}
    assert results_fills == state.colors
    assert notes == {k: note_codes(v) for k, v in state.notes.items()}
    for ind in CATALOG.for_district(DISTRICT):
        for name in ("score", "target_met"):
            a1 = SPEC.a1(name)
            assert (book[ind.code][a1].value or "") == state.value(ind.code, a1), (ind.code, name)
    ws = book[RESULTS]
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    header = next(i for i, r in enumerate(rows) if r[0] == "ลำดับ")
    assert [(r[2], r[3], r[4]) for r in rows[header + 1:]] == table(state)
    links = {c.coordinate: "#" + c.hyperlink.location for r in ws.iter_rows() for c in r if c.hyperlink}
    assert links == {k[1]: v for k, v in state.links.items() if k[0] == RESULTS}


# ---------------------------------------------------------------------------------------------
# Failures reach the clerk as Thai text, never as a traceback


def test_not_a_kpi_workbook_gets_a_thai_message_and_no_writes() -> None:
    book = xw.Book(json={"client": "Office.js", "version": xw.__version__,
                         "book": {"name": "budget.xlsx", "active_sheet_index": 0, "selection": "A1"},
                         "names": [], "sheets": [{"name": "Sheet1", "values": [["งบประมาณ", 100]], "notes": [],
                                                  "pictures": [], "tables": [], "visibility": "Visible"}]})
    excel.validate(book)
    actions = book.json()["actions"]
    assert [a["func"] for a in actions] == ["alert"]
    assert actions[0]["args"][0].startswith("ตรวจสอบไม่ได้: แฟ้มนี้ไม่ใช่แบบรายงาน")


def test_a_crash_is_logged_and_shown_in_thai(wrong: Path, _logs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = xw.Book(json=excel.remote_payload(wrong))
    book.close()  # the workbook went away under the button (closed while Python started)
    excel.validate(book)  # must not raise
    logs = list(_logs.glob("kpi_xl_*.log"))
    assert len(logs) == 1
    text = logs[0].read_text(encoding="utf-8")
    assert "validate FAILED" in text and "Traceback (most recent call last)" in text
    shown = capsys.readouterr().err
    assert "ตรวจสอบข้อมูลไม่สำเร็จ" in shown and str(logs[0]) in shown and "Traceback" not in shown


def test_a_press_pauses_the_collector_and_gives_it_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """The collector is off during a press (speed) and in its previous state after it (a process
    that goes on, like this one, keeps collecting), also when the press fails."""
    import gc

    during: list[bool] = []

    def action(book: object) -> tuple[str, str]:
        during.append(gc.isenabled())
        raise RuntimeError("boom")

    book = xw.Book(json={"client": "Office.js", "version": xw.__version__,
                         "book": {"name": "x.xlsx", "active_sheet_index": 0, "selection": "A1"},
                         "names": [], "sheets": [{"name": "Sheet1", "values": [[1]], "notes": [],
                                                  "pictures": [], "tables": [], "visibility": "Visible"}]})
    assert gc.isenabled()
    excel._run("validate", action, book)
    assert during == [False] and gc.isenabled()
    gc.disable()
    try:
        excel._run("validate", action, book)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_no_excel_at_all_is_logged_not_raised(_logs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    excel.clear_marks()  # Book.caller() has no Excel to call on Linux
    assert "clear_marks FAILED" in next(_logs.glob("*.log")).read_text(encoding="utf-8")
    assert "ตรวจสอบข้อมูลไม่สำเร็จ" in capsys.readouterr().err


def test_log_dir_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(excel.LOG_ENV)
    monkeypatch.setattr(excel.sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", r"C:\Users\clerk\AppData\Local")
    assert str(excel.log_dir()).replace("/", "\\").endswith(r"AppData\Local\kpi_xl\logs")
    monkeypatch.setattr(excel.sys, "platform", "linux")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert excel.log_dir() == tmp_path / "kpi_xl" / "logs"


def test_import_is_light() -> None:
    """The button's module pulls in nothing heavy when imported (RunPython's first step)."""
    import subprocess
    import sys

    code = ("import sys, kpi_xl.excel; heavy = [m for m in ('pandas', 'openpyxl', 'xlsxwriter', 'xlwings', "
            "'pydantic', 'numpy') if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_press_does_not_parse_yaml() -> None:
    """A press loads the form spec from its JSON twin and the districts from CSV: PyYAML (~10 ms to
    import in a fresh interpreter) stays off the button's path."""
    import subprocess
    import sys

    code = ("import sys, kpi_xl.excel, kpi_xl.validate, kpi_xl.marks, kpi_xl.reference as r; "
            "kpi_xl.form.load_spec(); r.districts(); print('yaml' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_helpers_for_desktop_excel_values() -> None:
    """The conversions used on desktop Excel's answers (COM gives colours as RGB tuples)."""
    assert excel._hex((255, 199, 206)) == "#FFC7CE"
    assert excel._hex(None) == "" and excel._hex("ffeb9c") == "#FFEB9C"
    assert excel._parse_refers_to("='KPI-05'!$B$3") == ("KPI-05", "B3")
    assert excel._parse_refers_to("='it''s'!$F$14:$F$15") == ("it's", "F14")
    assert excel._parse_refers_to("=#REF!") is None and excel._parse_refers_to('="text"') is None


def test_sheet_password_comes_from_the_conf_sheet(wrong: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KPI_XL_SHEET_PASSWORD", raising=False)
    payload = excel.remote_payload(wrong)
    conf = next(s for s in payload["sheets"] if s["name"] == "xlwings.conf")
    width = len(conf["values"][0])
    conf["values"].append([excel.PASSWORD_KEY, "lock-1030"] + [""] * (width - 2))
    conf["used_range_address"] = f"A1:{_a1(len(conf['values']), width)}"
    assert excel._Protection(xw.Book(json=payload)).password() == "lock-1030"
    assert excel._Protection(xw.Book(json=excel.remote_payload(wrong))).password() == ""


def test_broken_and_builtin_names_are_ignored_like_the_file_reader_does(wrong: Path) -> None:
    """A name whose cells were deleted (#REF!) reads as missing, so the validator reports KPI-E111;
    Excel's own names (print areas) are not contract cells."""
    payload = excel.remote_payload(wrong)
    kpi01 = next(i for i, s in enumerate(payload["sheets"]) if s["name"] == "KPI-01")
    for name in payload["names"]:
        if name["scope_sheet_name"] == "KPI-01" and name["name"] == "evidence":
            name.update(refers_to="=#REF!", sheet_index=None, address=None)
    payload["names"] += [
        {"name": "_xlnm.Print_Area", "refers_to": "='KPI-01'!$A$1:$F$31", "sheet_index": kpi01, "address": "A1:F31",
         "book_scope": False, "scope_sheet_index": kpi01, "scope_sheet_name": "KPI-01"},
        {"name": "Print_Titles", "refers_to": "='KPI-01'!$1:$2", "sheet_index": None, "address": None,
         "book_scope": False, "scope_sheet_index": kpi01, "scope_sheet_name": "KPI-01"},
    ]
    book = xw.Book(json=payload)
    raw = excel.read_book(book)
    assert "evidence" not in raw.sheets["KPI-01"]
    assert not {"_xlnm.Print_Area", "Print_Area", "Print_Titles"} & set(raw.sheets["KPI-01"])
    state = ExcelState(payload)
    press(state)
    assert [row for row in table(state) if row[0] == "KPI-E111"] == [("KPI-E111", "KPI-01", "")]


def test_both_writers_leave_the_same_sheets(wrong: Path, tmp_path: Path) -> None:
    state = ExcelState(excel.remote_payload(wrong))
    press(state)
    out = annotate(wrong, tmp_path / "checked.xlsm", validate_file(wrong))
    book = openpyxl.load_workbook(out)
    assert [s["name"] for s in state.payload["sheets"]] == book.sheetnames
    assert [s["visibility"] == "Visible" for s in state.payload["sheets"]] == \
        [ws.sheet_state == "visible" for ws in book.worksheets]


# ---------------------------------------------------------------------------------------------
# xlwings by version (kpi_xl.xlcompat); the released old packages are in tests/test_xlwings_versions.py


def _with_vba_version(payload: dict[str, Any], version: str) -> dict[str, Any]:
    conf = next(s for s in payload["sheets"] if s["name"] == "xlwings.conf")
    for line in conf["values"]:
        if line and line[0] == xlcompat.VBA_VERSION_KEY:
            line[1] = version
            return payload
    raise AssertionError("the built workbook has no VBA version row")


def test_built_workbook_says_its_vba_version_and_matches_the_pc(wrong: Path) -> None:
    book = xw.Book(json=excel.remote_payload(wrong))
    assert excel.workbook_vba_version(book) == xw.__version__ == xlcompat.PINNED
    assert excel.warn_version(book) is None
    assert book.json()["actions"] == []


def test_version_mismatch_is_said_first_in_thai_then_the_check_runs(wrong: Path) -> None:
    state = ExcelState(_with_vba_version(excel.remote_payload(wrong), "0.36.17"))
    actions = press(state)
    first, last = actions[0], actions[-1]
    assert first["func"] == "alert" and last["func"] == "alert"
    text = first["args"][0]
    assert text.startswith("คำเตือน: เครื่องนี้ติดตั้ง xlwings รุ่น " + xw.__version__)
    assert "แฟ้มนี้สร้างด้วย xlwings รุ่น 0.36.17" in text and "Warning: this PC has xlwings" in text
    assert len(state.alerts) == 2 and state.notes  # the check itself still ran and marked cells


def test_notes_use_xlwings_when_it_can_and_the_com_fallback_says_what_it_needs(wrong: Path) -> None:
    """On the pinned xlwings the button adds notes with Range.add_note. The fallback (xlwings before
    0.37.5) calls Range.api.AddComment; the remote engine has no COM object behind Range.api (it is
    the cells' values), so here the fallback can only be shown to refuse clearly — its COM call is on
    the Windows checklist in docs/it-guide.md."""
    book = xw.Book(json=excel.remote_payload(wrong))
    rng = book.sheets["KPI-01"].range("B2")
    assert xlcompat.has_add_note(rng)
    note = xlcompat.add_note(rng, "ทดสอบ")
    assert note is not None
    assert book.json()["actions"][-1]["func"] == "addNote"
    with pytest.raises(NotImplementedError, match="Range.AddComment is not available"):
        xlcompat.add_comment_com(book.sheets["KPI-01"].range("C2"), "ทดสอบ")
    assert [a["func"] for a in book.json()["actions"]] == ["addNote"]  # the refused fallback wrote nothing


def test_every_xlwings_member_the_button_uses_exists_in_the_installed_xlwings() -> None:
    assert xlcompat.missing_members(xw) == []
    assert xlcompat.fallbacks_in_use(xw) == []
def test_a_contract_name_pointing_elsewhere_is_reported_like_the_file_reader_does(wrong: Path) -> None:
    """The button applies the file reader's rule (kpi_xl/names.py): a contract name moved to a
    range, another sheet or a cell far outside the form is KPI-E115 and its value is not read."""
    payload = excel.remote_payload(wrong)
    moved = {"evidence": "='KPI-01'!$B$27:$B$29", "obstacles": "='คำชี้แจง'!$C$9", "year_summary": "='KPI-01'!$XFD$1048576"}
    for name in payload["names"]:
        if name["scope_sheet_name"] == "KPI-01" and name["name"] in moved:
            name.update(refers_to=moved[name["name"]])
    raw = excel.read_book(xw.Book(json=payload))
    assert not set(moved) & set(raw.sheets["KPI-01"])
    found = {(p.code, p.location.sheet, p.location.name, p.params["value"]) for p in raw.problems}
    assert found == {("KPI-E115", "KPI-01", "evidence", "'KPI-01'!$B$27:$B$29"),
                     ("KPI-E115", "KPI-01", "obstacles", "'คำชี้แจง'!C9"),
                     ("KPI-E115", "KPI-01", "year_summary", "'KPI-01'!XFD1048576")}


def test_a_stray_far_entry_on_the_metadata_sheet_is_not_read(wrong: Path) -> None:
    """The button reads the hidden metadata sheet's keys and values (A:B) within the file reader's
    limit (MAX_META_ROWS), not its whole used range: a stray entry at XFD1048576 made that one read
    of 17 billion cells through Excel. The metadata found is the same as without it."""
    from kpi_xl.form import load_spec
    from kpi_xl.limits import MAX_META_ROWS

    payload = excel.remote_payload(wrong)
    plain = excel.read_book(xw.Book(json=payload)).meta
    meta = next(s for s in payload["sheets"] if s["name"] == load_spec().meta_sheet)
    meta["used_range_address"] = "A1:XFD1048576"  # what Excel reports after one keystroke down there
    book = xw.Book(json=payload)
    asked: list[tuple[int, int]] = []
    grid = excel._grid

    def spy(sheet, rows: int, cols: int):  # noqa: ANN001, ANN202 - records the extent asked of Excel
        asked.append((rows, cols))
        assert rows * cols <= 5000 * 52, f"asked Excel for {rows} × {cols} cells"  # fail fast, not out of memory
        return grid(sheet, rows, cols)

    excel._grid = spy
    try:
        far = excel.read_book(book).meta
    finally:
        excel._grid = grid
    assert {k: c.raw for k, c in far.items()} == {k: c.raw for k, c in plain.items()}
    assert (MAX_META_ROWS, 2) in asked or all(r <= MAX_META_ROWS for r, _ in asked)
