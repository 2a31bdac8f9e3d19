"""The marks a validation leaves in a workbook, planned once and applied by two writers.

Head office's ``kpi-xl validate --annotate`` (openpyxl, on a copy) and the district's ตรวจสอบข้อมูล
button (xlwings, in the open workbook) must leave *the same* marks, or a clerk and head office argue
over two different answers. So the marks are plain data computed here from a
:class:`~kpi_xl.model.DistrictReport`; :mod:`kpi_xl.annotate` and :mod:`kpi_xl.excel` only carry
the plan out, and the tests compare what each of them did with this plan.

A validation must also be undoable without touching the clerk's own formatting: every cell the
appliers touch is recorded (with its original fill, whether a note was added, the formula that was
replaced) on a hidden sheet, :data:`MARKS_SHEET`, which ``clear_marks`` reads back. Only what is on
that list is ever reverted.

Import cost matters (the button starts a fresh interpreter on every press): nothing here imports
pydantic models at module level beyond what the report already needs, and no Excel library.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .catalog import Catalog
    from .model import DistrictReport, IndicatorResult
    from .problems import Problem

ERROR_FILL = "#FFC7CE"  # Excel's own "light red fill" for bad cells
WARNING_FILL = "#FFEB9C"  # Excel's own "light yellow fill" for neutral cells
NOTE_AUTHOR = "kpi-xl"
MARKS_SHEET = "_kpi_marks"
MARKS_HEADER = ("kind", "sheet", "cell", "original", "noted")
RESULTS_COLUMNS = ("ลำดับ", "ระดับ", "รหัส", "แผ่นงาน", "เซลล์", "ข้อความ")
# Column A holds the header labels as well as the row numbers, hence wider than "ลำดับ".
# 112 width units: the A4 landscape width at the forms' fixed 60 % print scale (kpi_xl.template), so the
# list prints at 9.6 pt; fitted one page wide its 152 units printed at 8.2 pt.
RESULTS_WIDTHS = (28, 10, 10, 10, 7, 47)
SEVERITY_TH = {"error": "ข้อผิดพลาด", "warning": "คำเตือน"}
MET_TH, NOT_MET_TH = "ผ่าน", "ไม่ผ่าน"  # the same words as kpi_xl.scoring (not imported: it pulls the catalog)
FILL_NONE = ""  # record value: the cell had no fill
FILL_UNKNOWN = "?"  # record value: the engine could not read the fill (xlwings' remote engine)
FORMULA_TAG = "f:"  # record value: a formula kept as text


def fill_of(severity: str) -> str:
    return ERROR_FILL if severity == "error" else WARNING_FILL


def sheet_ref(sheet: str, cell: str) -> str:
    """``'KPI-03'!D14``: always quoted, so Thai names and hyphens need no special case."""
    return "'" + sheet.replace("'", "''") + "'!" + cell


@dataclass(frozen=True, slots=True)
class CellMark:
    """One faulty cell: its fill and one note listing every problem found there."""

    sheet: str
    cell: str
    severity: str  # "error" when any problem at the cell is an error, else "warning"
    codes: tuple[str, ...]
    note: str

    @property
    def fill(self) -> str:
        return fill_of(self.severity)


@dataclass(frozen=True, slots=True)
class ValueWrite:
    """A computed cell written with Python's result; ``restore`` is what ``clear_marks`` puts back."""

    sheet: str
    cell: str
    name: str  # "score" | "target_met"
    value: float | str | None
    restore: str | None  # the template's formula (kpi_xl.scoring.excel_*), None if unknown


@dataclass(frozen=True, slots=True)
class ResultRow:
    """One line of the ผลการตรวจสอบ sheet: a problem, with a link to its cell when it has one."""

    number: int
    severity: str
    code: str
    sheet: str
    cell: str
    message: str

    @property
    def link(self) -> str | None:
        return "#" + sheet_ref(self.sheet, self.cell) if self.sheet and self.cell else None

    def values(self) -> list[Any]:
        return [self.number, SEVERITY_TH[self.severity], self.code, self.sheet, self.cell, self.message]


