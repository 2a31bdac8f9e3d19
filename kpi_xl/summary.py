"""The summary workbook the executives read, written with XlsxWriter from the run's DataFrames.

Sheets, in order: ภาพรวม (overview + charts), สถานะการส่ง (who sent what), คะแนนรายเขต (district ×
indicator scores), รายตัวชี้วัด (per indicator), ปัญหาที่พบ (every problem, filterable), ข้อมูล (one
row per district × indicator, an Excel table ready for a pivot), รายการแฟ้ม (the manifest).

Same inputs give the same file content: every table is sorted, the document properties are fixed
(created = the quarter's last day), and the only clock time — when the run happened — is on the
manifest sheet. Every sheet meant for paper prints on A4 landscape at a fixed 90 % (TH Sarabun New 16
prints at 14.4 pt): a sheet wider than a page goes on to further pages across, each repeating the key
columns (code, name) and the header rows, instead of shrinking to one page wide in 5-7 pt text. The data
sheet is for filtering on screen: it prints only a note saying so (see ``_data``).
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import math
import operator
import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from itertools import chain, compress, repeat
from pathlib import Path
from types import NoneType
from typing import TYPE_CHECKING, Any

import xlsxwriter
from xlsxwriter.packager import Packager
from xlsxwriter.sharedstrings import SharedStrings
from xlsxwriter.utility import xl_col_to_name, xl_range, xl_rowcol_to_cell_fast
from xlsxwriter.worksheet import (
    CellBlankTuple,
    CellDatetimeTuple,
    CellNumberTuple,
    CellStringTuple,
    Worksheet,
)

from . import thai
from .catalog import Kind
from .files import atomic_path, atomic_write_text, sha256_file

if TYPE_CHECKING:  # pragma: no cover
    from xlsxwriter.format import Format

    from .result import ConsolidationResult

FONT = "TH Sarabun New"
FONT_SIZE = 16
BANGKOK = dt.timezone(dt.timedelta(hours=7))

SHEETS = {
    "overview": "ภาพรวม",
    "status": "สถานะการส่ง",
    "scores": "คะแนนรายเขต",
    "indicators": "รายตัวชี้วัด",
    "problems": "ปัญหาที่พบ",
    "data": "ข้อมูล",
    "manifest": "รายการแฟ้ม",
}
SCORING_TH = {"milestone": "ขั้นความสำเร็จ", "thresholds": "เกณฑ์ 5 ระดับ", "pass_fail": "ผ่าน/ไม่ผ่าน"}
SEVERITY_TH = {"error": "ข้อผิดพลาด", "warning": "คำเตือน"}
STATUS_COLOURS = {
    "clean": "#C6EFCE", "with_errors": "#FFEB9C", "missing": "#FFC7CE", "duplicate": "#E7E6E6",
    "wrong_year": "#F8CBAD", "other_catalog": "#F8CBAD", "corrupt": "#FFC7CE", "encrypted": "#FFC7CE",
    "xls": "#FFC7CE", "not_kpi_xl": "#FFC7CE", "unknown_district": "#F8CBAD", "lock_file": "#EDEDED",
}
LEVEL_COLOURS = ["#C00000", "#F4B183", "#FFD966", "#C5E0B4", "#70AD47", "#375623"]
TABLE_NAME = "kpi_data"
DEFAULT_CAP = 60.0
THAI_WIDTH = 1.15  # a Thai base glyph of TH Sarabun New against the width unit (the digit "0")
LINE_HEIGHT = 23.0  # points per line of 16 pt TH Sarabun New (its line spacing is tall)
BAR_PX = 26  # chart height per district bar, so every name on the axis shows
ROW_PX = 31  # a default row of 16 pt TH Sarabun New, in pixels (also where the second chart goes)
# Print: a fixed scale, never fit-to-width (that printed the widest sheets at 4-7 pt). At 90 % a landscape A4
# page holds about PAGE_CHARS width units of this workbook's 16 pt font and PAGE_ROWS default rows.
PRINT_SCALE = 90
PAGE_CHARS = 98.0
PAGE_ROWS = 24


# ---------------------------------------------------------------------------------------------
# Widths that fit Thai text


def text_width(value: Any) -> float:
    if isinstance(value, str):
        return _text_width(value)
    if value.__class__ is float:  # shown as 1,234.50: plain ASCII, as wide as it is long (as _text_width says)
        return float(len(f"{value:,.2f}"))
    return _text_width(_shown(value)) if value is not None else 0.0


@lru_cache(maxsize=8192)
def _wrapped_lines(text: str, width: float) -> int:
    """Lines a text wraps to in a column ``width`` units wide (messages repeat: 120 distinct of 5,160
    in the demo's problems list)."""
    return sum(max(1, math.ceil(_text_width(part) / width)) for part in text.split("\n"))


@lru_cache(maxsize=65536)
def _text_width(text: str) -> float:
    """Approximate width in Excel character units of TH Sarabun New.

    Thai vowels above/below and tone marks take no width (they stack on the consonant), so
    counting characters overestimates Thai text by a third; Latin capitals run wider than digits.
    """
    if text.isascii():
        return float(max((len(line) for line in text.split("\n")), default=0))
    widest = 0.0
    for line in text.split("\n"):
        width = 0.0
        for ch in line:
            if unicodedata.category(ch) in ("Mn", "Me", "Cf"):
                continue
            if "\u0e00" <= ch <= "\u0e7f":
                width += THAI_WIDTH
            elif ch.isupper():
                width += 1.2
            else:
                width += 0.95
        widest = max(widest, width)
    return widest


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, (dt.datetime, dt.date)):
        return "30 ก.ย. 2564 00:00"
    return str(value)


class _Sheet:
    """A worksheet plus the widths its content needs, so columns are sized once at the end."""

    def __init__(self, book: _Book, name: str, caps: dict[int, float] | None = None,
                 worksheet_class: type[Worksheet] | None = None):
        self.book = book
        self.ws: Worksheet = book.wb.add_worksheet(name, worksheet_class=worksheet_class or _Worksheet)
        self.widths: dict[int, float] = {}
        self.caps: dict[int, float] = dict(caps or {})
        ws = self.ws
        ws.set_paper(9)
        ws.set_landscape()
        ws.set_print_scale(PRINT_SCALE)
        ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.5)
        ws.set_footer(f"&L&\"{FONT}\"&12{name}&R&\"{FONT}\"&12หน้า &P / &N")
        self.lines: dict[int, int] = {}

    def cap(self, col: int, width: float) -> None:
        self.caps[col] = width

    def note(self, col: int, value: Any, extra: float = 0.0) -> None:
        current = self.widths.get(col, 0.0)
        if current >= self.caps.get(col, DEFAULT_CAP):
            return
        width = text_width(value) + extra
        if width > current:
            self.widths[col] = width

    def write(self, row: int, col: int, value: Any, fmt: Format | None = None, *, measure: bool = True) -> None:
        """Numbers as numbers, dates as dates, text as text (never a formula), blanks as blanks."""
        ws = self.ws
        fmt = fmt or self.book.fmt["cell"]
        if value.__class__ is float and value == value:  # the commonest cell first (NaN: a blank, below)
            ws.write_number(row, col, value, fmt)
            if measure:
                self.note(col, value)
            return
        if _missing(value):
            ws.write_blank(row, col, None, fmt)
            return
        if isinstance(value, bool):
            ws.write_boolean(row, col, value, fmt)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            ws.write_number(row, col, float(value), fmt)
        elif isinstance(value, dt.datetime):
            ws.write_datetime(row, col, value, fmt)
        elif isinstance(value, dt.date):
            ws.write_datetime(row, col, dt.datetime.combine(value, dt.time()), fmt)
        elif hasattr(value, "item"):  # numpy scalar
            self.write(row, col, value.item(), fmt, measure=measure)
            return
        elif hasattr(value, "to_pydatetime"):
            self.write(row, col, value.to_pydatetime(), fmt, measure=measure)
            return
        else:
            ws.write_string(row, col, str(value), fmt)
            if fmt is self.book.fmt["wrap"]:
                self._wrapped(row, col, str(value))
        if measure:
            self.note(col, value)

    def text(self, row: int, col: int, value: Any, fmt: Format | None = None) -> None:
        """:meth:`write` for a column of text or blanks (the problems list, thousands of rows): a str
        goes straight to ``write_string`` (text, never a formula), anything else through :meth:`write`."""
        if value.__class__ is not str:
            self.write(row, col, value, fmt)
            return
        fmt = fmt or self.book.fmt["cell"]
        if FAST_XML:  # write_string minus its A1-notation wrapper (XlsxWriter 3.x; the tests compare both)
            self.ws._write_string(row, col, value, fmt)
        else:
            self.ws.write_string(row, col, value, fmt)
        if fmt is self.book.fmt["wrap"]:
            self._wrapped(row, col, value)
        self.note(col, value)

    def _wrapped(self, row: int, col: int, text: str) -> None:
        """Rows with wrapped text get their height here: Excel does not grow them on open."""
        width = max(self.caps.get(col, DEFAULT_CAP) - 3.0, 4.0)  # a margin: fonts differ between clients
        lines = _wrapped_lines(text, width)
        if lines > self.lines.get(row, 1):
            self.lines[row] = lines

    def header(self, row: int, columns: list[str], fmt: Format | None = None) -> None:
        for col, text in enumerate(columns):
            self.ws.write_string(row, col, text, fmt or self.book.fmt["header"])
            self.note(col, text, 1.0)

    def print_keys(self, last_key_col: int) -> None:
        """Columns 0..last_key_col (code, name) repeat on every page across, and pages go across first,
        so a row's continuation is the next sheet of paper."""
        self.ws.repeat_columns(0, last_key_col)
        self.ws.print_across()

    def column_width(self, col: int, minimum: float = 6.0) -> float:
        if col not in self.widths:
            return 8.43  # Excel's default column
        return round(min(max(self.widths[col] + 1.5, minimum), self.caps.get(col, DEFAULT_CAP)), 1)

    def width_px(self, first: int, last: int) -> int:
        """Pixels of columns first..last as XlsxWriter anchors objects (7 per unit + 5), to size charts."""
        return sum(int(self.column_width(c) * 7 + 0.5) + 5 for c in range(first, last + 1))

    def finish(self, minimum: float = 6.0) -> None:
        for col in sorted(self.widths):
            self.ws.set_column(col, col, self.column_width(col, minimum))
        for row, lines in sorted(self.lines.items()):
            self.ws.set_row(row, round(LINE_HEIGHT * lines + 4, 1))


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if value.__class__ in (str, int, bool):  # the common cases, without pandas (called per cell)
        return False
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        import pandas as pd

        return bool(pd.isna(value)) if not isinstance(value, (str, bytes, list, dict)) else False
    except (TypeError, ValueError):
        return False


