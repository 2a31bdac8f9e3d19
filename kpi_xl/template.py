"""The district workbook: one sheet per indicator that looks like the paper form, built with XlsxWriter.

Everything about *where* a cell is comes from the form spec (``kpi_xl.form``); this module only
decides how each kind of row and cell looks and which Excel checks it carries, so the reader, the
validator and the Excel button find the same cells through the same sheet-scoped defined names.

Design choices worth knowing:
- XlsxWriter, not openpyxl: it writes data validation, conditional formats, protection, Form
  buttons and an embedded VBA project in one pass, and is several times faster (bench/).
- Output is reproducible: document dates come from ``build_time`` (default: the first day of the
  catalog's fiscal year), XlsxWriter stamps zip entries with a fixed date, and the VBA project is
  deterministic, so the same catalog gives the same bytes.
- Fixed text is locked, inputs are unlocked, and the sheet is protected (no password unless one
  is given) so the clerk can type only where the form expects input.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import os
import shutil
import tempfile
import unicodedata
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from . import model, reference, scoring, thai
from .catalog import Catalog, Direction, DistrictRef, Indicator, Scoring, ValueKind
from .files import atomic_path
from .form import COLUMNS, QUARTER_HELPER_ROW, FieldSpec, FormSpec, load_spec
from .keys import load_key
from .vba import xlwings_vba_version
from .xlcompat import VBA_VERSION_KEY

FONT = "TH Sarabun New"
FONT_SIZE = 16
# Measured with LibreOffice's optimal row height (TH Sarabun New → Laksaman, 16 pt): one line 27.6 pt,
# each further line 26.1 pt; about one spacing character per column-width unit, less after word wrap.
LINE_HEIGHT = 26.2
ROW_PAD = 1.6
CHARS_PER_WIDTH = 0.95
# Government-form page (ระเบียบงานสารบรรณ): left 3 cm, right 2 cm, top 2.5 cm, bottom 2 cm; in inches.
MARGINS = {"left": 1.18, "right": 0.79, "top": 0.79, "bottom": 0.79}
# 16 pt TH Sarabun New prints at 9.6 pt; A4 portrait within MARGINS then holds about 82 width units.
PRINT_SCALE = 60
BUTTON_COL = 7  # column H: right of the print area (A:F) and the hidden helper column G
VALIDATE_MACRO, CLEAR_MACRO, SUBMIT_MACRO = "KpiValidate", "KpiClearMarks", "KpiSubmit"
VALIDATE_CAPTION, CLEAR_CAPTION, SUBMIT_CAPTION = "ตรวจสอบข้อมูล", "ล้างเครื่องหมาย", "ยืนยันส่งรายงาน"
REQUIRED_FILL = "#FDE9D9"  # light orange: "this must be filled for the quarter you report"
# Every input cell: Excel's "Blue, Accent 1, lighter 80%". Visible on screen and on a grayscale
# printout (about 90 % grey, text stays black), and unlike the other fills in use: required-empty
# orange (above), the cover's yellow, the button's light red / light yellow marks (kpi_xl.marks).
INPUT_FILL = "#DDEBF7"
# Why python.exe of the venv under %LOCALAPPDATA%\kpi_xl (docs/it-guide.md, "Which Python the button
# starts"): the offline installer (kpi_xl.bundle) makes that venv without admin rights, whatever
# Python 3.11-3.13 the PC has; xlwings' RunPython starts the interpreter through `cmd.exe /C ...
# 2> log` in a hidden window and waits, so a console python.exe shows no window, is waited for,
# and its errors (no module kpi_xl, a broken pywin32) reach xlwings' error box — none of which is
# certain for the GUI-subsystem pythonw.exe. `xlwings release` picks the same form
# (%LOCALAPPDATA%\<project>\python.exe). IT overrides it with `kpi-xl build --interpreter ...`.
DEFAULT_INTERPRETER = r"%LOCALAPPDATA%\kpi_xl\venv\Scripts\python.exe"
PARALLEL_THRESHOLD = 4


# ---------------------------------------------------------------------------------------------
# Fixed text from the catalog: the spec's `source` keys.


@dataclass(frozen=True, slots=True)
class Context:
    """What a `source` needs to produce its text."""

    catalog: Catalog
    indicator: Indicator
    district: DistrictRef
    past: model.DistrictPast | None = None

    @property
    def office_th(self) -> str:
        return f"สำนักงานเขต{self.district.name_th}"


def _num(x: float) -> str:
    return f"{x:,.2f}".rstrip("0").rstrip(".") if not float(x).is_integer() else f"{int(x):,}"


def _box(ctx: Context, kind: str) -> str:
    ticked = ctx.indicator.result_type.value == kind
    label = {"output": "ผลผลิต (Output)", "outcome": "ผลลัพธ์ (Outcome)"}[kind]
    return f"{'☑' if ticked else '☐'} {label}"


def _direction_text(ctx: Context) -> str:
    if ctx.indicator.direction is Direction.LOWER:
        return "(ยิ่งน้อยยิ่งดี / lower is better)"
    return "(ยิ่งมากยิ่งดี / higher is better)"


def _criteria_header(ctx: Context) -> str:
    return {
        Scoring.MILESTONE: "ขั้นความสำเร็จ (บรรลุครบทุกขั้นก่อนหน้า จึงนับระดับนั้น)",
        Scoring.THRESHOLDS: "ผลงานที่ได้คะแนนระดับนั้น (ระหว่างระดับคิดตามสัดส่วน)",
        Scoring.PASS_FAIL: "ผ่าน / ไม่ผ่าน เทียบกับเป้าหมาย",
    }[ctx.indicator.scoring]


def _criterion(n: int) -> Callable[[Context], str]:
    def text(ctx: Context) -> str:
        ind = ctx.indicator
        if ind.scoring is Scoring.MILESTONE:
            return ind.levels[n - 1] if len(ind.levels) >= n else ""
        sign = "≥" if ind.direction is Direction.HIGHER else "≤"
        if ind.scoring is Scoring.THRESHOLDS:
            return f"ผลงาน {sign} {_num(ind.thresholds[n - 1])} {ind.unit}" if len(ind.thresholds) >= n else ""
        if n == 1:
            return f"ผ่าน = 5 คะแนน (ผลงาน {sign} เป้าหมาย {_num(ind.target)} {ind.unit})"
        if n == 2:
            return "ไม่ผ่าน = 0 คะแนน"
        return ""

    return text


def _criterion_score(ind: Indicator, name: str) -> Any:
    """The score beside criterion n in the criteria table of a thresholds or pass/fail indicator."""
    n = int(name.rsplit("_", 1)[1]) if name.rsplit("_", 1)[-1].isdigit() else 0
    if ind.scoring is Scoring.THRESHOLDS and 1 <= n <= 5:
        return n
    if ind.scoring is Scoring.PASS_FAIL and n in (1, 2):
        return 5 if n == 1 else 0
    return ""


def _last_year(ctx: Context) -> str:
    """The row beside this year's result: last year's result and score, or that the indicator is new."""
    past = ctx.past
    if past is None:
        return ""
    ind, fy = ctx.indicator, past.fiscal_year
    found = past.last_year.get(ind.code)
    if found is not None:
        value = "-" if found.year_value is None else f"{_num(found.year_value)} {ind.unit}"
        score = "-" if found.score is None else f"{found.score:.2f}"
        return (f"ปีงบประมาณ {fy} (ไตรมาส {found.quarter}): ผลงาน {value} คะแนน {score} "
                f"(last year's result and score)")
    if ind.code in past.known:
        return f"ปีงบประมาณ {fy}: ไม่มีผลของเขตนี้ (no result for this district last year)"
    return f"ปีงบประมาณ {fy}: ตัวชี้วัดใหม่ (new indicator)"


SOURCES: dict[str, Callable[[Context], str]] = {
    "form_title": lambda ctx: load_spec().title,
    "office_and_year": lambda ctx: f"{ctx.office_th} ปีงบประมาณ พ.ศ. {ctx.catalog.fiscal_year}",
    "box_output": lambda ctx: _box(ctx, "output"),
    "box_outcome": lambda ctx: _box(ctx, "outcome"),
    # The KPI's kind beside its output/outcome level, as BMA's KPI monitor shows it.
    "kpi_kind": lambda ctx: ctx.indicator.kind.th,
    "dimension": lambda ctx: ctx.catalog.dimension(ctx.indicator.dimension).label_th,
    "sub_issue": lambda ctx: ctx.indicator.sub_issue or "-",
    "goal": lambda ctx: ctx.indicator.goal or "-",
    "definition": lambda ctx: ctx.indicator.definition,
    "method": lambda ctx: ctx.indicator.method,
    "direction_text": _direction_text,
    "unit_paren": lambda ctx: f"({ctx.indicator.unit})",
    "criteria_title": lambda ctx: "เกณฑ์การให้คะแนน",
    "criteria_header": _criteria_header,
    "criteria_input_header": lambda ctx: (
        "ไตรมาสที่บรรลุ" if ctx.indicator.scoring is Scoring.MILESTONE else "คะแนน"
    ),
    **{f"criterion_{n}": _criterion(n) for n in range(1, 6)},
    "last_year": _last_year,
    "value_header": lambda ctx: (
        "" if ctx.indicator.scoring is Scoring.MILESTONE else f"ผล ({ctx.indicator.unit})"
    ),
}


def source_text(key: str, ctx: Context) -> str:
    try:
        return SOURCES[key](ctx)
    except KeyError:
        raise KeyError(f"form_spec.yaml uses source {key!r}, unknown to kpi_xl.template.SOURCES") from None


# ---------------------------------------------------------------------------------------------
# Row heights: Excel and LibreOffice do not grow merged cells, so the writer sizes rows itself.


@lru_cache(maxsize=8192)
def text_width(text: str) -> int:
    """Spacing characters only: Thai vowels and tone marks above/below take no width."""
    return sum(1 for ch in text if not unicodedata.combining(ch) and unicodedata.category(ch) not in ("Mn", "Cf"))


@lru_cache(maxsize=8192)
def text_lines(text: str, width_units: float) -> int:
    per_line = max(1, int(width_units * CHARS_PER_WIDTH))
    return sum(max(1, math.ceil(text_width(part) / per_line)) for part in str(text).split("\n"))


def row_height(texts: Iterable[tuple[str, float]], *, min_lines: int = 1) -> float:
    """Points for a row holding ``(text, column width units)`` pairs, tall enough for every text."""
    lines = max([min_lines, *(text_lines(t, w) for t, w in texts if t)])
    return round(lines * LINE_HEIGHT + ROW_PAD, 1)


# ---------------------------------------------------------------------------------------------
# XlsxWriter runs ~500 regular expressions over every conditional-format formula to spell out
# "future functions"; the same few formulas recur on every sheet of every workbook, so the result
# is remembered (same input, same output: the files do not change, the build gets faster).

_PREPARED: dict[tuple[str, bool], str] = {}


class _Worksheet(Worksheet):
    def _prepare_formula(self, formula: str, expand_future_functions: bool = False) -> str:
        key = (formula, expand_future_functions or bool(self.use_future_functions))
        found = _PREPARED.get(key)
        if found is None:
            found = _PREPARED[key] = super()._prepare_formula(formula, expand_future_functions)
        return found


# ---------------------------------------------------------------------------------------------
# Formats: one set per workbook.


class _Formats:
    def __init__(self, book: Workbook):
        base = {"font_name": FONT, "font_size": FONT_SIZE, "valign": "top", "text_wrap": True}
        dotted = {"bottom": 4, "bottom_color": "#808080"}
        unlocked = {"locked": False}
        inputs = {**dotted, "locked": False, "bg_color": INPUT_FILL}

        def add(**props: Any) -> Any:
            return book.add_format({**base, **props})

        self.title = add(bold=True, align="center", valign="vcenter")
        self.subtitle = add(bold=True)
        self.label = add(bold=True)
        self.section = add(bold=True)
        self.text = add()
        self.text_center = add(align="center")
        self.header = add(bold=True, align="center", valign="vcenter", border=1, bg_color="#F2F2F2")
        self.criterion = add(border=1)
        self.criterion_fixed = add(border=1, align="center")
        self.criterion_input = add(border=1, align="center", **unlocked, bg_color=INPUT_FILL)
        self.fixed_number = add(align="left", num_format="General")
        self.unit = add(align="left", num_format='"("@")"')
        self.code = add(bold=True, align="center")
        self.input_text = add(**inputs)
        self.input_number = add(**inputs, align="center", num_format="#,##0.00")
        self.input_date = add(**inputs, align="left", num_format=thai.BE_DATE_FORMAT)
        self.input_quarter = add(**inputs, align="center", num_format="0")
        self.read_only = add(**dotted, bg_color="#EDEDED")  # another section's input, locked
        self.past = add(italic=True, font_color="#404040", border=1, bg_color="#F2F2F2")
        self.score = add(bold=True, align="center", num_format="0.00", border=1)
        self.met = add(bold=True, align="center", border=1)
        self.helper = add(num_format="0.00")
        self.required = book.add_format({"bg_color": REQUIRED_FILL})
        # summary
        self.th = add(bold=True, align="center", valign="vcenter", border=1, bg_color="#F2F2F2")
        self.td = add(border=1)
        self.td_center = add(border=1, align="center")
        self.td_number = add(border=1, align="right", num_format="#,##0.##")
        self.td_score = add(border=1, align="center", num_format="0.00")
        self.total_label = add(bold=True, border=1, align="right")
        self.total = add(bold=True, border=1, align="center", num_format="0.00")
        self.link = add(font_color="#1F4E79", underline=1)
        self.cover_input = add(bold=True, align="center", valign="vcenter", border=2, **unlocked,
                               num_format="0", bg_color="#FFF2CC")
        self.plain = book.add_format({"font_name": FONT, "font_size": FONT_SIZE})


# ---------------------------------------------------------------------------------------------
# Excel's own checks.


def _validation(field: FieldSpec, ind: Indicator, fiscal_year: int, ref: str = "A1") -> dict[str, Any]:
    """Excel's own check for one input; ``ref`` is the input's (relative) A1, which custom rules read."""
    prompt = (field.prompt_th or field.label_th)[:255]
    title = field.label_th if len(field.label_th) <= 32 else field.label_th.split(" (")[0][:32]
    common = {"input_title": title, "input_message": prompt, "ignore_blank": True}
    if field.type == "quarter":
        return {**common, "validate": "list", "source": [1, 2, 3, 4], "error_type": "stop",
                "error_title": "ไตรมาสไม่ถูกต้อง",
                "error_message": "เลือกไตรมาส 1, 2, 3 หรือ 4 จากรายการ หรือเว้นว่างถ้ายังไม่บรรลุ\n"
                                 "Choose quarter 1-4, or leave blank if not reached yet."}
    if field.type == "date":
        start, end = thai.fiscal_year_start(fiscal_year), thai.fiscal_year_end(fiscal_year)
        return {**common, "validate": "date", "criteria": "between", "minimum": start, "maximum": end,
                "error_type": "warning", "error_title": "วันที่อยู่นอกปีงบประมาณ",
                "error_message": f"วันที่ต้องอยู่ระหว่าง {thai.format_thai_date(start)} ถึง "
                                 f"{thai.format_thai_date(end)} (ปีงบประมาณ {fiscal_year})\n"
                                 f"The date must fall inside fiscal year {fiscal_year}."}
    if field.type == "number":
        # One custom rule per kind over scoring.excel_number, so Thai digits, thousands commas and
        # spaces typed as text pass exactly when the number they stand for would (Excel's decimal
        # rule refuses every text). Each rule uses the normalised number once: Excel caps a rule at
        # 255 characters.
        kind = ind.value_kind
        whole = kind is ValueKind.COUNT and (field.quarter is not None or ind.aggregation.value != "mean")
        n = scoring.excel_number(ref)
        if kind is ValueKind.PERCENT:
            check = f"ABS({n}-50)<=50"
            why = "ร้อยละต้องอยู่ระหว่าง 0 ถึง 100\nA percentage must be between 0 and 100."
        elif kind is ValueKind.COUNT and whole:
            check = f'AND({n}>=0,ISERR(FIND(".",{ref})))'
            why = "จำนวนต้องเป็นจำนวนเต็มตั้งแต่ 0 ขึ้นไป\nA count must be a whole number, 0 or more."
        elif kind is ValueKind.COUNT:
            check = f"{n}>=0"
            why = "จำนวนต้องไม่ติดลบ\nA count cannot be negative."
        elif kind is ValueKind.LEVEL:
            check = f"ABS({n}-2.5)<=2.5"
            why = "ระดับต้องอยู่ระหว่าง 0 ถึง 5\nA level must be between 0 and 5."
        else:
            check = f"ABS({n})<=1E+15"
            why = "ต้องเป็นตัวเลข เช่น 10 หรือ ๑๐\nEnter a number such as 10."
        return {**common, "validate": "custom", "value": "=" + check, "error_type": "stop",
                "error_title": "ค่าไม่ถูกต้อง", "error_message": why}
    return {**common, "validate": "any"}


# ---------------------------------------------------------------------------------------------
# Sheets.


def _quoted(sheet: str) -> str:
    return "'" + sheet.replace("'", "''") + "'"


def _absolute(row: int, col: int) -> str:
    return xl_rowcol_to_cell(row, col, row_abs=True, col_abs=True)


def _define(book: Workbook, sheet: str, name: str, row: int, col: int) -> None:
    book.define_name(f"{_quoted(sheet)}!{name}", f"={_quoted(sheet)}!{_absolute(row, col)}")


def _setup_page(ws: Worksheet, spec: FormSpec, footer_left: str, last_row: int, last_col: int,
                repeat: tuple[int, int] | None, *, landscape: bool = False) -> None:
    """A4 at a fixed PRINT_SCALE, never fit-to-width: fitting printed the forms at 7-8.5 pt (LibreOffice
    also fits a long sheet's height). The columns are sized so the print area fits the page width at
    that scale (the form: 80 width units portrait); a long sheet continues on a second page, titles repeated."""
    ws.set_paper(9)  # A4
    if landscape:
        ws.set_landscape()
    else:
        ws.set_portrait()
    ws.set_print_scale(PRINT_SCALE)
    ws.set_margins(**MARGINS, )
    ws.hide_gridlines(2)
    font = f'&"{FONT},Regular"&14'
    ws.set_footer(f"&L{font}{footer_left}&R{font}หน้า &P / &N", {"margin": 0.3})
    ws.print_area(0, 0, last_row, last_col)
    if repeat is not None:
        ws.repeat_rows(*repeat)


def _protect(ws: Worksheet, password: str | None) -> None:
    ws.protect(password or "", {
        "format_rows": True,  # a clerk may make a row taller for a long narrative
        "insert_rows": True,
        "select_locked_cells": True,
        "select_unlocked_cells": True,
    })


def _buttons(ws: Worksheet, row: int = 0) -> None:
    ws.insert_button(row, BUTTON_COL, {"macro": VALIDATE_MACRO, "caption": VALIDATE_CAPTION,
                                       "width": 150, "height": 40, "x_offset": 8, "y_offset": 6})
    ws.insert_button(row + 2, BUTTON_COL, {"macro": CLEAR_MACRO, "caption": CLEAR_CAPTION,
                                           "width": 150, "height": 32, "x_offset": 8, "y_offset": 6})
    ws.insert_button(row + 4, BUTTON_COL, {"macro": SUBMIT_MACRO, "caption": SUBMIT_CAPTION,
                                           "width": 150, "height": 32, "x_offset": 8, "y_offset": 6})


def _spec_widths(spec: FormSpec) -> list[float]:
    return [spec.columns.get(c, 10) for c in COLUMNS]


def _write_indicator(book: Workbook, fmt: _Formats, spec: FormSpec, ctx: Context, *, macros: bool,
                     password: str | None, editable: bool = True) -> None:
    """One indicator's form page. ``editable=False`` (another section's sheet in a section copy)
    keeps every name and formula but locks the inputs and drops their Excel checks, so the sheet
    reads and prints the same and only its owner's copy can fill it."""
    ind = ctx.indicator
    sheet = ind.code
    ws = book.add_worksheet(sheet, worksheet_class=_Worksheet)
    widths = _spec_widths(spec)
    for c, width in enumerate(widths):
        hidden = COLUMNS[c] in spec.hidden_columns
        ws.set_column(c, c, width, None, {"hidden": True} if hidden else None)
    ws.set_column(BUTTON_COL, BUTTON_COL, 22)
    applies = {f.name for f in spec.fields_for(ind.scoring.value)}
    empty = scoring.score_indicator(ind)
    empty_year = scoring.year_value(ind, None, {}, {})
    cached: dict[str, Any] = {
        "year_value": "" if empty_year is None else empty_year,
        "score": "" if empty.value is None else empty.value,
        "target_met": empty.target_met_th,
    }
    formulas = {
        "year_value": scoring.excel_year_value(ind),
        "score": scoring.excel_score(ind),
        "target_met": scoring.excel_target_met(ind),
    }
    fixed: dict[str, Any] = {"kpi_code": ind.code, "kpi_name": ind.name_th, "target_value": ind.target,
                             "target_unit": ind.unit}
    fixed_fmt = {"kpi_code": fmt.code, "kpi_name": fmt.text, "target_value": fmt.fixed_number,
                 "target_unit": fmt.unit}
    input_fmt = {"text": fmt.input_text, "number": fmt.input_number, "date": fmt.input_date,
                 "quarter": fmt.input_quarter}
    criteria_rows = {r for r, row in enumerate(spec.rows) if any((c.source or "").startswith("criterion_")
                                                                  for c in row.cells)}

    for r, row in enumerate(spec.rows):
        texts: list[tuple[str, float]] = []
        min_lines = 1
        label_fmt = {"title": fmt.title, "section": fmt.section, "header": fmt.header}.get(row.style, fmt.label)
        if row.label:
            ws.write_string(r, 0, row.label, label_fmt)
            texts.append((row.label, widths[0]))
        for cell in row.cells:
            c, span = cell.col_index, cell.span
            width = sum(widths[c:c + span])
            value: Any = ""
            cell_fmt = {"title": fmt.title, "subtitle": fmt.subtitle, "section": fmt.section,
                        "header": fmt.header}.get(row.style, fmt.text)
            if r in criteria_rows and cell.source:
                cell_fmt = fmt.criterion
            if row.style == "past":
                cell_fmt = fmt.past if ctx.past is not None else fmt.text
            if cell.text is not None:
                value = cell.text
            elif cell.source is not None:
                value = source_text(cell.source, ctx)
            elif cell.name is not None:
                field = spec.fields[cell.name]
                if cell.name not in applies:
                    cell_fmt = fmt.text
                    if r in criteria_rows:  # beside a threshold: the score it gives (fixed, unnamed)
                        value, cell_fmt = _criterion_score(ind, cell.name), fmt.criterion_fixed
                elif field.type == "fixed":
                    value, cell_fmt = fixed[cell.name], fixed_fmt[cell.name]
                elif field.type == "computed":
                    cf = fmt.helper if cell.name == "year_value" else fmt.score if cell.name == "score" else fmt.met
                    ws.write_formula(r, c, formulas[cell.name], cf, cached[cell.name])
                    _define(book, sheet, cell.name, r, c)
                    continue
                elif not editable:
                    cell_fmt = fmt.criterion_fixed if r in criteria_rows else fmt.read_only
                else:
                    cell_fmt = fmt.criterion_input if r in criteria_rows else input_fmt[field.type]
                    if field.type == "text" and span > 1:
                        min_lines = max(min_lines, 2 if field.quarter or field.name == "year_summary" else 1)
                    ws.data_validation(r, c, r, c + span - 1,
                                       _validation(field, ind, ctx.catalog.fiscal_year, xl_rowcol_to_cell(r, c)))
                    if field.required_from is not None:
                        target = _absolute(r, c)
                        ws.conditional_format(r, c, r, c + span - 1, {
                            "type": "formula",
                            "criteria": f"=AND(LEN({target})=0,report_quarter>={field.required_from})",
                            "format": fmt.required,
                        })
                if cell.name in applies:
                    _define(book, sheet, cell.name, r, c)
            if isinstance(value, str) and value:
                texts.append((value, width))
            if span > 1:
                ws.merge_range(r, c, r, c + span - 1, value, cell_fmt)
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                ws.write_number(r, c, value, cell_fmt)
            else:
                ws.write_string(r, c, str(value), cell_fmt) if value != "" else ws.write_blank(r, c, None, cell_fmt)
        if row.style == "blank":
            ws.set_row(r, LINE_HEIGHT)
        else:
            ws.set_row(r, row_height(texts, min_lines=min_lines) + (6 if row.style == "title" else 0))

    _write_helpers(ws, fmt, spec, applies)
    last_col = COLUMNS.index(spec.print_area_last_col)
    _setup_page(ws, spec, f"{ctx.office_th} ปีงบประมาณ {ctx.catalog.fiscal_year} · {ind.code}",
                len(spec.rows) - 1, last_col, (0, 1))
    # Readable print takes two pages: break before the last numbered section heading (the quarterly
    # reports), so page 1 says what the indicator is and page 2 holds what the district reports and signs.
    sections = [r for r, row in enumerate(spec.rows) if row.style == "section" and row.label]
    if sections:
        ws.set_h_pagebreaks([sections[-1]])
    if macros:
        _buttons(ws)
    if not editable:
        ws.set_tab_color("#A6A6A6")
    _protect(ws, password)


