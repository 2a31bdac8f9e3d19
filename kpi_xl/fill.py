"""Fill a built workbook the way a district clerk would: through the contract's defined names.

Used by tests, the demo and the docs pictures. Names are resolved from the workbook itself (not
from the form spec), so a workbook whose rows were moved by a clerk (or by LibreOffice) is filled
in the cells the names point at now. The source file is never modified; the copy is written
atomically.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils import column_index_from_string, range_boundaries
from openpyxl.worksheet.worksheet import Worksheet

from .keep_vba import save_workbook
from .template import row_height

SEED_SHEET = "KPI-05"
SEED_QUARTER = 4
DEFAULT_WIDTH = 8.43
CELL_PADDING = 0.71  # stored widths include the padding XlsxWriter/Excel add to the typed width


def _destination(defined: Any, what: str) -> tuple[str, str]:
    destinations = list(defined.destinations)
    if len(destinations) != 1:
        raise KeyError(f"ชื่อ {what} ไม่ได้ชี้ไปที่เซลล์เดียว / name {what} does not point at one cell")
    sheet, ref = destinations[0]
    return sheet, ref.replace("$", "").split(":")[0]


def _width(ws: Worksheet, cell: str) -> float:
    """Width (Excel units) of the cell, or of its merged block."""
    for merged in ws.merged_cells.ranges:
        if cell in merged:
            first, last = merged.min_col, merged.max_col
            break
    else:
        first = last = column_index_from_string("".join(ch for ch in cell if ch.isalpha()))
    widths: dict[int, float] = {}
    for dim in ws.column_dimensions.values():  # openpyxl groups equal columns into one min..max entry
        if dim.width and dim.min is not None:
            for c in range(dim.min, (dim.max or dim.min) + 1):
                widths[c] = dim.width - CELL_PADDING
    return sum(widths.get(c, DEFAULT_WIDTH) for c in range(first, last + 1))


def _grow_row(ws: Worksheet, cell: str, text: str) -> None:
    """Make the row tall enough for a filled paragraph: merged cells never grow by themselves."""
    row = range_boundaries(cell)[1]
    needed = row_height([(text, _width(ws, cell))])
    current = ws.row_dimensions[row].height
    if current is None or current < needed:
        ws.row_dimensions[row].height = needed


def fill_workbook(src: str | Path, dst: str | Path, *, values: dict[str, dict[str, Any]],
                  report_quarter: int | None = None) -> Path:
    """Copy ``src`` to ``dst`` with ``values`` ({sheet: {defined name: value}}) written into the named cells.

    Values may be text, numbers, dates or datetimes; ``None`` empties a cell. Raises ``KeyError``
    for a sheet or a name the workbook lacks.
    """
    src, dst = Path(src), Path(dst)
    if src.resolve() == dst.resolve():
        raise ValueError(f"จะไม่เขียนทับไฟล์ต้นฉบับ {src} / refusing to overwrite the source {src}")
    keep_vba = src.suffix.lower() == ".xlsm"
    book = openpyxl.load_workbook(src, keep_vba=keep_vba)
    for sheet, named in values.items():
        if sheet not in book.sheetnames:
            raise KeyError(f"ไม่มีแผ่นงาน {sheet} ใน {src.name} / no sheet {sheet!r} in {src.name}")
        ws = book[sheet]
        for name, value in named.items():
            defined = ws.defined_names.get(name)
            if defined is None:
                raise KeyError(f"ไม่มีชื่อ {name} ในแผ่นงาน {sheet} / no defined name {name!r} on sheet {sheet!r}")
            target_sheet, cell = _destination(defined, f"{sheet}!{name}")
            target = book[target_sheet]
            target[cell].value = value
            if isinstance(value, str) and value.startswith("="):
                target[cell].data_type = "s"  # typed text stays text: a leading "=" is not a formula
            if isinstance(value, str) and value:
                _grow_row(target, cell, value)
    if report_quarter is not None:
        defined = book.defined_names.get("report_quarter")
        if defined is None:
            raise KeyError(f"ไม่มีชื่อ report_quarter ใน {src.name} / no workbook name report_quarter in {src.name}")
        target_sheet, cell = _destination(defined, "report_quarter")
        book[target_sheet][cell].value = report_quarter
    return save_workbook(book, dst, keep_vba=keep_vba)


# ---------------------------------------------------------------------------------------------
# The seed page (shared/reference/seed_report_form_chatuchak.md), word for word, for KPI-05.

SEED_Q1 = ("สำนักงานเขตจตุจักรโดย ฝ่ายปกครองได้เชิญภาคประชาสังคมเขตจตุจักรประชุมเพื่อกำหนดแนวทางป้องกันโรคโควิด19 "
           "วันที่ 23 ธันวาคม 2563 เวลา 09.30-12.00 น. ณ ห้องประชุมชั้น 9 สำนักงานเขตจตุจักร")
SEED_Q2 = ("- สำนักงานเขตจตุจักรได้นำบัญชีรายชื่อประชาคมเขตมาสำรวจเพื่อให้ข้อมูลถูกต้องและเป็นปัจจุบัน\n"
           "- สถานการณ์การแพร่ระบาดเชื้อไวรัสโคโรนา 2019\n"
           "ทำให้ไม่สามารถจัดการประชุมเพื่อระดมความคิดเห็นในภาคประชาสังคมได้ต้องรอสถานการณ์ผ่อนคลายจึงจะเริ่มดำเนินการได้")
SEED_Q3 = ("สำนักงานเขตจตุจักรได้ประชุมเครือข่ายประชาชนในพื้นที่และได้กำหนดกิจกรรมปลูกผักสวนครัวเพื่อกินได้"
           "ริมคลองบางซื่อหลังตลาด อดท.")
SEED_Q4 = ("สำนักงานเขตจตุจักรได้ดำเนินการครบทุกขั้นตอนดังนี้\n"
           "1.จัดทำทะเบียนบัญชีประชาคม\n"
           "2. รายงานผลการประชุมของเครือข่ายประชาคมเขต\n"
           "3. แผนการดำเนินงานคลองนี้มีรักปลูกผักแบ่งปัน ที่เครือข่ายฯที่กำหนดขึ้นและได้ดำเนินการเป็นที่เรียบร้อยแล้ว\n"
           "4. สรุปผลการดำเนินงานให้ผู้บริหารเขตทราบ แล้ว")
SEED_SUPPORT = "การมีส่วนร่วมของเครือข่ายประชาสังคมในพื้นที่เขตจตุจักรที่ให้ความสำคัญและความร่วมมือเป็นอย่างดี"
SEED_EVIDENCE = "เอกสารการดำเนินงาน"
SEED_SUMMARY = "สำนักงานเขตจตุจักรดำเนินการสร้างเครือข่ายประชาสังคมครบทั้ง 5 ระดับตามเป้าหมาย"


def seed_values() -> dict[str, Any]:
    """The Chatuchak seed page as {defined name: value} for KPI-05 (report for quarter 4).

    Levels follow the narratives: the register was brought up to date in Q2 (level 1), the
    network met and planned its activity in Q3 (levels 2–3), and Q4 reports every step done and
    reported to the district's executives (levels 4–5). The signer and the year-end summary
    (6.5) are blank on the paper seed but required in quarter 4, so plausible ones are filled to
    make the report complete.
    """
    return {
        "q1_report": SEED_Q1,
        "q2_report": SEED_Q2,
        "q3_report": SEED_Q3,
        "q4_report": SEED_Q4,
        "year_summary": SEED_SUMMARY,
        "support_factors": SEED_SUPPORT,
        "evidence": SEED_EVIDENCE,
        "result_value": 5,
        "level_1": 2,
        "level_2": 3,
        "level_3": 3,
        "level_4": 4,
        "level_5": 4,
        "signer_name": "นางสาวสุภาพร ใจดี",
        "signer_position": "หัวหน้าฝ่ายปกครอง สำนักงานเขตจตุจักร",
        "signed_date": dt.date(2021, 9, 30),
    }