class _Book:
    def __init__(self, path: Path, result: ConsolidationResult):
        self.result = result
        self.wb = _Workbook(str(path), {
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
            "in_memory": True,
            "default_format_properties": {"font_name": FONT, "font_size": FONT_SIZE},
            "default_row_height": ROW_PX,  # rows sized for the font: neither Excel nor LibreOffice grows them on open
        })
        created = dt.datetime.combine(thai.quarter_end(result.fiscal_year, result.quarter), dt.time())
        self.wb.set_properties({
            "title": f"สรุปผลตัวชี้วัด ปีงบประมาณ {result.fiscal_year} ไตรมาสที่ {result.quarter}",
            "subject": "KPI consolidation summary",
            "author": "kpi-xl",
            "company": "",
            "created": created,
            "comments": f"catalog {result.catalog_hash}",
        })
        base = {"font_name": FONT, "font_size": FONT_SIZE, "valign": "top"}
        border = {"border": 1, "border_color": "#BFBFBF"}

        def f(**kw: Any) -> Format:
            return self.wb.add_format(base | kw)

        self.fmt: dict[str, Format] = {
            "cell": f(**border),
            "wrap": f(text_wrap=True, **border),
            "int": f(num_format="0", **border),
            "num": f(num_format="#,##0.##", **border),
            "score": f(num_format="0.00", **border),
            "score_bold": f(num_format="0.00", bold=True, **border),
            "pct": f(num_format="0.0%", **border),
            "datetime": f(num_format="[$-107041E]d mmm yyyy hh:mm", **border),
            "date": f(num_format="[$-107041E]d mmm yyyy", **border),
            "na": f(bg_color="#D9D9D9", **border),
            "header": f(bold=True, text_wrap=True, bg_color="#1F4E78", font_color="#FFFFFF", align="center",
                        valign="vcenter", **border),
            "key": f(font_size=12, font_color="#7F7F7F", italic=True),
            "title": f(bold=True, font_size=22),
            "subtitle": f(font_size=16, font_color="#404040"),
            "label": f(bold=True, **border),
            "label_en": f(font_color="#595959", **border),
            "big": f(bold=True, num_format="0", **border, align="center"),
            "big_score": f(bold=True, num_format="0.00", **border, align="center"),
            "section": f(bold=True, font_size=18, font_color="#1F4E78"),
            "plain": f(),
            # A score resting on a cell with an error: marked in print and in black-and-white too
            "score_flag": f(num_format='0.00" !"', bold=True, font_color="#C00000", border=2, border_color="#C00000"),
            "rank_marked": f(num_format='0" *"', font_color="#C00000", **border),
            # Ranks centred, so a rank never touches the district name beside it on paper
            "rank": f(num_format="0", align="center", **border),
            "code": f(num_format="0", align="center", **border),
            # Long lines of the overview wrap inside columns A-D, the part that prints
            "title_wrap": f(bold=True, font_size=22, text_wrap=True),
            "note_wrap": f(text_wrap=True),
            "rank_marked_c": f(num_format='0" *"', font_color="#C00000", align="center", **border),
        }
        self.status_fmt = {key: f(bg_color=colour, **border) for key, colour in STATUS_COLOURS.items()}

    def sheet(self, key: str, caps: dict[int, float] | None = None,
              worksheet_class: type[Worksheet] | None = None) -> _Sheet:
        return _Sheet(self, SHEETS[key], caps, worksheet_class)


# ---------------------------------------------------------------------------------------------


def write_summary(result: ConsolidationResult, path: str | Path) -> Path:
    """Write the summary workbook atomically (a killed run leaves the previous file intact).

    The cyclic garbage collector is paused meanwhile (see ``_gc_paused``)."""
    path = Path(path)
    with _gc_paused(), atomic_path(path) as tmp:
        book = _Book(tmp, result)
        _overview(book)
        _status(book)
        _scores(book)
        _indicators(book)
        _problems(book)
        _data(book)
        _manifest(book)
        book.wb.close()
    return path


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while the summary is written.

    Why: right after a consolidation the process holds ~140,000 tracked objects, and the first full collection
    that falls due — a matter of allocation counters, not of the summary's own garbage (which is freed by
    reference counting: it holds no cycles worth collecting) — scans them all: 70 ms measured inside a 180 ms
    summary. Paused, that collection runs later, when the caller allocates; the caller's state (enabled or not)
    is restored, also when the write fails.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _title(sheet: _Sheet, title_th: str, title_en: str) -> None:
    """Unmerged, so a long Thai title runs on across the empty cells to its right."""
    r = sheet.book.result
    sheet.ws.write_string(0, 0, title_th, sheet.book.fmt["title"])
    sheet.ws.write_string(1, 0, f"{title_en} — fiscal year {r.fiscal_year}, quarter {r.quarter}",
                          sheet.book.fmt["subtitle"])
    sheet.ws.set_row(0, 33)


FLAG_NOTE_TH = ("! = คะแนนที่คิดจากช่องที่มีข้อผิดพลาด (ข้อมูลที่ kpi-xl ไม่รับ) · * = อันดับของเขตที่ยังมีข้อผิดพลาด"
                " · กฎของทะเบียน: {rule_th}")
FLAG_NOTE_EN = ("! = a score computed from a cell with an error (data kpi-xl rejects) · * = the rank of a district "
                "whose workbook still has errors · catalog rule: {rule_en}")
FLAGGED_COLOUR = "#ED7D31"
SOURCE_TH = {"typed": "พิมพ์เอง (typed)", "computed": "คำนวณจากรายไตรมาส (computed)"}


def _rule(book: _Book) -> tuple[str, str]:
    """The catalog's rule for flagged scores, as the summary states it (Thai, English)."""
    from .catalog import ErrorScores

    rule = ErrorScores(book.result.error_scores)
    return f"{rule.th} ({rule.value})", rule.en


def _flag_note(book: _Book) -> str:
    th, en = _rule(book)
    return f"{FLAG_NOTE_TH.format(rule_th=th)}\n{FLAG_NOTE_EN.format(rule_en=en)}"