def _write_helpers(ws: Worksheet, fmt: _Formats, spec: FormSpec, applies: set[str]) -> None:
    """The hidden helper column: the reporting quarter, then every number/quarter input as a number.

    Why helpers: the score formulas read each input once through them, so Thai digits typed as text
    and quarters after the reporting one are handled in one place, generated from the form spec.
    """
    col = spec.helper_col
    ws.set_column(col, col, 10, fmt.helper, {"hidden": True})
    rq = spec.quarter_helper_a1
    ws.write_formula(QUARTER_HELPER_ROW, col, scoring.excel_quarter_helper(), fmt.helper, 1)
    for field in spec.helped_fields():
        if field.name not in applies:
            continue
        row, c = spec.addresses[field.name]
        formula = scoring.excel_input_helper(field.type, xl_rowcol_to_cell(row, c), field.quarter, rq)
        ws.write_formula(row, col, formula, fmt.helper, "")


def _cover_cell(spec: FormSpec) -> tuple[int, int]:
    cell = spec.workbook_names["report_quarter"].cell
    assert cell is not None, "form_spec.yaml: workbook_names.report_quarter needs a cell"
    letters = "".join(ch for ch in cell if ch.isalpha())
    return int(cell[len(letters):]) - 1, COLUMNS.index(letters.upper())