@dataclass(frozen=True, slots=True)
class MarkPlan:
    """Everything a validation writes into a workbook, independent of the library that writes it."""

    marks: tuple[CellMark, ...]
    writes: tuple[ValueWrite, ...]
    header: tuple[tuple[str, Any], ...]  # (label, value) lines above the problem table
    rows: tuple[ResultRow, ...]
    summary_th: str
    results_sheet: str
    errors: int
    warnings: int

    @property
    def table_row(self) -> int:
        """1-based row of the column headings (ลำดับ, ระดับ, …) on the results sheet."""
        return len(self.header) + 2

    def results_grid(self) -> list[list[Any]]:
        """The results sheet from A1 as one rectangle (one bulk write through xlwings)."""
        width = len(RESULTS_COLUMNS)
        grid: list[list[Any]] = [[label, value] + [None] * (width - 2) for label, value in self.header]
        grid.append([None] * width)
        grid.append(list(RESULTS_COLUMNS))
        grid += [row.values() for row in self.rows]
        return grid

    def link_cells(self) -> list[tuple[int, int, ResultRow]]:
        """(row, column, problem) of each hyperlink on the results sheet, 1-based; column = เซลล์."""
        column = RESULTS_COLUMNS.index("เซลล์") + 1
        return [(self.table_row + i, column, row) for i, row in enumerate(self.rows, start=1) if row.link]

    def summary(self) -> dict[str, Any]:
        """Comparable essentials (tests compare the two appliers with this)."""
        return {
            "marks": {(m.sheet, m.cell): (m.fill, m.codes) for m in self.marks},
            "writes": {(w.sheet, w.cell): w.value for w in self.writes},
            "rows": [(r.code, r.sheet, r.cell) for r in self.rows],
        }


@dataclass(frozen=True, slots=True)
class MarkRecord:
    """One line of the hidden :data:`MARKS_SHEET`: what to revert and how.

    ``kind`` "fill": ``original`` is the fill the cell had ("" none, "#RRGGBB", "theme:N:tint",
    "?" unknown) and ``noted`` says a kpi-xl note was added. ``kind`` "value": ``original`` is the
    formula that was replaced by a computed value.
    """

    kind: str
    sheet: str
    cell: str
    original: str
    noted: bool = False

    def row(self) -> list[str]:
        # A formula is stored as "f:=…": written as "=…", Excel would make it a live formula on the
        # hidden sheet (with names it cannot resolve there) and give back "#NAME?" instead of its text.
        original = FORMULA_TAG + self.original if self.kind == "value" else self.original
        return [self.kind, self.sheet, self.cell, original, "1" if self.noted else "0"]


def records_grid(records: Sequence[MarkRecord]) -> list[list[str]]:
    return [list(MARKS_HEADER)] + [r.row() for r in records]


def parse_records(values: Iterable[Sequence[Any]] | None) -> list[MarkRecord]:
    """The hidden sheet's values (any engine: None for blanks) → records; unknown lines are skipped."""
    records: list[MarkRecord] = []
    for line in values or []:
        cells = ["" if v is None else str(v) for v in line] + [""] * 5
        kind, sheet, cell, original, noted = cells[:5]
        if kind not in ("fill", "value") or not sheet or not cell:
            continue
        if kind == "value":
            original = original.removeprefix(FORMULA_TAG).removeprefix("'")
        records.append(MarkRecord(kind, sheet, cell, original, noted.strip() in ("1", "1.0", "True", "true")))
    return records


# ---------------------------------------------------------------------------------------------
# Planning


def plan_marks(
    report: DistrictReport,
    *,
    catalog: Catalog | None = None,
    now: dt.datetime | None = None,
    results_sheet: str | None = None,
) -> MarkPlan:
    """The marks for ``report``: fills and notes per faulty cell, computed cells, the results sheet.

    ``catalog`` gives the formulas that ``clear_marks`` restores in ``score``/``target_met``; by
    default it is the catalog embedded in the workbook's metadata (``report.meta``).
    """
    problems = list(report.problems)
    marks = _cell_marks(problems)
    writes = _value_writes(report, catalog)
    rows = tuple(
        ResultRow(i, p.severity.value, p.code, p.location.sheet or "", p.location.cell or "", p.message_th)
        for i, p in enumerate(problems, start=1)
    )
    errors = sum(1 for p in problems if p.is_error)
    warnings = len(problems) - errors
    summary = report.problems.summary_th()
    return MarkPlan(
        marks=marks,
        writes=writes,
        header=_header(report, now or dt.datetime.now(), summary, errors, warnings),
        rows=rows,
        summary_th=summary,
        results_sheet=results_sheet or _results_sheet_name(),
        errors=errors,
        warnings=warnings,
    )