def _overview(book: _Book) -> None:
    r = book.result
    s = book.sheet("overview", caps={1: 30})
    ws, fmt = s.ws, book.fmt
    title = r.catalog_title_th or "ตัวชี้วัดของสำนักงานเขต"
    _title(s, f"สรุปผลการรายงาน{title} ไตรมาสที่ {r.quarter}", "KPI consolidation summary")
    ws.merge_range(0, 0, 0, 3, f"สรุปผลการรายงาน{title} ไตรมาสที่ {r.quarter}", fmt["title_wrap"])
    ws.set_row(0, 66)
    counts = r.counts
    total = counts["districts"]
    stats: list[tuple[str, str, Any, str]] = [
        ("จำนวนเขตทั้งหมด", "districts", total, "big"),
        ("ส่งแล้ว (ใช้ได้)", "received", counts["received"], "big"),
        ("ถูกต้องครบถ้วน", "clean", counts["clean"], "big"),
        ("มีข้อผิดพลาด", "with errors", counts["with_errors"], "big"),
        ("ยังไม่ส่ง", "missing", counts["missing"], "big"),
        ("ส่งซ้ำ (ใช้แฟ้มที่บันทึกล่าสุด)", "duplicates", counts["duplicates"], "big"),
        ("ผิดปีงบประมาณ", "wrong fiscal year", counts["wrong_year"], "big"),
        ("สร้างจากทะเบียนฉบับอื่น", "other catalog version", counts["other_catalog"], "big"),
        ("เปิดไม่ได้ / ไม่ใช่แบบรายงาน", "unreadable / not kpi-xl",
         counts["corrupt"] + counts["encrypted"] + counts["xls"] + counts["not_kpi_xl"], "big"),
        ("แฟ้มทั้งหมดในโฟลเดอร์", "files found", counts["files"], "big"),
        ("คะแนนเฉลี่ยของเขต", "mean district score", r.mean_score, "big_score"),
    ]
    scored = r.districts.dropna(subset=["score"])
    stats.append(("คะแนนสูงสุด", "highest score", scored["score"].max() if len(scored) else None, "big_score"))
    stats.append(("คะแนนต่ำสุด", "lowest score", scored["score"].min() if len(scored) else None, "big_score"))
    flagged_scores = int(r.scores["flagged"].fillna(False).astype(bool).sum()) if len(r.scores) else 0
    stats.append(("คะแนนที่คิดจากข้อมูลผิด (!)", "scores resting on errors",  flagged_scores, "big"))
    stats.append(("เขตที่มีคะแนนจากข้อมูลผิด", "districts with such scores", int((r.districts["flagged"] > 0).sum()),
                  "big"))
    s.header(3, ["รายการ", "item", "จำนวน / ค่า", "จาก"])
    for i, (th, en, value, kind) in enumerate(stats):
        row = 4 + i
        s.write(row, 0, th, fmt["label"])
        s.write(row, 1, en, fmt["label_en"])
        s.write(row, 2, value, fmt[kind])
        if kind == "big" and i in (1, 2, 3, 4):
            s.write(row, 3, total, fmt["int"])
        else:
            ws.write_blank(row, 3, None, fmt["cell"])
    s.note(2, "จำนวน / ค่า", 2)
    stats_end = 4 + len(stats)
    rule_th, rule_en = _rule(book)
    ws.merge_range(stats_end, 0, stats_end, 3, f"คะแนนจากข้อมูลผิดในคะแนนถ่วงน้ำหนัก: {rule_th}\n"
                   f"scores resting on errors: {rule_en}", fmt["note_wrap"])
    ws.set_row(stats_end, LINE_HEIGHT * 2 + 4)
    stats_end += 1

    # Printed as a report: page 1 the counts, then each chart on a page of its own, then the ranking, whose
    # header row repeats on every page it runs onto (print titles apply from the page they first appear
    # on). Only columns A-D print; the levels table (the second chart's numbers) sits beside its chart.
    pages = _Pages(stats_end + 1)
    s.cap(0, 28)
    s.cap(1, 30)
    chart_rows = PAGE_ROWS - 1
    bar_at = pages.place(chart_rows)
    ind = r.indicators
    level_rows = min(chart_rows, max(12, math.ceil((30 * len(ind) + 160) / ROW_PX)))
    level_row = pages.place(level_rows)
    ws.write_string(level_row, 5, "ข้อมูลกราฟ: จำนวนเขตตามระดับคะแนนรายตัวชี้วัด (ไม่พิมพ์) / chart data: districts per level "
                    "(not printed)", fmt["section"])
    s.header(level_row + 1, ["ตัวชี้วัด", *[f"ระดับ {n}" for n in range(6)]])
    # header() writes from column 0: move the levels header beside the chart
    for col in range(7):
        ws.write_blank(level_row + 1, col, None)
    lcol = 5
    for col, text in enumerate(["ตัวชี้วัด", *[f"ระดับ {n}" for n in range(6)]]):
        ws.write_string(level_row + 1, lcol + col, text, fmt["header"])
        s.note(lcol + col, text, 1.0)
    lfirst = level_row + 2
    for i, row in enumerate(ind.to_dict("records")):
        s.write(lfirst + i, lcol, row["indicator_code"])
        for n in range(6):
            s.write(lfirst + i, lcol + 1 + n, row[f"level_{n}"], fmt["int"])
    llast = lfirst + max(len(ind), 1) - 1

    data_row = pages.place(min(len(scored), chart_rows - 3) + 3, last=True)
    ws.write_string(data_row, 0, "อันดับ: คะแนนถ่วงน้ำหนักเรียงจากมากไปน้อย / ranking: district scores, sorted",
                    fmt["section"])
    s.header(data_row + 1, ["อันดับ\nrank", "เขต\ndistrict", "คะแนน\nscore", "คะแนนจากข้อมูลผิด\nflagged (!)"])
    ws.set_row(data_row + 1, 48)
    ordered = scored.sort_values(["score", "district_code"], ascending=[False, True])
    first = data_row + 2
    points = []
    for i, row in enumerate(ordered.itertuples(index=False)):
        s.write(first + i, 0, row.rank, fmt["rank_marked_c" if row.rank_marked else "rank"])
        s.write(first + i, 1, row.district_name_th)
        s.write(first + i, 2, row.score, fmt["score_flag" if row.flagged else "score"])
        s.write(first + i, 3, int(row.flagged), fmt["int"])
        # Districts whose score rests on rejected data: another colour and a pattern (prints in grey too)
        points.append({"fill": {"color": FLAGGED_COLOUR}, "pattern": {"pattern": "wide_upward_diagonal",
                                                                      "fg_color": FLAGGED_COLOUR, "bg_color": "#FFFFFF"},
                       "border": {"color": "#C00000"}} if row.flagged else None)
    last = first + max(len(ordered), 1) - 1
    ws.merge_range(last + 1, 0, last + 1, 3, _flag_note(book), fmt["note_wrap"])
    ws.set_row(last + 1, LINE_HEIGHT * 6 + 4)
    s.finish()
    chart_px = int(s.width_px(0, 3) * 1.03)  # as wide as columns A-D print (measured in LibreOffice)

    sheet_name = SHEETS["overview"]
    font = {"name": FONT, "size": 12}
    if len(ordered):
        # Columns, names turned upright: 50 districts fit one landscape page with every name readable
        chart = book.wb.add_chart({"type": "column"})
        chart.add_series({
            "name": "คะแนนถ่วงน้ำหนัก",
            "categories": [sheet_name, first, 1, last, 1],
            "values": [sheet_name, first, 2, last, 2],
            "fill": {"color": "#2E75B6"},
            "gap": 40,
            "data_labels": {"value": True, "num_format": "0.00", "font": {**font, "size": 11, "rotation": -90},
                            "position": "inside_end"},
            **({"points": points} if any(points) else {}),
        })
        title = "คะแนนถ่วงน้ำหนักของเขต (เรียงจากมากไปน้อย)"
        if any(points):
            title += " · แถบสีส้มลายเส้น = มีคะแนนที่คิดจากข้อมูลผิด"
        chart.set_title({"name": title, "name_font": {"name": FONT, "size": 16}})
        chart.set_y_axis({"min": 0, "max": 5, "major_unit": 1, "num_font": font, "num_format": "0"})
        chart.set_x_axis({"num_font": {"name": FONT, "size": 12, "rotation": -90}, "interval_unit": 1})
        chart.set_legend({"none": True})
        chart.set_size({"width": chart_px, "height": chart_rows * ROW_PX - 6})
        ws.insert_chart(bar_at, 0, chart, {"object_position": 3})
    chart = book.wb.add_chart({"type": "bar", "subtype": "stacked"})
    for n in range(6):
        chart.add_series({
            "name": [sheet_name, level_row + 1, lcol + 1 + n],
            "categories": [sheet_name, lfirst, lcol, llast, lcol],
            "values": [sheet_name, lfirst, lcol + 1 + n, llast, lcol + 1 + n],
            "fill": {"color": LEVEL_COLOURS[n]},
            "gap": 50,
        })
    chart.set_title({"name": "จำนวนเขตตามระดับคะแนน รายตัวชี้วัด", "name_font": {"name": FONT, "size": 16}})
    chart.set_x_axis({"num_font": font, "num_format": "0"})
    chart.set_y_axis({"reverse": True, "num_font": font, "interval_unit": 1})
    chart.set_legend({"position": "bottom", "font": font})
    chart.set_size({"width": chart_px, "height": level_rows * ROW_PX - 6})
    ws.insert_chart(level_row, 0, chart, {"object_position": 3})
    ws.set_h_pagebreaks(pages.breaks)
    ws.repeat_rows(data_row + 1)
    ws.print_area(0, 0, last + 1, 3)


