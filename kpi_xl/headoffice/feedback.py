"""Feedback workbooks: head office's assessment going back to a district.

A *copy* of the workbook the district sent (the original in the inbox is never touched; openpyxl
with the macros kept, :func:`kpi_xl.keep_vba.save_workbook`), with

* on each assessed indicator sheet, below the form, a clearly marked box: head office's score
  beside the district's own, the decision (รับ / ส่งกลับแก้ไข), the comment and the reviewer;
* a last sheet, ผลการตรวจประเมิน, listing every assessed indicator, the ones sent back first.

The district opens it, fixes what was sent back on the indicator sheets (the box and the extra
sheet are outside the contract cells, so the workbook validates, signs off and consolidates as
before) and sends it again. Every text is written as text (``data_type = "s"``): a comment that
starts with "=" is never a formula.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from ..history import RETURNED

SHEET = "ผลการตรวจประเมิน"
FONT = "TH Sarabun New"
BOX_FILL = "FFF2CC"
RETURN_FILL = "FFC7CE"


def feedback_name(src: Path, fiscal_year: int, quarter: int) -> str:
    return f"feedback_{fiscal_year}_Q{quarter}_{src.stem}{src.suffix}"


def _score(value: Any) -> str:
    return "-" if value is None else f"{float(value):.2f}"


def write_feedback(src: Path, dst: Path, entries: list[dict[str, Any]], *, fiscal_year: int, quarter: int,
                   applied_at: dt.datetime) -> Path:
    """Write the feedback copy of ``src`` to ``dst`` (atomically). ``entries``: one dict per assessed
    indicator with indicator_code, indicator_name_th, self_score, hq_score, decision, comment, reviewer."""
    import openpyxl
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

    from ..keep_vba import save_workbook
    from ..template import row_height

    src, dst = Path(src), Path(dst)
    if src.resolve() == dst.resolve():
        raise ValueError(f"จะไม่เขียนทับไฟล์ต้นฉบับ {src} / refusing to overwrite the source {src}")
    keep_vba = src.suffix.lower() == ".xlsm"
    book = openpyxl.load_workbook(src, keep_vba=keep_vba)
    thick = Side(style="medium", color="C65911")
    box = Border(left=thick, right=thick, top=thick, bottom=thick)
    font, bold = Font(name=FONT, size=14), Font(name=FONT, size=14, bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")
    when = f"{applied_at.day}/{applied_at.month}/{applied_at.year + 543}"

    def put(ws: Any, row: int, col: int, text: str, *, fmt: Font = font, fill: str | None = None,
            border: Border | None = None) -> None:
        cell = ws.cell(row=row, column=col)
        cell.value = text
        cell.data_type = "s"
        cell.font, cell.alignment = fmt, wrap
        if fill:
            cell.fill = PatternFill("solid", fgColor=fill)
        if border is not None:
            cell.border = border

    for e in entries:
        if e["indicator_code"] not in book.sheetnames:
            continue
        ws = book[e["indicator_code"]]
        first = ws.max_row + 2
        returned = e.get("decision") == RETURNED
        fill = RETURN_FILL if returned else BOX_FILL
        lines = [
            (f"ผลการตรวจประเมินของสำนักงาน ปีงบประมาณ {fiscal_year} ไตรมาส {quarter} / Head office's review", bold),
            (f"คะแนนที่สำนักงานประเมิน / head office's score: {_score(e.get('hq_score'))}    "
             f"(คะแนนประเมินตนเองของเขต / self-assessed: {_score(e.get('self_score'))})", font),
            (f"ผลการพิจารณา / decision: {e.get('decision') or '-'}"
             + (" — แก้ไขแล้วยืนยันส่งรายงานใหม่ / fix it, sign off and send again" if returned else ""), bold),
            (f"ความเห็น / comment: {e.get('comment') or '-'}", font),
            (f"ผู้ตรวจ / reviewer: {e.get('reviewer') or '-'} · {when}", font),
        ]
        for i, (text, fmt) in enumerate(lines):
            row = first + i
            ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=6)
            put(ws, row, 1, text, fmt=fmt, fill=fill, border=box)
            for col in range(2, 7):
                ws.cell(row=row, column=col).border = box
            ws.row_dimensions[row].height = row_height([(text, 90.0)])
        ws.print_area = f"A1:F{first + len(lines) - 1}"

    ws = book.create_sheet(SHEET)
    ws.sheet_properties.tabColor = "C65911"
    for col, width in zip("ABCDEF", (12, 45, 12, 12, 16, 50), strict=True):
        ws.column_dimensions[col].width = width
    ws.merge_cells("A1:F1")
    ws.merge_cells("A2:F2")
    put(ws, 1, 1, f"ผลการตรวจประเมินของสำนักงาน ปีงบประมาณ {fiscal_year} ไตรมาส {quarter} / "
                  f"Head office's review, fiscal year {fiscal_year}, quarter {quarter}", fmt=bold)
    back = [e for e in entries if e.get("decision") == RETURNED]
    ws.row_dimensions[2].height = row_height([("x" * 260, 147.0)])
    ws.row_dimensions[4].height = row_height([("x", 10.0)], min_lines=2)
    put(ws, 2, 1, f"ส่งกลับแก้ไข {len(back)} ตัวชี้วัด: แก้ไขในแผ่นงานของตัวชี้วัดนั้น แล้วกดยืนยันส่งรายงานและส่งแฟ้มอีกครั้ง / "
                  f"{len(back)} item(s) sent back: fix them on their sheets, sign off and send the file again",
        fmt=bold if back else font)
    head = ["รหัส\ncode", "ตัวชี้วัด\nindicator", "ประเมินตนเอง\nself", "สำนักงานประเมิน\nhead office",
            "ผลการพิจารณา\ndecision", "ความเห็น\ncomment"]
    for c, text in enumerate(head, start=1):
        put(ws, 4, c, text, fmt=bold, fill="DDEBF7")
    ordered = back + [e for e in entries if e.get("decision") != RETURNED]
    for r, e in enumerate(ordered, start=5):
        fill = RETURN_FILL if e.get("decision") == RETURNED else None
        values = [e["indicator_code"], e.get("indicator_name_th") or "", _score(e.get("self_score")),
                  _score(e.get("hq_score")), e.get("decision") or "", e.get("comment") or ""]
        for c, text in enumerate(values, start=1):
            put(ws, r, c, str(text), fill=fill)
        ws.row_dimensions[r].height = row_height([(str(values[1]), 45.0), (str(values[5]), 50.0)])
    ws.freeze_panes = "A5"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    book.active = book.sheetnames.index(SHEET)
    for sheet in book.worksheets:
        sheet.sheet_view.tabSelected = sheet.title == SHEET
    return save_workbook(book, dst, keep_vba=keep_vba)