def _results_sheet_name() -> str:
    from .form import load_spec

    return load_spec().sheets["results"]


def _note_line(p: Problem) -> str:
    text = p.message_th
    where = p.location.th()
    if where and text.startswith(where):
        text = text[len(where):].lstrip()
    return f"{p.code} {text}"


def _cell_marks(problems: Sequence[Problem]) -> tuple[CellMark, ...]:
    by_cell: dict[tuple[str, str], list[Problem]] = {}
    for p in problems:
        if p.location.sheet and p.location.cell:
            by_cell.setdefault((p.location.sheet, p.location.cell.replace("$", "").upper()), []).append(p)
    return tuple(
        CellMark(
            sheet=sheet,
            cell=cell,
            severity="error" if any(p.is_error for p in found) else "warning",
            codes=tuple(p.code for p in found),
            note="\n".join(_note_line(p) for p in found),
        )
        for (sheet, cell), found in by_cell.items()
    )


def _indicator_formulas(report: DistrictReport, catalog: Catalog | None) -> dict[str, tuple[str, str]]:
    """code → (score formula, target_met formula), as the template writes them."""
    if catalog is None and report.meta is not None and report.meta.catalog_json:
        try:
            from .catalog import Catalog

            catalog = Catalog.model_validate_json(report.meta.catalog_json)
        except ValueError:
            catalog = None
    if catalog is None:
        return {}
    from .scoring import excel_score, excel_target_met

    return {ind.code: (excel_score(ind), excel_target_met(ind)) for ind in catalog.indicators}


def _computed_cell(ind: IndicatorResult, name: str) -> str | None:
    field = ind.fields.get(name)
    if field is not None and field.cell.cell:
        return field.cell.cell.replace("$", "").upper()
    try:
        from .form import load_spec

        return load_spec().a1(name)
    except KeyError:  # pragma: no cover - the spec always has score/target_met
        return None


def _value_writes(report: DistrictReport, catalog: Catalog | None) -> tuple[ValueWrite, ...]:
    if not report.indicators:
        return ()
    formulas = _indicator_formulas(report, catalog)
    writes: list[ValueWrite] = []
    for ind in report.indicators:
        score_formula, met_formula = formulas.get(ind.code, (None, None))
        score_cell = _computed_cell(ind, "score")
        met_cell = _computed_cell(ind, "target_met")
        if score_cell:
            value = None if ind.score is None else round(float(ind.score), 2)
            writes.append(ValueWrite(ind.sheet, score_cell, "score", value, score_formula))
        if met_cell:
            met = None if ind.target_met is None else (MET_TH if ind.target_met else NOT_MET_TH)
            writes.append(ValueWrite(ind.sheet, met_cell, "target_met", met, met_formula))
    return tuple(writes)


def _when(now: dt.datetime) -> str:
    from .thai import format_thai_date

    return f"{format_thai_date(now.date())} เวลา {now:%H:%M} น."


def _header(
    report: DistrictReport, now: dt.datetime, summary: str, errors: int, warnings: int
) -> tuple[tuple[str, Any], ...]:
    district = report.district_name_th or ""
    if report.district_code is not None:
        district = f"{district} ({report.district_code})".strip()
    score = report.district_score
    return (
        ("ผลการตรวจสอบข้อมูล / Validation results", "ตรวจโดย kpi-xl"),
        ("เขต / District", district or "-"),
        ("ปีงบประมาณ / Fiscal year", report.fiscal_year if report.fiscal_year is not None else "-"),
        ("ไตรมาสที่รายงาน / Quarter", report.report_quarter if report.report_quarter is not None else "-"),
        ("ตรวจเมื่อ / Checked at", _when(now)),
        ("ข้อผิดพลาด / Errors", errors),
        ("คำเตือน / Warnings", warnings),
        ("คะแนนรวมถ่วงน้ำหนักของเขต / District score", "-" if score is None else round(float(score), 2)),
        ("สรุป / Summary", summary),
    )