class _Pages:
    """Rows of a sheet laid out as printed pages of PAGE_ROWS default rows: a section that does not fit on
    what is left of the page starts a new one (a manual page break), so no chart or short table is cut."""

    def __init__(self, used: int):
        self.row = used
        self.page_start = 0
        self.breaks: list[int] = []

    def place(self, rows: int, *, last: bool = False) -> int:
        """The first row of a section of ``rows`` rows (for the ``last`` one: its first page's part)."""
        if self.row - self.page_start + rows > PAGE_ROWS and self.row > self.page_start:
            self.breaks.append(self.row)
            self.page_start = self.row
        start = self.row
        self.row += rows
        return start


def _status(book: _Book) -> None:
    r = book.result
    s = book.sheet("status", caps={4: 30, 12: 40, 13: 40})
    ws, fmt = s.ws, book.fmt
    cols = ["รหัสเขต\ncode", "เขต\ndistrict", "สถานะ\nstatus (th)", "status", "แฟ้ม\nfile",
            "บันทึกล่าสุด (เวลาไทย)\nsaved (ICT)", "ไตรมาสที่รายงาน\nquarter", "จำนวนแฟ้ม\nfiles",
            "ข้อผิดพลาด\nerrors", "คำเตือน\nwarnings", "คะแนน\nscore", "อันดับ\nrank", "หมายเหตุ\nnote",
            "การยืนยันส่งรายงาน\nsign-off"]
    s.header(0, cols)
    ws.set_row(0, 48)
    rows = r.districts.to_dict("records")
    for i, d in enumerate(rows, start=1):
        st = book.status_fmt.get(d["status"], fmt["cell"])
        s.write(i, 0, d["district_code"], fmt["code"])
        s.write(i, 1, d["district_name_th"])
        s.write(i, 2, d["status_th"], st)
        s.write(i, 3, d["status_en"], st)
        s.write(i, 4, d["file"])
        s.write(i, 5, _local(d["saved"]), fmt["datetime"])
        s.write(i, 6, d["report_quarter"], fmt["int"])
        s.write(i, 7, d["files"], fmt["int"])
        s.write(i, 8, d["errors"], fmt["int"])
        s.write(i, 9, d["warnings"], fmt["int"])
        s.write(i, 10, d["score"], fmt["score"])
        s.write(i, 11, d["rank"], fmt["int"])
        s.write(i, 12, _join(d["note_th"], d["note_en"]), fmt["wrap"])
        if d.get("signoff_th"):
            s.write(i, 13, _join(d["signoff_th"], d["signoff_en"]), fmt["wrap"])
    last = len(rows)
    ws.autofilter(0, 0, max(last, 1), len(cols) - 1)
    ws.freeze_panes(1, 2)
    ws.repeat_rows(0)
    s.print_keys(1)

    # Files in the folder that were not used, so "list both" holds for duplicates too.
    unused = r.submissions[~r.submissions["used"].astype(bool)]
    row0 = last + 3
    ws.write_string(row0, 0, f"แฟ้มที่ไม่ได้ใช้ในสรุป {len(unused)} แฟ้ม / files not used: {len(unused)}", fmt["section"])
    s.header(row0 + 1, ["รหัสเขต\ncode", "เขต\ndistrict", "สถานะ\nstatus (th)", "status", "แฟ้ม\nfile",
                        "บันทึกล่าสุด (เวลาไทย)\nsaved (ICT)", "ระบุเขตจาก\nidentified by", "ข้อผิดพลาด\nerrors",
                        "คำเตือน\nwarnings", "", "", "", "หมายเหตุ\nnote"])
    ws.set_row(row0 + 1, 48)
    for i, u in enumerate(unused.to_dict("records"), start=row0 + 2):
        st = book.status_fmt.get(u["status"], fmt["cell"])
        s.write(i, 0, u["district_code"], fmt["code"])
        s.write(i, 1, u["district_name_th"])
        s.write(i, 2, u["status_th"], st)
        s.write(i, 3, u["status_en"], st)
        s.write(i, 4, u["file"])
        s.write(i, 5, _local(u["saved"]), fmt["datetime"])
        s.write(i, 6, _identified_th(u["identified_by"]))
        s.write(i, 7, u["errors"], fmt["int"])
        s.write(i, 8, u["warnings"], fmt["int"])
        s.write(i, 12, _join(u["note_th"], u["note_en"]), fmt["wrap"])
    s.finish()


def _identified_th(value: Any) -> str | None:
    return {"metadata": "ข้อมูลในแฟ้ม / metadata", "file name": "ชื่อแฟ้ม / file name"}.get(value or "", None)


def _join(th: Any, en: Any) -> str | None:
    parts = [str(x) for x in (th, en) if not _missing(x) and str(x)]
    return "\n".join(parts) if parts else None


def _local(value: Any) -> dt.datetime | None:
    """Saved times are kept in UTC; people read Bangkok time."""
    if _missing(value):
        return None
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    return (value.replace(tzinfo=dt.UTC).astimezone(BANGKOK)).replace(tzinfo=None)


def _scores(book: _Book) -> None:
    r = book.result
    s = book.sheet("scores")
    ws, fmt = s.ws, book.fmt
    codes = r.indicators["indicator_code"].tolist()
    weights = r.indicators["weight"].tolist()
    pq, py = r.previous_quarter, r.previous_year
    cols = ["รหัสเขต\ncode", "เขต\ndistrict", *codes, "คะแนนถ่วงน้ำหนัก\nweighted score", "อันดับ\nrank"]
    if r.history:
        cols += [f"ไตรมาสก่อน\n{pq[0]}/Q{pq[1]}", f"ปีก่อน\n{py[0]}/Q{py[1]}"]
    kinds = [k for k in Kind if f"score_{k.value}" in r.districts.columns]
    cols += [f"คะแนน{k.th}\n{k.en} score" for k in kinds]
    assessed = "hq_district_score" in r.districts.columns and r.districts["hq_district_score"].notna().any()
    if assessed:  # head office's own assessment (kpi-xl review apply) beside the district's
        cols += ["คะแนนที่สำนักงานประเมิน\nhead office's score", "ผลต่าง (สำนักงาน − เขต)\ndifference"]
    cols += ["สถานะ\nstatus"]
    s.header(0, cols)
    ws.set_row(0, 48)
    s.write(1, 0, None, fmt["label"])
    s.write(1, 1, "น้ำหนัก / weight", fmt["label"])
    for j, w in enumerate(weights):
        s.write(1, 2 + j, w, fmt["num"])
    for j in range(2 + len(codes), len(cols)):
        ws.write_blank(1, j, None, fmt["cell"])
    matrix = {(int(code), ind): score for code, ind, score in
              zip(r.scores["district_code"], r.scores["indicator_code"], r.scores["score"], strict=True)}
    flagged = {(int(code), ind) for code, ind, flag in
               zip(r.scores["district_code"], r.scores["indicator_code"], r.scores["flagged"], strict=True) if flag is True}
    # A typed year's result that differs from the quarterly values (KPI-W402) still scores: say so on the cell
    typed_notes = {
        (int(code), ind): f"ผลที่เขตพิมพ์เองใช้คิดคะแนน ต่างจากผลรายไตรมาส {diff:+,.2f} (KPI-W402)\n"
                          f"the typed result scored; it differs from the quarterly values by {diff:+,.2f}"
        for code, ind, source, diff in zip(r.scores["district_code"], r.scores["indicator_code"],
                                           r.scores["value_source"], r.scores["typed_difference"], strict=True)
        if source == "typed" and diff is not None and diff == diff}
    rows = r.districts.to_dict("records")
    first = 2
    for i, d in enumerate(rows, start=first):
        code = d["district_code"]
        s.write(i, 0, code, fmt["code"])
        s.write(i, 1, d["district_name_th"])
        for j, ind in enumerate(codes):
            if (code, ind) not in matrix:
                ws.write_blank(i, 2 + j, None, fmt["na"])
                continue
            if (code, ind) in flagged and matrix[(code, ind)] is None:
                s.write(i, 2 + j, "!", fmt["score_flag"])
            else:
                s.write(i, 2 + j, matrix[(code, ind)], fmt["score_flag" if (code, ind) in flagged else "score"])
            if (code, ind) in typed_notes:
                ws.write_comment(i, 2 + j, typed_notes[(code, ind)], {"x_scale": 2, "font_name": FONT})
        c = 2 + len(codes)
        s.write(i, c, d["score"], fmt["score_flag" if d["flagged"] else "score_bold"])
        s.write(i, c + 1, d["rank"], fmt["rank_marked" if d["rank_marked"] else "int"])
        if r.history:
            s.write(i, c + 2, d["prev_quarter_score"], fmt["score"])
            s.write(i, c + 3, d["prev_year_score"], fmt["score"])
            c += 2
        for k in kinds:  # weighted within the kind, by the same rule as the overall score
            s.write(i, c + 2, d[f"score_{k.value}"], fmt["score"])
            c += 1
        if assessed:
            hq, own = d["hq_district_score"], d["score"]
            s.write(i, c + 2, hq, fmt["score_bold"])
            s.write(i, c + 3, None if _missing(hq) or _missing(own) else round(hq - own, 2), fmt["score"])
            c += 2
        s.write(i, c + 2, d["status_th"], book.status_fmt.get(d["status"], fmt["cell"]))
    last = first + len(rows) - 1
    mean_row = last + 1
    s.write(mean_row, 1, "ค่าเฉลี่ย / mean", fmt["label"])
    ind_mean = dict(zip(r.indicators["indicator_code"], r.indicators["mean_score"], strict=True))
    for j, ind in enumerate(codes):
        s.write(mean_row, 2 + j, ind_mean.get(ind), fmt["score_bold"])
    s.write(mean_row, 2 + len(codes), r.mean_score, fmt["score_bold"])
    scale = {"type": "3_color_scale", "min_type": "num", "min_value": 0, "mid_type": "num", "mid_value": 2.5,
             "max_type": "num", "max_value": 5, "min_color": "#F8696B", "mid_color": "#FFEB84",
             "max_color": "#63BE7B"}
    if rows:
        ws.conditional_format(first, 2, mean_row, 2 + len(codes), scale)
        if r.history:
            ws.conditional_format(first, 4 + len(codes), last, 5 + len(codes), scale)
    ws.write_string(mean_row + 2, 0, "ช่องสีเทา = ตัวชี้วัดไม่ใช้กับเขตนี้ ช่องว่าง = ยังไม่มีคะแนน / "
                    "grey: the indicator does not apply; blank: no score", fmt["plain"])
    ws.write_string(mean_row + 3, 0, _flag_note(book), fmt["plain"])
    if assessed:
        ws.write_string(mean_row + 4, 0, "อันดับ: ตามคะแนนที่สำนักงานประเมิน (คะแนนของสำนักงานแทนคะแนนประเมินตนเองรายตัวชี้วัด) "
                        "เมื่อสำนักงานประเมินแล้ว มิฉะนั้นตามคะแนนประเมินตนเอง / rank: by head office's score (its score in "
                        "place of the self-assessed one, indicator by indicator) where head office assessed, else by the "
                        "district's own", fmt["plain"])
    for j in range(len(codes)):
        s.note(2 + j, "0.00", 1)
    ws.freeze_panes(2, 2)
    ws.repeat_rows(0, 1)
    s.print_keys(1)
    s.finish(minimum=7.5)