def _write_cover(book: Workbook, fmt: _Formats, spec: FormSpec, catalog: Catalog, district: DistrictRef,
                 indicators: Sequence[Indicator], *, macros: bool, password: str | None, section: str = "") -> None:
    ws = book.add_worksheet(worksheet_class=_Worksheet, name=spec.sheets["cover"])
    widths = [4.0, 28.0, 8.0, 14.0, 13.0, 13.0]  # 80 units: the page width at PRINT_SCALE
    for c, w in enumerate(widths):
        ws.set_column(c, c, w)
    total = sum(widths)
    q_row, q_col = _cover_cell(spec)
    office = f"สำนักงานเขต{district.name_th}"
    fy = catalog.fiscal_year
    head = [
        ("คำชี้แจงการรายงานผลการดำเนินงานตามแผนปฏิบัติราชการ (ส่วนที่ 2 แยกรายตัวชี้วัด)", fmt.title),
        (f"{office} ({district.name_en} District Office) · รหัสเขต {district.code}", fmt.subtitle),
        (f"ปีงบประมาณ พ.ศ. {fy} (fiscal year {thai.to_ce(fy)})", fmt.subtitle),
        (catalog.title_th, fmt.text),
    ]
    if section:
        head.append((f"สำเนาของ {section} — กรอกได้เฉพาะตัวชี้วัดของหน่วยงานนี้ แผ่นงานสีเทาเป็นของหน่วยงานอื่น "
                     f"(section copy: only this section's indicators can be filled)", fmt.section))
    if len(head) > q_row:
        raise ValueError(f"form_spec.yaml puts report_quarter on row {q_row + 1}; the cover needs {len(head)} rows above it")
    for r, (text, f) in enumerate(head):
        ws.merge_range(r, 0, r, 5, text, f)
        ws.set_row(r, row_height([(text, total)]) + (6 if f is fmt.title else 0))
    for r in range(len(head), q_row):
        ws.set_row(r, LINE_HEIGHT / 2)
    # The reporting quarter: a dropdown the conditional formats and the button both read.
    label = "ไตรมาสที่รายงาน (Reporting quarter) :"
    if q_col > 1:
        ws.merge_range(q_row, 0, q_row, q_col - 1, label, fmt.label)
    else:
        ws.write_string(q_row, 0, label, fmt.label)
    ws.write_number(q_row, q_col, 1, fmt.cover_input)
    if q_col < 5:
        ws.merge_range(q_row, q_col + 1, q_row, 5, "← เลือก 1–4 ทุกครั้งก่อนกดปุ่ม ตรวจสอบข้อมูล", fmt.text)
    ws.set_row(q_row, max(30.0, row_height([(label, sum(widths[:q_col]))])))
    ws.data_validation(q_row, q_col, q_row, q_col, {
        "validate": "list", "source": [1, 2, 3, 4], "ignore_blank": False,
        "input_title": "ไตรมาสที่รายงาน", "input_message": "เลือกไตรมาสที่กำลังรายงาน (1–4); "
        "ช่องที่ต้องกรอกของไตรมาสนั้นจะมีพื้นสีส้มจนกว่าจะกรอก",
        "error_type": "stop", "error_title": "ไตรมาสไม่ถูกต้อง",
        "error_message": "เลือก 1, 2, 3 หรือ 4 จากรายการ\nChoose quarter 1, 2, 3 or 4.",
    })
    book.define_name("report_quarter", f"={_quoted(ws.name)}!{_absolute(q_row, q_col)}")

    lines: list[tuple[str, Any, str | None]] = [("", fmt.text, None)]
    lines.append(("กำหนดส่งรายงาน (Deadlines)", fmt.section, None))
    months = {1: "ต.ค.–ธ.ค.", 2: "ม.ค.–มี.ค.", 3: "เม.ย.–มิ.ย.", 4: "ก.ค.–ก.ย."}
    for q in (1, 2, 3, 4):
        due = catalog.deadlines.get(q)
        when = f"ส่งภายในวันที่ {thai.format_thai_date(due)}" if due else "ตามที่สำนักงานแจ้ง"
        lines.append((f"ไตรมาสที่ {q} ({months[q]}) : {when}", fmt.text, None))
    lines += [
        ("", fmt.text, None),
        ("วิธีกรอกข้อมูล (How to fill)", fmt.section, None),
        ("1. แต่ละตัวชี้วัดมีแผ่นงานของตนเอง (ชื่อแผ่นงานคือรหัสตัวชี้วัด) ข้อความที่สำนักงานกำหนด "
         "(ชื่อ คำนิยาม วิธีการคำนวณ เป้าหมาย) ถูกล็อกไว้ กรอกได้เฉพาะช่องพื้นสีฟ้าอ่อนที่มีเส้นประด้านล่าง", fmt.text, None),
        ("2. เลือกไตรมาสที่รายงานในช่องด้านบน ช่องที่ต้องกรอกในไตรมาสนั้นจะมีพื้นสีส้มจนกว่าจะกรอก", fmt.text, None),
        ("3. ข้อ 6 กรอกผลการดำเนินงานรายไตรมาส (ระบุวันที่ของกิจกรรม เช่น 23 ธันวาคม 2563) "
         "ตัวชี้วัดเชิงปริมาณกรอกตัวเลขในช่อง ผล ด้วย", fmt.text, None),
        ("4. ตัวชี้วัดแบบขั้นความสำเร็จ เลือกไตรมาสที่บรรลุแต่ละระดับในตารางเกณฑ์การให้คะแนน "
         "(เว้นว่างถ้ายังไม่บรรลุ) คะแนนและผลการประเมินคำนวณให้อัตโนมัติ", fmt.text, None),
        ("5. ไตรมาสที่ 4 กรอกสรุปผลการดำเนินงาน หลักฐานอ้างอิง และชื่อ ตำแหน่ง วันที่ของผู้รับผิดชอบ", fmt.text, None),
        ("6. ห้ามเปลี่ยนชื่อแผ่นงานหรือลบแถว แทรกแถวเพิ่มได้ถ้าจำเป็น", fmt.text, None),
        ("", fmt.text, None),
        ("การตรวจสอบข้อมูล (Validate)", fmt.section, None),
        ("กดปุ่ม \"ตรวจสอบข้อมูล\" ที่มุมขวาบนของแผ่นงานตัวชี้วัดหรือแผ่นงานสรุป ระบบจะทำเครื่องหมายสีแดงที่ช่องผิด "
         "(สีเหลือง = คำเตือน) พร้อมบันทึกคำอธิบาย เติมคะแนน และสรุปรายการที่ต้องแก้ไว้ในแผ่นงาน ผลการตรวจสอบ "
         "กดปุ่ม \"ล้างเครื่องหมาย\" เพื่อลบเครื่องหมายออก", fmt.text, None),
        ("ถ้าเปิดแฟ้มแล้วแมโครถูกปิดกั้น ให้กด Enable Content หรือส่งแฟ้มให้สำนักงานตรวจด้วยคำสั่ง kpi-xl validate "
         "(ข้อมูลที่ Excel ตรวจเองได้ เช่น รายการไตรมาส ช่วงวันที่ และตัวเลข ยังทำงานแม้ไม่เปิดแมโคร)", fmt.text, None),
        ("", fmt.text, None),
        ("ตัวชี้วัดในแฟ้มนี้ (Indicators in this workbook)", fmt.section, None),
    ]
    for ind in indicators:
        lines.append((f"{ind.code}  {ind.name_th}", fmt.link, f"internal:{_quoted(ind.code)}!A1"))
    lines.append((f"สรุปผล: แผ่นงาน {spec.sheets['summary']}", fmt.link,
                  f"internal:{_quoted(spec.sheets['summary'])}!A1"))
    r = q_row + 1
    for text, f, url in lines:
        if url:
            ws.merge_range(r, 0, r, 5, "", f)
            ws.write_url(r, 0, url, f, text)
        elif text:
            ws.merge_range(r, 0, r, 5, text, f)
        ws.set_row(r, row_height([(text, total)]) if text else LINE_HEIGHT)
        r += 1
    _setup_page(ws, spec, f"{office} ปีงบประมาณ {fy}", r - 1, 5, None)
    ws.activate()
    _protect(ws, password)