def _indicators(book: _Book) -> None:
    r = book.result
    s = book.sheet("indicators", caps={1: 30})
    ws, fmt = s.ws, book.fmt
    cols = ["รหัส\ncode", "ชื่อตัวชี้วัด\nindicator", "วิธีให้คะแนน\nscoring", "น้ำหนัก\nweight",
            "เป้าหมาย\ntarget", "หน่วย\nunit", "เขตที่ใช้\napplies to", "เขตที่รายงาน\nreporting",
            "คะแนนเฉลี่ย\nmean", "ต่ำสุด\nmin", "สูงสุด\nmax", "ผ่านเป้าหมาย (เขต)\nmet", "ร้อยละผ่านเป้าหมาย\n% met",
            *[f"ระดับ {n}\nlevel {n}" for n in range(6)], "คะแนนจากข้อมูลผิด (เขต)\nflagged (!)",
            "ประเภทตัวชี้วัด\nKPI kind"]
    s.header(0, cols)
    ws.set_row(0, 48)
    for i, row in enumerate(r.indicators.to_dict("records"), start=1):
        s.write(i, 19, row["flagged"], fmt["rank_marked" if row["flagged"] else "int"])
        if row.get("kind"):
            s.write(i, 20, Kind(row["kind"]).th)
        s.write(i, 0, row["indicator_code"])
        s.write(i, 1, row["indicator_name_th"], fmt["wrap"])
        s.write(i, 2, SCORING_TH.get(row["scoring"], row["scoring"]))
        s.write(i, 3, row["weight"], fmt["num"])
        s.write(i, 4, row["target"], fmt["num"])
        s.write(i, 5, row["unit"])
        s.write(i, 6, row["districts_applicable"], fmt["int"])
        s.write(i, 7, row["districts_reporting"], fmt["int"])
        s.write(i, 8, row["mean_score"], fmt["score"])
        s.write(i, 9, row["min_score"], fmt["score"])
        s.write(i, 10, row["max_score"], fmt["score"])
        s.write(i, 11, row["met"], fmt["int"])
        s.write(i, 12, row["met_share"], fmt["pct"])
        for n in range(6):
            s.write(i, 13 + n, row[f"level_{n}"], fmt["int"])
    n = len(r.indicators)
    if n:
        ws.conditional_format(1, 8, n, 10, {"type": "3_color_scale", "min_type": "num", "min_value": 0,
                                            "mid_type": "num", "mid_value": 2.5, "max_type": "num", "max_value": 5,
                                            "min_color": "#F8696B", "mid_color": "#FFEB84", "max_color": "#63BE7B"})
        ws.conditional_format(1, 12, n, 12, {"type": "data_bar", "bar_color": "#63BE7B", "min_type": "num",
                                             "min_value": 0, "max_type": "num", "max_value": 1})
    ws.freeze_panes(1, 2)
    ws.repeat_rows(0)
    s.print_keys(0)  # the code (KPI-05) names an indicator on continuation pages: 3 pages across, not 5
    s.finish()


def _problems(book: _Book) -> None:
    r = book.result
    s = book.sheet("problems", caps={2: 26, 7: 40, 8: 34})
    ws, fmt = s.ws, book.fmt
    cols = ["รหัสเขต\ncode", "เขต\ndistrict", "แฟ้ม\nfile", "แผ่นงาน\nsheet", "เซลล์\ncell", "รหัสปัญหา\nproblem",
            "ระดับ\nseverity", "ข้อความ\nmessage (th)", "message (en)"]
    s.header(0, cols)
    ws.set_row(0, 48)
    frame = r.problems
    keys = ("district_code", "district_name_th", "file", "sheet", "cell", "code", "severity", "message_th",
            "message_en")
    # Plain lists per column, not DataFrame records: thousands of problems, nine cells each.
    rows = zip(*(frame[k].tolist() for k in keys), strict=True) if len(frame) else iter(())
    text, wrap = s.text, fmt["wrap"]
    severity_fmt = {"warning": book.status_fmt["with_errors"], "error": book.status_fmt["missing"]}
    count = 0
    for i, (district, name, file, sheet, cell, code, severity, message_th, message_en) in enumerate(rows, start=1):
        s.write(i, 0, district, fmt["code"])
        text(i, 1, name)
        text(i, 2, file)
        text(i, 3, sheet)
        text(i, 4, cell)
        text(i, 5, code)
        text(i, 6, SEVERITY_TH.get(severity, severity), severity_fmt.get(severity, book.status_fmt["missing"]))
        text(i, 7, message_th, wrap)
        text(i, 8, message_en, wrap)
        count = i
    ws.autofilter(0, 0, max(count, 1), len(cols) - 1)
    ws.freeze_panes(1, 0)
    ws.repeat_rows(0)
    s.print_keys(1)
    s.finish()


def data_columns() -> list[tuple[str, str]]:
    """(frame column, Thai header) of the ข้อมูล sheet, in order; field headers come from the form spec."""
    from .form import load_spec

    spec = load_spec()
    fixed = [
        ("fiscal_year", "ปีงบประมาณ"), ("quarter", "ไตรมาส"), ("district_code", "รหัสเขต"),
        ("district_name_th", "เขต"), ("district_name_en", "district"), ("status_th", "สถานะ"),
        ("indicator_code", "รหัสตัวชี้วัด"), ("indicator_name_th", "ชื่อตัวชี้วัด"), ("dimension", "ด้านที่"),
        ("kind", "ประเภทตัวชี้วัด"),
        ("scoring", "วิธีให้คะแนน"), ("weight", "น้ำหนัก"), ("target", "เป้าหมาย"), ("unit", "หน่วยนับ"),
        ("year_value", "ผลที่ใช้คิดคะแนน"), ("score", "คะแนน"), ("level", "ระดับคะแนน"),
        ("target_met", "ผลการประเมิน"), ("explanation_th", "วิธีคิดคะแนน"),
        ("flagged", "คะแนนจากข้อมูลผิด"), ("flagged_cells", "ช่องที่ผิด"), ("value_source", "ค่าที่ใช้คิดคะแนน"),
        ("typed_difference", "ผลต่างผลที่พิมพ์กับรายไตรมาส (W402)"), ("counted", "นับในคะแนนถ่วงน้ำหนัก"),
        ("hq_score", "คะแนนที่สำนักงานประเมิน"), ("hq_decision", "ผลการพิจารณาของสำนักงาน"),
        ("returned", "ที่ส่งกลับแก้ไข (changed/unchanged)"),
    ]
    fields = [(name, f.label_th) for name, f in spec.fields.items() if f.is_input]
    return fixed + fields


DATA_NOTE = ("แผ่นงานนี้ใช้กรองและทำ PivotTable บนจอ ไม่ได้จัดไว้พิมพ์ (พิมพ์แผ่นงานอื่น หรือกรองแล้วพิมพ์เฉพาะที่เลือก)\n"
             "For filtering on screen, not for printing: print the other sheets, or filter and print a selection.")