def _write_summary(book: Workbook, fmt: _Formats, spec: FormSpec, catalog: Catalog, district: DistrictRef,
                   indicators: Sequence[Indicator], *, macros: bool, password: str | None) -> None:
    ws = book.add_worksheet(worksheet_class=_Worksheet, name=spec.sheets["summary"])
    widths = [10, 44, 10, 10, 10, 9, 11, 8]
    for c, w in enumerate(widths):
        ws.set_column(c, c, w)
    ws.set_column(BUTTON_COL + 1, BUTTON_COL + 1, 22)
    office = f"สำนักงานเขต{district.name_th}"
    title = (f"สรุปผลการดำเนินงานส่วนที่ 2 ผลสัมฤทธิ์การปฏิบัติงานตามแผนปฏิบัติการประจำปี "
             f"{office} ปีงบประมาณ พ.ศ. {catalog.fiscal_year}")
    ws.merge_range(0, 0, 0, 7, title, fmt.title)
    ws.set_row(0, row_height([(title, sum(widths))]) + 6)
    headers = ["รหัส", "ชื่อตัวชี้วัด", "เป้าหมาย", "หน่วยนับ", "ผลงาน", "คะแนน", "ผลการประเมิน", "น้ำหนัก"]
    for c, h in enumerate(headers):
        ws.write_string(1, c, h, fmt.th)
    ws.set_row(1, row_height([(h, widths[c]) for c, h in enumerate(headers)]))
    first = 2
    for i, ind in enumerate(indicators):
        r = first + i
        s = _quoted(ind.code)
        empty = scoring.score_indicator(ind)
        empty_year = scoring.year_value(ind, None, {}, {})
        ws.write_url(r, 0, f"internal:{s}!A1", fmt.td_center, ind.code)
        ws.write_string(r, 1, ind.name_th, fmt.td)
        ws.write_number(r, 2, ind.target, fmt.td_number)
        ws.write_string(r, 3, ind.unit, fmt.td_center)
        ws.write_formula(r, 4, f"={s}!year_value", fmt.td_number, "" if empty_year is None else empty_year)
        ws.write_formula(r, 5, f"={s}!score", fmt.td_score, "" if empty.value is None else empty.value)
        ws.write_formula(r, 6, f"={s}!target_met", fmt.td_center, empty.target_met_th)
        ws.write_number(r, 7, ind.weight, fmt.td_number)
        ws.set_row(r, row_height([(ind.name_th, widths[1])]))
    last = first + len(indicators) - 1
    total_row = last + 1
    scores = xl_rowcol_to_cell(first, 5, True, True) + ":" + xl_rowcol_to_cell(last, 5, True, True)
    weights = xl_rowcol_to_cell(first, 7, True, True) + ":" + xl_rowcol_to_cell(last, 7, True, True)
    empty_total = scoring.district_score((i.weight, scoring.score_indicator(i).value) for i in indicators)
    ws.merge_range(total_row, 0, total_row, 4, "คะแนนถ่วงน้ำหนักของเขต (weighted district score)", fmt.total_label)
    ws.write_formula(total_row, 5, f"=ROUND(SUMPRODUCT({scores},{weights})/SUM({weights}),2)", fmt.total,
                     "" if empty_total is None else empty_total)
    ws.merge_range(total_row, 6, total_row, 7, "", fmt.total)
    ws.set_row(total_row, LINE_HEIGHT + ROW_PAD)
    _setup_page(ws, spec, f"{office} ปีงบประมาณ {catalog.fiscal_year} · สรุป", total_row, 7, (0, 1),
                landscape=True)  # 112 units: wider than portrait at PRINT_SCALE
    if macros:
        ws.insert_button(0, BUTTON_COL + 1, {"macro": VALIDATE_MACRO, "caption": VALIDATE_CAPTION,
                                             "width": 150, "height": 40, "x_offset": 8, "y_offset": 6})
        ws.insert_button(2, BUTTON_COL + 1, {"macro": CLEAR_MACRO, "caption": CLEAR_CAPTION,
                                             "width": 150, "height": 32, "x_offset": 8, "y_offset": 6})
        ws.insert_button(4, BUTTON_COL + 1, {"macro": SUBMIT_MACRO, "caption": SUBMIT_CAPTION,
                                             "width": 150, "height": 32, "x_offset": 8, "y_offset": 6})
    _protect(ws, password)


def _write_results(book: Workbook, spec: FormSpec, footer: str) -> None:
    """An empty ผลการตรวจสอบ sheet with its print layout: the button (xlwings) and --annotate only
    fill rows into it, so both give a list that prints landscape at the forms' fixed scale, its
    columns (RESULTS_WIDTHS) as wide as the page."""
    from .marks import RESULTS_WIDTHS

    ws = book.add_worksheet(worksheet_class=_Worksheet, name=spec.sheets["results"])
    for c, width in enumerate(RESULTS_WIDTHS):
        ws.set_column(c, c, width)
    ws.set_paper(9)
    ws.set_landscape()
    ws.set_print_scale(PRINT_SCALE)
    ws.set_margins(**MARGINS)
    font = f'&"{FONT},Regular"&14'
    ws.set_footer(f"&L{font}{footer} · {spec.sheets['results']}&R{font}หน้า &P / &N", {"margin": 0.3})
    ws.write_string(0, 0, "ยังไม่ได้ตรวจ: กดปุ่ม ตรวจสอบข้อมูล / not checked yet")


def _write_report_sheet(book: Workbook, fmt: _Formats, spec: FormSpec, key: str,
                        rows: Sequence[Mapping[str, Any]], footer: str, password: str | None) -> None:
    """A read-only list laid out by ``spec.report_sheets[key]``; every value is written as text,
    since it may come from a workbook a clerk typed (a leading "=" stays text, never a formula)."""
    layout = spec.report_sheets[key]
    ws = book.add_worksheet(worksheet_class=_Worksheet, name=spec.sheets[layout.sheet])
    widths = [c.width for c in layout.columns]
    last = len(widths) - 1
    for c, width in enumerate(widths):
        ws.set_column(c, c, width)
    ws.merge_range(0, 0, 0, last, layout.title, fmt.title)
    ws.set_row(0, row_height([(layout.title, sum(widths))]) + 6)
    for c, column in enumerate(layout.columns):
        ws.write_string(1, c, f"{column.th}\n{column.en}", fmt.th)
    ws.set_row(1, row_height([(f"{c.th}\n{c.en}", c.width) for c in layout.columns]))
    for r, item in enumerate(rows, start=2):
        texts = []
        for c, column in enumerate(layout.columns):
            value = item.get(column.key)
            text = "" if value is None else str(value)
            if text:
                ws.write_string(r, c, text, fmt.td)
                texts.append((text, widths[c]))
            else:
                ws.write_blank(r, c, None, fmt.td)
        ws.set_row(r, row_height(texts))
    ws.set_paper(9)
    ws.set_landscape()
    ws.set_print_scale(PRINT_SCALE)  # the spec's widths add up to the 112 units of the landscape page
    ws.set_margins(**MARGINS)
    ws.repeat_rows(0, 1)
    font = f'&"{FONT},Regular"&14'
    ws.set_footer(f"&L{font}{footer} · {ws.name}&R{font}หน้า &P / &N", {"margin": 0.3})
    ws.print_area(0, 0, max(1, len(rows) + 1), last)
    _protect(ws, password)