def _data(book: _Book) -> None:
    from .form import load_spec

    r = book.result
    spec = load_spec()
    columns = data_columns()
    texts = {name for name, f in spec.fields.items() if f.type == "text"}
    caps = {col: 40.0 for col, (key, _) in enumerate(columns) if key in texts or key in ("indicator_name_th",
                                                                                           "explanation_th")}
    s = book.sheet("data", caps=caps, worksheet_class=_RowsSheet)
    ws, fmt = s.ws, book.fmt
    assert isinstance(ws, _RowsSheet)
    for col, (key, _) in enumerate(columns):
        ws.write_string(0, col, key, fmt["key"])
    first = 2
    number_cols = {"fiscal_year": "int", "quarter": "int", "district_code": "int", "dimension": "int", "hq_score": "score",
                   "weight": "num", "target": "num", "year_value": "num", "score": "score", "level": "int",
                   "typed_difference": "num"}
    for name, f in spec.fields.items():
        if f.type == "number":
            number_cols[name] = "num"
        elif f.type == "quarter":
            number_cols[name] = "int"
        elif f.type == "date":
            number_cols[name] = "date"
    # The long table is most of the summary's cells: one pass per column over plain Python values (no
    # DataFrame rows), blanks skipped (the table style draws the grid), each distinct text and number measured
    # once at the end, and the rows handed to the sheet in one call (see _RowsSheet).
    plain = {kind: book.wb.add_format({"font_name": FONT, "font_size": FONT_SIZE, "valign": "top",
                                       **({"num_format": nf} if nf else {})})
             for kind, nf in (("int", "0"), ("num", "#,##0.##"), ("score", "0.00"),
                              ("date", "[$-107041E]d mmm yyyy"), ("text", None))}
    frame = r.scores
    count = len(frame)
    block: list[tuple[int, list[Any], tuple[Format, Format, Format]]] = []
    measured: dict[int, tuple[set[str], set[float]]] = {}
    for col, (key, _) in enumerate(columns):
        if key not in frame.columns:  # head office's columns exist once a review was applied
            continue
        texts_seen: set[str] = set()
        numbers_seen: set[float] = set()
        values = _data_cells(frame[key], key, texts_seen, numbers_seen, long_text=key in texts)
        kind = number_cols.get(key, "text")
        block.append((col, values, (plain["text"], plain[kind if kind != "text" else "num"], plain["date"])))
        measured[col] = (texts_seen, numbers_seen)
    ws.add_columns(first, count, block)
    for col, (texts_seen, numbers_seen) in measured.items():
        for text in texts_seen:
            s.note(col, text)
        if numbers_seen:  # shown as 1,234.50: the widest is the largest or the most negative (no need for all)
            s.note(col, f"{max(numbers_seen):,.2f}")
            s.note(col, f"{min(numbers_seen):,.2f}")
    headers = [{"header": th} for _, th in columns]
    last = first + max(count, 1) - 1
    if not count:
        for col in range(len(columns)):
            ws.write_blank(first, col, None, fmt["cell"])
    ws.add_table(first - 1, 0, last, len(columns) - 1, {
        "name": TABLE_NAME, "columns": headers, "style": "Table Style Light 9", "autofilter": True,
    })
    for col, (key, th) in enumerate(columns):
        s.note(col, th, 3)  # room for the table's filter button
        if key in texts:
            s.widths[col] = caps[col]
    ws.freeze_panes(first, 4)
    # For filtering on screen, not for paper: 40 columns print at 4 pt even three pages wide. The print
    # area is a note beside the table saying so; a person who wants rows on paper filters and prints a selection.
    note = len(columns) + 1
    ws.write_string(0, note, DATA_NOTE, book.wb.add_format({"font_name": FONT, "font_size": FONT_SIZE, "bold": True,
                                                              "font_color": "#1F4E78", "text_wrap": True,
                                                              "valign": "top"}))
    ws.set_column(note, note, PAGE_CHARS - 8)
    ws.set_row(0, LINE_HEIGHT * 3 + 4)
    ws.print_area(0, note, 0, note)
    s.finish()


def _data_cells(column: Any, key: str, texts_seen: set[str], numbers_seen: set[float], *,
                long_text: bool) -> list[Any]:
    """One column of the data sheet as written: text, a number, a datetime or None (blank); what the column's
    width must fit goes into ``texts_seen`` and ``numbers_seen`` (not the texts of a ``long_text`` column: its
    width is fixed).

    Text stays text even in a number column (a clerk's typo); yes/no columns in Thai; dates as dates;
    everything else a number. Values come as plain Python (``tolist``, one call per column instead of a dict
    per row), numpy scalars of object columns unboxed as ``DataFrame.to_dict`` does; a plain numeric column
    takes one comprehension.
    """
    import numpy as np
    import pandas as pd

    values = column.tolist()
    yes_no = {"target_met": ("ผ่าน", "ไม่ผ่าน"), "flagged": ("ใช่", "ไม่"), "counted": ("ใช่", "ไม่")}.get(key)
    shown = SCORING_TH if key == "scoring" else SOURCE_TH if key == "value_source" else None
    if isinstance(column.dtype, np.dtype) and column.dtype.kind in "iuf" and yes_no is None and shown is None:
        out = [None if v != v else float(v) for v in values]  # NaN: blank (numpy columns: no pd.NA here)
        numbers_seen.update(out)
        numbers_seen.discard(None)  # type: ignore[arg-type]
        return out
    if yes_no is not None and column.dtype == np.dtype(bool):  # yes/no: a numpy bool column has no blanks
        out = [yes_no[0] if v else yes_no[1] for v in values]
        if not long_text:
            texts_seen.update(out[:1] if len(set(values)) < 2 else yes_no)  # the words shown
        return out
    if column.dtype == object:
        kinds = set(map(type, values))
        if any(issubclass(k, np.generic) for k in kinds):
            values = [_native(v) if isinstance(v, np.generic) else v for v in values]
            kinds = set(map(type, values))
        if yes_no is None and kinds <= {str, NoneType}:  # text and blanks (shown in Thai where mapped)
            if shown is not None:
                values = [shown.get(v, v) if v is not None else None for v in values]
            if not long_text:
                texts_seen.update(filter(None, values))  # "" is as wide as nothing
            return values
    missing = pd.NA
    out = []
    for value in values:
        if value is None or value is missing or (isinstance(value, float) and value != value):
            out.append(None)
            continue
        if yes_no:
            value = yes_no[0] if value else yes_no[1]
        elif shown is not None:
            value = shown.get(value, value)
        if isinstance(value, str):
            out.append(value)
            if not long_text:
                texts_seen.add(value)
        elif isinstance(value, (dt.date, dt.datetime)):
            out.append(value if isinstance(value, dt.datetime) else dt.datetime.combine(value, dt.time()))
            texts_seen.add("30 ก.ย. 2564")
        elif isinstance(value, bool):
            out.append("TRUE" if value else "FALSE")
        else:
            number = float(value)
            out.append(number)
            numbers_seen.add(number)
    return out


def _native(value: Any) -> Any:
    """A numpy scalar as the Python value ``DataFrame.to_dict`` gives (datetime64 → Timestamp)."""
    import numpy as np
    import pandas as pd

    if isinstance(value, np.datetime64):
        return pd.Timestamp(value)
    if isinstance(value, np.timedelta64):
        return pd.Timedelta(value)
    return value.item()


def _manifest(book: _Book) -> None:
    r = book.result
    s = book.sheet("manifest", caps={0: 50, 2: 66})
    ws, fmt = s.ws, book.fmt
    info = [
        ("รวบรวมเมื่อ (เวลาไทย)", "run at (ICT)", _local(r.run_at.replace(tzinfo=None) if r.run_at.tzinfo is None
                                                         else r.run_at.astimezone(dt.UTC).replace(tzinfo=None))),
        ("โปรแกรม", "program", f"kpi-xl {_version()}"),
        ("ปีงบประมาณ", "fiscal year", r.fiscal_year),
        ("ไตรมาส", "quarter", r.quarter),
        ("รหัสทะเบียนตัวชี้วัด", "catalog hash", r.catalog_hash),
        ("โฟลเดอร์ที่รวบรวม", "inbox", str(Path(r.inbox).resolve())),
        ("จำนวนแฟ้ม", "files", len(r.manifest)),
    ]
    for i, (th, en, value) in enumerate(info):
        s.write(i, 0, th, fmt["label"], measure=False)
        s.write(i, 1, en, fmt["label_en"])
        s.write(i, 2, value, fmt["datetime"] if isinstance(value, dt.datetime) else fmt["cell"], measure=False)
    top = len(info) + 1
    cols = ["แฟ้ม\nfile", "ขนาด (ไบต์)\nsize (bytes)", "SHA-256", "สถานะ\nstatus (th)", "status",
            "รหัสเขต\ncode", "ใช้ในสรุป\nused", "บันทึกล่าสุด (เวลาไทย)\nsaved (ICT)"]
    s.header(top, cols)
    ws.set_row(top, 48)
    for i, m in enumerate(r.manifest.to_dict("records"), start=top + 1):
        s.write(i, 0, m["file"])
        s.write(i, 1, m["size"], fmt["int"])
        s.write(i, 2, m["sha256"])
        s.write(i, 3, m["status_th"], book.status_fmt.get(m["status"], fmt["cell"]))
        s.write(i, 4, m["status_en"], book.status_fmt.get(m["status"], fmt["cell"]))
        s.write(i, 5, m["district_code"], fmt["int"])
        s.write(i, 6, "ใช้" if m["used"] else "ไม่ใช้")
        s.write(i, 7, _local(m["saved"]), fmt["datetime"])
    ws.freeze_panes(top + 1, 0)
    ws.repeat_rows(top)
    s.print_keys(0)
    s.finish()