def _write_meta(book: Workbook, spec: FormSpec, rows: list[tuple[str, str]]) -> None:
    ws = book.add_worksheet(worksheet_class=_Worksheet, name=spec.sheets["meta"])
    ws.set_column(0, 0, 20)
    ws.set_column(1, 1, 60)
    where: dict[str, int] = {}
    for r, (key, value) in enumerate(rows):
        ws.write_string(r, 0, key)
        ws.write_string(r, 1, value)
        where[key] = r
    for name, wbname in spec.workbook_names.items():
        if wbname.sheet == "meta" and wbname.key is not None:
            book.define_name(name, f"={_quoted(ws.name)}!{_absolute(where[wbname.key], 1)}")
    ws.hide()


def xlwings_settings(interpreter: str | None = None) -> list[tuple[str, Any]]:
    """Rows of the ``xlwings.conf`` sheet: keys as xlwings' VBA reads them (A1 down, no gaps)."""
    return [
        ("Interpreter_Win", interpreter or DEFAULT_INTERPRETER),
        ("Interpreter_Mac", ""),
        ("PYTHONPATH", ""),
        ("Conda Path", ""),
        ("Conda Env", ""),
        ("UDF Modules", ""),
        ("Debug UDFs", False),
        ("Use UDF Server", False),
        ("Show Console", False),
        # Not an xlwings setting (xlwings ignores unknown rows): the VBA module's version, which the
        # button compares with the PC's xlwings (kpi_xl.xlcompat); Python cannot read the VBA itself
        # without "Trust access to the VBA project object model".
        (VBA_VERSION_KEY, xlwings_vba_version()),
    ]


def _write_conf(book: Workbook, spec: FormSpec, interpreter: str | None) -> None:
    ws = book.add_worksheet(worksheet_class=_Worksheet, name=spec.sheets["conf"])
    ws.set_column(0, 0, 18)
    ws.set_column(1, 1, 60)
    for r, (key, value) in enumerate(xlwings_settings(interpreter)):
        ws.write_string(r, 0, key)
        if isinstance(value, bool):
            ws.write_boolean(r, 1, value)
        elif value:
            ws.write_string(r, 1, value)
    ws.hide()


# ---------------------------------------------------------------------------------------------
# Public API.


def output_name(catalog: Catalog, district_code: int, *, macros: bool = True) -> str:
    """``{FY}_{code}_{name_en}.xlsm`` (``.xlsx`` without macros), e.g. ``2564_1030_Chatuchak.xlsm``."""
    known = reference.districts().get(district_code)
    slug = known.slug if known else "_".join(catalog.district(district_code).name_en.replace("-", " ").split())
    return f"{catalog.fiscal_year}_{district_code}_{slug}.{'xlsm' if macros else 'xlsx'}"


def default_build_time(catalog: Catalog) -> dt.datetime:
    """A fixed time derived from the catalog (the fiscal year's first day), for reproducible files."""
    start = thai.fiscal_year_start(catalog.fiscal_year)
    return dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC)


def _exists_message(path: Path) -> str:
    return (f"มีไฟล์ {path} อยู่แล้ว — ใช้ --force (force=True) เพื่อเขียนทับ / "
            f"{path} already exists — use --force (force=True) to overwrite it")