@lru_cache(maxsize=1)
def _version() -> str:
    """kpi-xl's installed version (read once: importlib.metadata scans sys.path, ~0.5 ms a call)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kpi-xl")
    except PackageNotFoundError:  # pragma: no cover
        return "0"


# ---------------------------------------------------------------------------------------------
# The manifest as JSON, beside the summary


def manifest_dict(result: ConsolidationResult, *, summary: Path | None = None) -> dict[str, Any]:
    files = []
    for m in result.manifest.to_dict("records"):
        files.append({
            "file": m["file"],
            "size": None if _missing(m["size"]) else int(m["size"]),
            "sha256": None if _missing(m["sha256"]) else m["sha256"],
            "status": m["status"],
            "status_th": m["status_th"],
            "status_en": m["status_en"],
            "district_code": None if _missing(m["district_code"]) else int(m["district_code"]),
            "used": bool(m["used"]),
            "saved": None if _missing(m["saved"]) else _iso(m["saved"]),
        })
    run_at = result.run_at if result.run_at.tzinfo else result.run_at.replace(tzinfo=dt.UTC)
    data: dict[str, Any] = {
        "program": f"kpi-xl {_version()}",
        "run_at": run_at.isoformat(),
        "fiscal_year": result.fiscal_year,
        "quarter": result.quarter,
        "catalog_hash": result.catalog_hash,
        "inbox": str(Path(result.inbox).resolve()),
        "counts": result.counts,
        "files": files,
    }
    if summary is not None and Path(summary).exists():
        data["summary"] = {"file": str(summary), "sha256": sha256_file(Path(summary)),
                           "size": Path(summary).stat().st_size}
    return data


def _iso(value: Any) -> str:
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    return value.replace(tzinfo=dt.UTC).isoformat()


def write_manifest_json(result: ConsolidationResult, path: str | Path, *, summary: Path | None = None) -> Path:
    path = Path(path)
    atomic_write_text(path, json.dumps(manifest_dict(result, summary=summary), ensure_ascii=False, indent=1) + "\n")
    return path


# ---------------------------------------------------------------------------------------------
# The long data sheet: rows prepared once, rendered in one pass


class _Worksheet(Worksheet):
    """XlsxWriter's worksheet, writing its commonest cells' XML in one step.

    Why: at close XlsxWriter writes each cell through an attribute list, an escaping regex per attribute
    and several calls (~2.5 µs a cell); the summary's small sheets hold ~4,500 cells. A number, date, shared
    string or blank with a format — every cell the summary writes but its comments' cells — is one f-string
    here, the same bytes (cell references and style indices need no escaping); any other cell, or any cell
    without a format (row and column formats then apply), goes through XlsxWriter's ``_write_cell``.
    """

    def _write_cell(self, row: int, col: int, cell: Any) -> None:
        fmt = cell.format
        kind = cell.__class__
        if not FAST_XML or fmt is None or self.constant_memory:
            super()._write_cell(row, col, cell)
        elif kind is CellNumberTuple or kind is CellDatetimeTuple:
            self.fh.write(f'<c r="{xl_rowcol_to_cell_fast(row, col)}" s="{fmt._get_xf_index()}"><v>{cell.number:.16G}</v></c>')
        elif kind is CellStringTuple:
            self.fh.write(f'<c r="{xl_rowcol_to_cell_fast(row, col)}" s="{fmt._get_xf_index()}" t="s"><v>{cell.string}</v></c>')
        elif kind is CellBlankTuple:
            self.fh.write(f'<c r="{xl_rowcol_to_cell_fast(row, col)}" s="{fmt._get_xf_index()}"/>')
        else:
            super()._write_cell(row, col, cell)


class _RowsSheet(_Worksheet):
    """A worksheet that takes a long block of plain rows (text, numbers, dates), given column by column.

    Why: the ข้อมูล sheet is 50 districts × 30 indicators × ~50 columns, about 55,000 cells, and XlsxWriter
    spends ~10 µs per cell (argument checks, a cell object in a dict of dicts, then at close an attribute
    list, escaping and a write per cell) — together more than the rest of the consolidation. Here the block
    is checked and its strings registered when added; at close, when the styles' indices are known, a column
    of one kind becomes its cells' XML in one comprehension, rows are joined from those and written after
    XlsxWriter's own rows above the block. The bytes are those XlsxWriter writes for ``write_string``/
    ``write_number``/``write_datetime`` of the same cells row by row: shared strings registered in the same
    order, style indices assigned in the same order, the same spans and dimension. Tests compare the file
    with XlsxWriter's own path (``FAST_XML = False``).

    Limits, fine for the data sheet: one block per sheet, below every cell written the usual way, and no
    other cells, comments or merges in its rows.
    """

    def __init__(self) -> None:
        super().__init__()
        self.block_first: int | None = None
        self.block_count = 0
        self.block_columns: list[tuple[int, str, list[Any], tuple[Format, Format, Format]]] = []  # col, kind, …
        self.block_groups: dict[int, tuple[int, int]] = {}  # per 16 rows (XlsxWriter's spans): first, last column
        self.block_formats: dict[Format, tuple[int, int]] = {}  # format → its first use (row, column)
        self.block_index: dict[str, int] = {}  # the block's strings → their shared-string index

    def add_columns(self, first_row: int, count: int,
                    columns: list[tuple[int, list[Any], tuple[Format, Format, Format]]]) -> None:
        """``count`` rows from ``first_row`` on, as (column, ``count`` values, (text, number, date) formats).

        A value is text (always written as text, never a formula), a number, a datetime, or None (blank);
        its format is the column's format for its kind. Checked and registered now (shared strings, styles'
        first use, dimension); turned into XML at close, when the styles' indices are known.
        """
        columns = sorted(columns, key=lambda c: c[0])
        if not FAST_XML:
            for i in range(count):
                for col, values, (text, number, date) in columns:
                    value = values[i]
                    if value is None:
                        continue
                    if isinstance(value, str):
                        self.write_string(first_row + i, col, value, text)
                    elif isinstance(value, dt.datetime):
                        self.write_datetime(first_row + i, col, value, date)
                    else:
                        self.write_number(first_row + i, col, value, number)
            return
        if self.block_first is not None:
            raise ValueError("one block of rows per sheet")
        prepared = []
        for col, values, formats in columns:
            if len(values) != count:
                raise ValueError(f"column {col}: {len(values)} values for {count} rows")
            kinds = set(map(type, values))
            if not any(issubclass(k, str) for k in kinds):
                long = False
            elif kinds <= {str, NoneType}:
                long = max(map(len, filter(None, values)), default=0) > STRING_MAX // 2
            else:
                long = any(isinstance(v, str) and len(v) > STRING_MAX // 2 for v in values)
            if long:
                values = [_utf16_cut(v, STRING_MAX) if isinstance(v, str) else v for v in values]  # as write_string
            prepared.append((col, values, formats, kinds))
        # Shared strings first, in the order write_string would register them: row by row. Each new string
        # gets the next index (dict.fromkeys keeps the order of first use); the table counts every use.
        table = self.str_table
        texts = [(values, kinds) for _, values, _, kinds in prepared if any(issubclass(k, str) for k in kinds)]
        flat = list(chain.from_iterable(zip(*(values for values, _ in texts), strict=True)))
        if all(kinds <= {str, NoneType} for _, kinds in texts):
            used = list(compress(flat, map(operator.is_not, flat, repeat(None))))
        else:
            used = [v for v in flat if isinstance(v, str)]
        first_uses = dict.fromkeys(used)
        for value in first_uses:
            table._get_shared_string_index(value)
        table.count += len(used) - len(first_uses)
        self.block_index = {v: table.string_table[v] for v in first_uses}  # (the table is emptied at close)
        groups = [(first_row + i) // 16 for i in range(count)]
        spans: dict[int, tuple[int, int]] = {}
        top, bottom, left, right = count, -1, None, None
        for col, values, formats, kinds in prepared:
            text, number, date = formats
            kinds.discard(NoneType)
            if not kinds:  # all blank: no cell, no style used
                continue
            filled = list(compress(range(count), map(operator.is_not, values, repeat(None))))
            if kinds <= {str}:
                kind = "text"
                self._first_use(text, filled[0], col)
            elif all(issubclass(k, dt.datetime) for k in kinds):
                kind = "date"
                self._first_use(date, filled[0], col)
            elif kinds <= {float, int}:
                kind = "number"
                if not all(map(math.isfinite, filter(None, values))):
                    raise TypeError("NAN/INF not supported in write_number()")  # as XlsxWriter says
                self._first_use(number, filled[0], col)
            else:  # a mix (a clerk's text in a number column), dates: cell by cell
                kind = "mixed"
                for i in filled:
                    value = values[i]
                    if isinstance(value, str):
                        self._first_use(text, i, col)
                    elif isinstance(value, dt.datetime):
                        self._first_use(date, i, col)
                    elif math.isfinite(value):
                        self._first_use(number, i, col)
                    else:
                        raise TypeError("NAN/INF not supported in write_number()")
            self.block_columns.append((col, kind, values, formats))
            top, bottom = min(top, filled[0]), max(bottom, filled[-1])
            left = col if left is None else left
            right = col
            for g in set(compress(groups, map(operator.is_not, values, repeat(None)))):
                low, high = spans.get(g, (col, col))
                spans[g] = (min(low, col), max(high, col))
        self.block_first, self.block_count, self.block_groups = first_row, count, spans
        if left is not None and right is not None:
            self._check_dimensions(first_row + top, left)
            self._check_dimensions(first_row + bottom, right)

    def _first_use(self, fmt: Format, row: int, col: int) -> None:
        """Where ``fmt`` is first used in the block, row by row: XlsxWriter numbers styles in that order."""
        if fmt not in self.block_formats or (row, col) < self.block_formats[fmt]:
            self.block_formats[fmt] = (row, col)

    def _block_rows(self, xf: dict[Format, int]) -> list[str]:
        """Each row's cells as XML, built a column at a time (one comprehension per column of one kind)."""
        first, count = self.block_first or 0, self.block_count
        index = self.block_index
        numbers = [str(first + i + 1) for i in range(count)]
        cells: list[list[str]] = []
        for col, kind, values, (text, number, date) in self.block_columns:
            start = f'<c r="{xl_col_to_name(col)}'
            if kind == "text":
                head = f'" s="{xf[text]}" t="s"><v>'
                cells.append([f"{start}{n}{head}{index[v]}</v></c>" if v is not None else ""
                              for n, v in zip(numbers, values, strict=True)])
            elif kind == "number":
                head = f'" s="{xf[number]}"><v>'
                distinct = set(values)
                distinct.discard(None)
                if len(distinct) * 4 < count and 0 not in distinct:  # few values (years, codes): each shown once
                    shown = {v: f"{v:.16G}" for v in distinct}  # (not with 0: 0.0 and -0.0 are one key)
                    cells.append([f"{start}{n}{head}{shown[v]}</v></c>" if v is not None else ""
                                  for n, v in zip(numbers, values, strict=True)])
                else:
                    cells.append([f"{start}{n}{head}{v:.16G}</v></c>" if v is not None else ""
                                  for n, v in zip(numbers, values, strict=True)])
            elif kind == "date":  # signing dates: few distinct ones, each converted once
                head = f'" s="{xf[date]}"><v>'
                serial = {v: f"{self._convert_date_time(v):.16G}" for v in set(values) if v is not None}
                cells.append([f"{start}{n}{head}{serial[v]}</v></c>" if v is not None else ""
                              for n, v in zip(numbers, values, strict=True)])
            else:
                serial = self._convert_date_time
                cells.append([
                    "" if v is None
                    else f'{start}{n}" s="{xf[text]}" t="s"><v>{index[v]}</v></c>' if isinstance(v, str)
                    else f'{start}{n}" s="{xf[date]}"><v>{serial(v):.16G}</v></c>' if isinstance(v, dt.datetime)
                    else f'{start}{n}" s="{xf[number]}"><v>{v:.16G}</v></c>'
                    for n, v in zip(numbers, values, strict=True)])
        return ["".join(row) for row in zip(*cells, strict=True)] if cells else [""] * count

    def add_table(self, first_row: int, first_col: int, last_row: int, last_col: int,  # type: ignore[override]
                  options: dict[str, Any] | None = None) -> int:
        """A table over the block: XlsxWriter checks every cell of a table's range for overlaps with other
        tables and merges (~0.1 s over this sheet); the block has neither, so the table is added over its
        header and first row and then given its full range."""
        if not FAST_XML or self.block_first is None or not self.block_columns or last_row <= first_row + 1:
            return super().add_table(first_row, first_col, last_row, last_col, options)
        done = super().add_table(first_row, first_col, first_row + 1, last_col, options)
        if done == 0:
            table = self.tables[-1]
            table["range"] = xl_range(first_row, first_col, last_row, last_col)
            table["a_range"] = xl_range(first_row, first_col, last_row, last_col)  # no totals row here
            if "autofilter" in table:
                table["autofilter"] = table["a_range"]
        return done

    def _calculate_spans(self) -> None:
        super()._calculate_spans()
        if not self.block_columns:
            return
        spans = dict(self.block_groups)
        for index, text in self.row_spans.items():
            a, b = (int(x) - 1 for x in text.split(":"))
            low, high = spans.get(index, (a, b))
            spans[index] = (min(low, a), max(high, b))
        self.row_spans = {index: f"{a + 1}:{b + 1}" for index, (a, b) in spans.items()}

    def _write_rows(self) -> None:
        if not self.block_columns or self.block_first is None:
            super()._write_rows()
            return
        first = self.block_first
        if any(row >= first and cells for row, cells in self.table.items()) or any(
                row >= first for row in self.comments):
            raise ValueError("cells written the usual way inside the block of rows")
        top = self.dim_rowmax
        self.dim_rowmax = first - 1  # XlsxWriter writes its own rows, above the block (spans: see above)
        try:
            super()._write_rows()
        finally:
            self.dim_rowmax = top
        spans = self.row_spans
        # The first use assigns a format its index: in row order, as XlsxWriter's own cells would.
        xf = {fmt: fmt._get_xf_index() for fmt in sorted(self.block_formats, key=self.block_formats.__getitem__)}
        write, row_tag, row_info = self.fh.write, self._write_row, self.row_info
        for i, cells in enumerate(self._block_rows(xf), start=first):
            if not cells:
                if i in row_info:
                    self._write_empty_row(i, spans.get(i // 16), row_info[i])
                continue
            row_tag(i, spans.get(i // 16), row_info.get(i))
            write(cells)
            write("</row>")


FAST_XML = True  # False: XlsxWriter's own write_* and shared strings (the reference the tests compare with)
STRING_MAX = 32767  # UTF-16 units in a cell


def _utf16_cut(text: str, limit: int) -> str:
    """The longest start of ``text`` within ``limit`` UTF-16 units (never half a surrogate pair)."""
    units = 0
    for i, ch in enumerate(text):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > limit:
            return text[:i]
    return text


# ---------------------------------------------------------------------------------------------
# Shared strings written in one pass


class _Workbook(xlsxwriter.Workbook):
    """XlsxWriter's workbook with a faster writer of sharedStrings.xml (``_get_packager`` is its hook for that)."""

    def _get_packager(self) -> Packager:
        return _Packager() if FAST_XML else super()._get_packager()


class _Packager(Packager):
    def _write_shared_strings_file(self) -> None:
        sst = _SharedStrings()  # as Packager does, with the subclass
        sst.string_table = self.workbook.str_table
        if not self.workbook.str_table.count:
            return
        sst._set_xml_writer(self._filename("xl/sharedStrings.xml"))
        sst._assemble_xml_file()


_PLAIN_TEXT_NOT = re.compile("[\x00-\x08\x0b-\x1f&<>\ufffe\uffff]")


class _SharedStrings(SharedStrings):
    """sharedStrings.xml as XlsxWriter writes it, faster for plain text.

    Why: the summary's ~6,700 distinct strings are mostly long Thai narratives (3.9 MB); XlsxWriter runs
    four regular expressions and a write per string (~40 ms). A string with nothing to escape (no control
    character, ``_xHHHH_``-like text, &, <, >, U+FFFE/U+FFFF, and no space at either end) is written as
    ``<si><t>…</t></si>`` here, all in one write; any other string goes through XlsxWriter's own ``_write_si``,
    so the bytes are the same either way.
    """

    def _write_sst_strings(self) -> None:
        plain_not = _PLAIN_TEXT_NOT.search
        pending: list[str] = []
        for string in self.string_table.string_array:
            if string and not (plain_not(string) or "_x" in string or string[0].isspace() or string[-1].isspace()):
                pending.append(f"<si><t>{string}</t></si>")
            else:
                self.fh.write("".join(pending))
                pending = []
                self._write_si(string)
        self.fh.write("".join(pending))