def workbook_bytes(catalog: Catalog, district_code: int, *, macros: bool = True, interpreter: str | None = None,
                   password: str | None = None, build_time: dt.datetime | None = None,
                   vba_projects: Mapping[int, bytes] | None = None,
                   report_sheets: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
                   section: str = "", editable: Collection[str] | None = None,
                   past: model.DistrictPast | None = None) -> bytes:
    """The finished workbook as bytes (the builders write them atomically).

    ``vba_projects`` (sheet count → vbaProject.bin) lets a caller hand over projects made once.
    ``report_sheets`` (key of the spec's ``report_sheets`` → rows of {column key: text}) adds those
    read-only list sheets after the summary, in the spec's order: an upgrade's change report and
    the entries carried over from the earlier workbook. ``section`` and ``editable`` (indicator
    codes) make a section's copy: its name in the metadata and on the cover, the other indicator
    sheets read-only. ``past`` (from head office's history) prints last year's result on every
    indicator sheet and travels in the metadata for the button's outlier warning.
    """
    spec = load_spec()
    district = catalog.district(district_code)
    indicators = catalog.for_district(district_code)
    when = build_time or default_build_time(catalog)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {
        "in_memory": True,
        "default_format_properties": {"font_name": FONT, "font_size": FONT_SIZE},
        "strings_to_numbers": False,
        "strings_to_formulas": False,
        "strings_to_urls": False,
    })
    book.set_properties({
        "title": f"รายงานผลการดำเนินงานตามแผนปฏิบัติราชการ ปีงบประมาณ {catalog.fiscal_year} สำนักงานเขต{district.name_th}",
        "subject": "ผลการดำเนินงานส่วนที่ 2 แยกรายตัวชี้วัด",
        "author": "kpi-xl",
        "company": "กรุงเทพมหานคร",
        "keywords": f"kpi-xl, {catalog.fiscal_year}, {district_code}, template {spec.template_version}",
        "comments": f"catalog {catalog.content_hash}",
        "created": when.astimezone(dt.UTC).replace(tzinfo=None),
    })
    book.set_size(1400, 900)
    fmt = _Formats(book)
    _write_cover(book, fmt, spec, catalog, district, indicators, macros=macros, password=password, section=section)
    for ind in indicators:
        _write_indicator(book, fmt, spec, Context(catalog, ind, district, past), macros=macros, password=password,
                         editable=editable is None or ind.code in editable)
    _write_summary(book, fmt, spec, catalog, district, indicators, macros=macros, password=password)
    for key in spec.report_sheets:
        if report_sheets and key in report_sheets:
            _write_report_sheet(book, fmt, spec, key, report_sheets[key],
                                f"สำนักงานเขต{district.name_th} ปีงบประมาณ {catalog.fiscal_year}", password)
    _write_results(book, spec, f"สำนักงานเขต{district.name_th} ปีงบประมาณ {catalog.fiscal_year}")
    rows = model.meta_rows(
        template_version=spec.template_version,
        fiscal_year=catalog.fiscal_year,
        district_code=district.code,
        district_name_th=district.name_th,
        district_name_en=district.name_en,
        catalog_hash=catalog.content_hash,
        indicator_codes=[i.code for i in indicators],
        build_time=when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        catalog_json=model.catalog_to_json(catalog),
        section=section,
        past_json=past.model_dump_json() if past is not None else "",
        key=load_key(),  # head office's secret (KPI_XL_KEY / KPI_XL_KEY_FILE): keyed checksum when set
    )
    _write_meta(book, spec, rows)
    _write_conf(book, spec, interpreter)
    if macros:
        from . import vba

        count = len(book.worksheets())
        project = (vba_projects or {}).get(count) or vba.project_bytes(count)
        book.add_vba_project(io.BytesIO(project), is_stream=True)
    book.close()
    return buffer.getvalue()


def build_workbook(catalog: Catalog, district_code: int, out_dir: str | Path, *, macros: bool = True,
                   interpreter: str | None = None, password: str | None = None, force: bool = False,
                   build_time: dt.datetime | None = None) -> Path:
    """Write one district's workbook into ``out_dir``; refuses to overwrite unless ``force``."""
    target = Path(out_dir) / output_name(catalog, district_code, macros=macros)
    if target.exists() and not force:
        raise FileExistsError(_exists_message(target))
    data = workbook_bytes(catalog, district_code, macros=macros, interpreter=interpreter, password=password,
                          build_time=build_time)
    try:
        with atomic_path(target, overwrite=force) as tmp:
            tmp.write_bytes(data)
    except FileExistsError:
        raise FileExistsError(_exists_message(target)) from None
    return target


# Worker state for build_all: sent once per process instead of once per workbook.
_WORKER: dict[str, Any] = {}


def _init_worker(catalog_json: str, options: dict[str, Any], projects: dict[int, bytes],
                 past: dict[int, model.DistrictPast] | None = None) -> None:
    _WORKER["catalog"] = Catalog.model_validate_json(catalog_json)
    _WORKER["options"] = options
    _WORKER["projects"] = projects
    _WORKER["past"] = past or {}


def _build_into(code: int, folder: str) -> str:
    catalog: Catalog = _WORKER["catalog"]
    options: dict[str, Any] = _WORKER["options"]
    data = workbook_bytes(catalog, code, vba_projects=_WORKER["projects"], past=_WORKER.get("past", {}).get(code),
                          **options)
    path = Path(folder) / output_name(catalog, code, macros=options["macros"])
    path.write_bytes(data)
    return path.name


def _sheet_count(catalog: Catalog, code: int) -> int:
    """Sheets of a district's workbook: cover, indicators, summary, metadata, xlwings.conf.

    Only used to make the VBA projects ahead; workbook_bytes picks one by the real count.
    """
    return len(catalog.for_district(code)) + 4


def build_all(catalog: Catalog, out_dir: str | Path, districts: Iterable[int] | None = None, macros: bool = True,
              interpreter: str | None = None, password: str | None = None, force: bool = False,
              jobs: int | None = None, build_time: dt.datetime | None = None,
              progress: Callable[[str], None] | None = None,
              past: Mapping[int, model.DistrictPast] | None = None) -> list[Path]:
    """Every district's workbook (or those listed), all or nothing: built in a temp folder, then moved.

    Uses a process pool (both cores) when there are more than a few workbooks; each worker gets the
    catalog and the VBA projects once. ``past`` (district code → its history, see
    :func:`kpi_xl.past.districts_past`) prints last year's results on the indicator sheets.
    """
    out = Path(out_dir)
    codes = [d.code for d in catalog.districts] if districts is None else list(dict.fromkeys(districts))
    known = {d.code for d in catalog.districts}
    unknown = [code for code in codes if code not in known]
    if unknown:  # refused before anything is written
        listed = ", ".join(map(str, unknown))
        raise KeyError(f"ไม่มีรหัสเขต {listed} ในทะเบียนตัวชี้วัด / district code(s) {listed} not in the catalog")
    targets = [out / output_name(catalog, code, macros=macros) for code in codes]
    clashes = [t for t in targets if t.exists()]
    if clashes and not force:
        raise FileExistsError("\n".join(_exists_message(t) for t in clashes))
    out.mkdir(parents=True, exist_ok=True)
    options = {"macros": macros, "interpreter": interpreter, "password": password, "build_time": build_time}
    projects: dict[int, bytes] = {}
    if macros:
        from . import vba

        for n in sorted({_sheet_count(catalog, c) for c in codes}):
            projects[n] = vba.project_bytes(n)
    staging = Path(tempfile.mkdtemp(prefix=".kpi-build-", dir=out))
    try:
        workers = jobs if jobs is not None else (os.cpu_count() or 1)
        if workers > 1 and len(codes) > PARALLEL_THRESHOLD:
            catalog_json = catalog.model_dump_json()
            with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker,
                                     initargs=(catalog_json, options, projects, dict(past or {}))) as pool:
                chunk = max(1, len(codes) // (workers * 4))
                for name in pool.map(_build_into, codes, [str(staging)] * len(codes), chunksize=chunk):
                    if progress:
                        progress(name)
        else:
            _WORKER.update(catalog=catalog, options=options, projects=projects, past=dict(past or {}))
            for code in codes:
                name = _build_into(code, str(staging))
                if progress:
                    progress(name)
        for target in targets:
            os.replace(staging / target.name, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return targets
