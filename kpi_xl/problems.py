"""The problem registry: every kind of problem kpi-xl can report, with a stable code.

Codes never change meaning (like pyxform's registry): head office files, the Excel button and
`docs/errors.md` all quote them, so a code is added, never renumbered. Each kind carries a Thai and
an English message template; a rendered message reads location first, then what is wrong, then
how to fix it: ``[KPI-03!D14] ผลไตรมาสที่ 2 ต้องเป็นตัวเลข — พบ "สิบ" — กรอกเป็นตัวเลข เช่น 10``.

Problems are collected into a :class:`Report` (all of them, never only the first) that merges
across workbooks, as frictionless does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from itertools import groupby
from typing import Any

from pydantic import BaseModel, Field

from .defaults import new_list


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class ProblemKind:
    """One registry entry. ``message_*`` and ``fix_*`` are ``str.format`` templates."""

    code: str
    severity: Severity
    title: str
    message_th: str
    message_en: str
    fix_th: str
    fix_en: str
    area: str

    def fields(self) -> set[str]:
        """Placeholders the templates use, so callers (and a test) can check they pass them all."""
        text = " ".join((self.message_th, self.message_en, self.fix_th, self.fix_en))
        return set(re.findall(r"{(\w+)", text))


REGISTRY: dict[str, ProblemKind] = {}

_AREAS = {
    "C": "ทะเบียนตัวชี้วัด / Indicator catalog",
    "E1": "โครงสร้างแฟ้ม / Workbook structure",
    "E2": "ข้อมูลที่ต้องกรอก / Required inputs",
    "E3": "ชนิดข้อมูล / Types",
    "E4": "ความหมายของข้อมูล / Meaning",
    "W4": "ความหมายของข้อมูล / Meaning",
    "E5": "การรวบรวมผล / Consolidation",
    "W5": "การรวบรวมผล / Consolidation",
    "E6": "แฟ้มผลลัพธ์ ประวัติ และความน่าเชื่อถือของแฟ้มที่รับ / Outputs, history and inbox trust",
    "W6": "แฟ้มผลลัพธ์ ประวัติ และความน่าเชื่อถือของแฟ้มที่รับ / Outputs, history and inbox trust",
    "E7": "การยืนยันส่งรายงาน / District sign-off",
    "W7": "การยืนยันส่งรายงาน / District sign-off",
}
# Head office's review shares the sign-off's area (E71x / W71x): the year's cycle.


def _kind(
    code: str,
    severity: Severity,
    title: str,
    message_th: str,
    message_en: str,
    fix_th: str,
    fix_en: str,
) -> None:
    tail = code.split("-", 1)[1]
    area = _AREAS["C" if tail.startswith("C") else tail[:2]]
    if code in REGISTRY:  # pragma: no cover - guards the table below
        raise RuntimeError(f"duplicate problem code {code}")
    REGISTRY[code] = ProblemKind(code, severity, title, message_th, message_en, fix_th, fix_en, area)


E, W = Severity.ERROR, Severity.WARNING

# --- Indicator catalog (head office's workbook or YAML) -----------------------------------------
_kind("KPI-C001", E, "Catalog unreadable",
      "อ่านทะเบียนตัวชี้วัดไม่ได้: {detail}", "cannot read the indicator catalog: {detail}",
      "ตรวจว่าเป็นแฟ้ม .xlsx หรือ .yaml ที่ถูกต้อง", "check it is a valid .xlsx or .yaml file")
_kind("KPI-C002", E, "Catalog sheet missing",
      "ไม่พบแผ่นงาน \"{sheet_th}\"", "sheet '{sheet_en}' is missing",
      "เพิ่มแผ่นงานตามแบบในแฟ้มตัวอย่าง", "add the sheet as in the sample catalog")
_kind("KPI-C003", E, "Catalog column missing",
      "ไม่พบคอลัมน์ \"{column}\" ในแถวหัวตาราง", "column '{column}' is missing from the header row",
      "เพิ่มคอลัมน์ตามแบบในแฟ้มตัวอย่าง", "add the column as in the sample catalog")
_kind("KPI-C010", E, "Required catalog value missing",
      "ต้องกรอก {column}", "{column} is required",
      "กรอกค่าในช่องนี้", "fill in this cell")
_kind("KPI-C011", E, "Value not among the choices",
      "ค่า \"{value}\" ใช้ไม่ได้ ต้องเป็นหนึ่งใน {choices}", "\"{value}\" is not allowed; expected one of {choices}",
      "เลือกค่าจากรายการ", "pick one of the listed values")
_kind("KPI-C012", E, "Catalog value not a number",
      "ค่า \"{value}\" ต้องเป็นตัวเลข", "\"{value}\" must be a number",
      "กรอกเป็นตัวเลข", "type a number")
_kind("KPI-C020", E, "Duplicate indicator code",
      "รหัสตัวชี้วัด {value} ซ้ำกับแถว {other_row}", "indicator code {value} repeats row {other_row}",
      "ใช้รหัสที่ไม่ซ้ำกัน", "give each indicator its own code")
_kind("KPI-C021", E, "Unknown plan dimension",
      "ไม่มีด้านที่ {value} ในแผนพัฒนา 20 ปี (มี 1–{count})", "dimension {value} is not in the plan (1–{count})",
      "กรอกเลขด้าน 1 ถึง {count}", "use a dimension number from 1 to {count}")
_kind("KPI-C022", E, "Thresholds out of order",
      "เกณฑ์ {value} ต้อง{order}", "thresholds {value} must be {order_en}",
      "เรียงเกณฑ์ระดับ 1 ถึง 5 ใหม่ หรือแก้ทิศทาง (direction)", "reorder t1…t5 or fix the direction")
_kind("KPI-C023", E, "Milestone without exactly 5 levels",
      "ตัวชี้วัดแบบขั้นความสำเร็จต้องมี 5 ระดับ พบ {count} ระดับ", "a milestone indicator needs 5 levels, found {count}",
      "กรอกคำอธิบายระดับ 1 ถึง 5 ให้ครบ", "describe each of levels 1 to 5")
_kind("KPI-C024", E, "Weight not positive",
      "น้ำหนัก {value} ต้องมากกว่า 0", "weight {value} must be greater than 0",
      "กรอกน้ำหนักเป็นตัวเลขบวก", "type a positive weight")
_kind("KPI-C025", E, "Unknown district code",
      "ไม่มีรหัสเขต {value}", "district code {value} does not exist",
      "ใช้รหัสเขตจากแผ่นงานเขต (เช่น 1030)", "use a code from the districts sheet (e.g. 1030)")
_kind("KPI-C026", W, "Weights do not sum to 100",
      "น้ำหนักรวม {value} ไม่เท่ากับ 100", "weights sum to {value}, not 100",
      "ปรับน้ำหนักให้รวมเป็น 100", "adjust the weights to sum to 100")
_kind("KPI-C027", E, "Indicator code unusable as a sheet name",
      "รหัส \"{value}\" ต้องเป็นอักษรอังกฤษ ตัวเลข - หรือ _ ไม่เกิน 20 ตัว", "code \"{value}\" must be 1–20 letters, digits, - or _",
      "แก้รหัส เช่น KPI-01", "use a code such as KPI-01")
_kind("KPI-C028", E, "Wrong number of thresholds",
      "ตัวชี้วัดแบบเกณฑ์ต้องมีเกณฑ์ 5 ค่า (t1–t5) พบ {count}", "a thresholds indicator needs 5 values t1–t5, found {count}",
      "กรอกเกณฑ์ t1 ถึง t5 ให้ครบ", "fill t1 to t5")
_kind("KPI-C029", E, "Target on the wrong side of the scale",
      "เป้าหมาย {value} อยู่นอกช่วงคะแนน {low}–{high}", "target {value} lies outside the scale {low}–{high}",
      "แก้เป้าหมายหรือเกณฑ์", "fix the target or the thresholds")

# --- Workbook structure ------------------------------------------------------------------------
_kind("KPI-E100", E, "File cannot be opened",
      "เปิดแฟ้มไม่ได้: {detail}", "the file cannot be opened: {detail}",
      "ส่งแฟ้ม .xlsm/.xlsx ฉบับที่บันทึกจาก Excel ใหม่อีกครั้ง", "send the .xlsm/.xlsx saved from Excel again")
_kind("KPI-E101", E, "Old .xls format",
      "แฟ้มเป็นรูปแบบ .xls รุ่นเก่า", "the file is in the old .xls format",
      "เปิดใน Excel แล้วบันทึกเป็น .xlsm (Excel Macro-Enabled Workbook)", "open it in Excel and save as .xlsm")
_kind("KPI-E102", E, "Password-protected file",
      "แฟ้มถูกตั้งรหัสผ่านเปิดแฟ้ม", "the file is encrypted with a password",
      "ยกเลิกรหัสผ่าน (แฟ้ม > ข้อมูล > ป้องกันเวิร์กบุ๊ก) แล้วส่งใหม่", "remove the password (File > Info > Protect Workbook) and send again")
_kind("KPI-E103", E, "Not a kpi-xl workbook",
      "ไม่ใช่แบบรายงานที่สร้างจาก kpi-xl", "not a workbook built by kpi-xl",
      "กรอกข้อมูลลงในแฟ้มแบบรายงานที่ส่วนกลางส่งให้", "fill in the workbook that head office sent")
_kind("KPI-E104", E, "Metadata sheet edited",
      "ข้อมูลกำกับแฟ้ม (แผ่นงานซ่อน {sheet}) ถูกแก้ไข", "the hidden metadata sheet {sheet} was edited",
      "ใช้แฟ้มแบบรายงานฉบับเดิมจากส่วนกลาง", "use the original workbook from head office")
_kind("KPI-E105", E, "Unknown template version",
      "รุ่นแบบรายงาน \"{value}\" ไม่รู้จัก (รู้จัก {expected})", "template version \"{value}\" is unknown (known: {expected})",
      "ขอแฟ้มแบบรายงานรุ่นปัจจุบันจากส่วนกลาง", "ask head office for the current workbook")
_kind("KPI-E106", E, "Built from another catalog",
      "แฟ้มสร้างจากทะเบียนตัวชี้วัดฉบับอื่น ({value} ≠ {expected})", "built from another catalog version ({value} ≠ {expected})",
      "ขอแฟ้มแบบรายงานที่สร้างจากทะเบียนฉบับปัจจุบัน", "ask head office for a workbook built from the current catalog")
_kind("KPI-E107", E, "Unknown district",
      "รหัสเขต \"{value}\" ไม่มีในทะเบียน", "district code \"{value}\" is unknown",
      "ใช้แฟ้มแบบรายงานของเขตตนเองจากส่วนกลาง", "use your district's workbook from head office")
_kind("KPI-E108", E, "Not the expected district",
      "แฟ้มเป็นของเขต {value} ไม่ใช่เขต {expected}", "the workbook is for district {value}, not {expected}",
      "ตรวจว่าส่งแฟ้มของเขตที่ถูกต้อง", "check the right district's workbook was sent")
_kind("KPI-E109", E, "Wrong fiscal year",
      "แฟ้มเป็นของปีงบประมาณ {value} ไม่ใช่ {expected}", "the workbook is for fiscal year {value}, not {expected}",
      "ใช้แฟ้มแบบรายงานของปีงบประมาณ {expected}", "use the workbook for fiscal year {expected}")
_kind("KPI-E110", E, "Indicator sheet missing",
      "ไม่พบแผ่นงานของตัวชี้วัด {value}", "the sheet of indicator {value} is missing",
      "อย่าลบหรือเปลี่ยนชื่อแผ่นงาน ใช้แฟ้มฉบับเดิมแล้วกรอกใหม่", "do not delete or rename sheets; refill the original workbook")
_kind("KPI-E111", E, "Defined name missing",
      "ไม่พบช่องกรอก \"{value}\" (ชื่อที่กำหนด) ในแผ่นงาน", "defined name \"{value}\" is missing on the sheet",
      "อย่าลบช่องกรอก ใช้แฟ้มฉบับเดิมแล้วกรอกใหม่", "do not delete input cells; refill the original workbook")
_kind("KPI-E112", E, "Reporting quarter not chosen",
      "ยังไม่ได้เลือกไตรมาสที่รายงาน (พบ \"{value}\")", "the reporting quarter is not chosen (found \"{value}\")",
      "เลือกไตรมาส 1–4 ที่แผ่นงานคำชี้แจง", "choose quarter 1–4 on the cover sheet")
_kind("KPI-E113", E, "Metadata sheet missing",
      "ไม่พบแผ่นงานซ่อนข้อมูลกำกับแฟ้ม ({sheet})", "the hidden metadata sheet ({sheet}) is missing",
      "ใช้แฟ้มแบบรายงานฉบับเดิมจากส่วนกลาง", "use the original workbook from head office")
_kind("KPI-E114", E, "File exceeds a size limit",
      "ส่วน {part} ของแฟ้มเกินขีดจำกัด: {value} (ขีดจำกัด {limit}) จึงไม่อ่านต่อ",
      "part {part} of the file exceeds a limit: {value} (limit {limit}), so it is not read",
      "ส่งแฟ้มแบบรายงานฉบับเดิมที่กรอกแล้วโดยไม่เพิ่มข้อมูลอื่น (ลบแผ่นงาน แถว หรือข้อมูลที่ไม่เกี่ยวข้อง)",
      "send the original workbook, filled in, without other data (delete unrelated sheets, rows or data)")
_kind("KPI-E115", E, "Defined name points elsewhere",
      "ชื่อที่กำหนด \"{name}\" ชี้ไปที่ {value} แต่ต้องชี้ไปที่ช่องเดียวในแผ่นงาน {expected} จึงไม่ใช้ค่านี้",
      "defined name \"{name}\" points to {value}, but it must point to one cell on sheet {expected}; its value is not used",
      "อย่าแก้ชื่อที่กำหนด (สูตร > ตัวจัดการชื่อ) ใช้แฟ้มฉบับเดิมแล้วกรอกใหม่",
      "do not edit defined names (Formulas > Name Manager); refill the original workbook")
_kind("KPI-E116", E, "XML with a document type declaration",
      "ส่วน {part} ของแฟ้มมีการประกาศ DTD หรือเอนทิตี (<!DOCTYPE) ซึ่ง Excel ไม่เคยเขียน จึงไม่อ่าน",
      "part {part} of the file holds a DTD or entity declaration (<!DOCTYPE), which Excel never writes; it is not read",
      "เปิดแฟ้มใน Excel บันทึกใหม่ แล้วส่งอีกครั้ง", "open the file in Excel, save it again and send it again")

# --- Required inputs -------------------------------------------------------------------------
_kind("KPI-E201", E, "Quarterly input missing",
      "ยังไม่ได้กรอก{label_th}", "{label_en} is empty",
      "กรอกข้อมูลของไตรมาสที่ {quarter} ให้ครบ", "fill in quarter {quarter}")
_kind("KPI-E202", E, "Year-end input missing",
      "ยังไม่ได้กรอก{label_th} (ต้องกรอกเมื่อรายงานไตรมาส 4)", "{label_en} is empty (required in quarter 4)",
      "กรอกข้อมูลสรุปปลายปีงบประมาณ", "fill in the year-end part")
_kind("KPI-E203", E, "Signature missing",
      "ยังไม่ได้กรอก{label_th} ของผู้รับผิดชอบ", "{label_en} of the person responsible is empty",
      "กรอกชื่อ ตำแหน่ง และวันที่ลงนาม", "fill in the signer's name, position and date")

# --- Types ---------------------------------------------------------------------------------------
_kind("KPI-E301", E, "Not a number",
      "{label_th} ต้องเป็นตัวเลข — พบ \"{value}\"", "{label_en} must be a number — found \"{value}\"",
      "กรอกเป็นตัวเลข เช่น 10", "type a number such as 10")
_kind("KPI-E302", E, "Not a date",
      "{label_th} ต้องเป็นวันที่ — พบ \"{value}\"", "{label_en} must be a date — found \"{value}\"",
      "กรอกวันที่ เช่น 23 ธันวาคม 2563", "type a date such as 23 ธันวาคม 2563")
_kind("KPI-E303", E, "Date outside the fiscal year",
      "{label_th} {value} อยู่นอกปีงบประมาณ {fiscal_year}", "{label_en} {value} is outside fiscal year {fiscal_year}",
      "กรอกวันที่ระหว่าง {start} ถึง {end}", "use a date from {start} to {end}")
_kind("KPI-E304", E, "Level quarter not 1–4",
      "{label_th} ต้องเป็นไตรมาส 1–4 — พบ \"{value}\"", "{label_en} must be quarter 1–4 — found \"{value}\"",
      "เลือกไตรมาสที่บรรลุระดับนี้จากรายการ หรือเว้นว่างถ้ายังไม่บรรลุ", "pick the quarter from the list, or leave blank")

# --- Meaning ---------------------------------------------------------------------------------------
_kind("KPI-E401", E, "Milestone levels out of order",
      "ระดับ {level} บรรลุในไตรมาส {quarter} แต่ระดับ {previous} {previous_state}",
      "level {level} reached in quarter {quarter} but level {previous} {previous_state_en}",
      "ระดับที่ต่ำกว่าต้องบรรลุก่อนหรือพร้อมกัน", "a lower level must be reached first or in the same quarter")
_kind("KPI-E402", E, "Level reached after the reporting quarter",
      "ระดับ {level} บรรลุในไตรมาส {quarter} ซึ่งเลยไตรมาสที่รายงาน ({report_quarter})",
      "level {level} reached in quarter {quarter}, after the reporting quarter ({report_quarter})",
      "แก้ไตรมาสให้ไม่เกินไตรมาสที่รายงาน", "use a quarter up to the reporting quarter")
_kind("KPI-E403", E, "Percentage above 100",
      "{label_th} เป็นร้อยละ แต่พบ {value}", "{label_en} is a percentage but is {value}",
      "กรอกร้อยละระหว่าง 0 ถึง 100", "type a percentage from 0 to 100")
_kind("KPI-E404", E, "Negative count",
      "{label_th} เป็นจำนวนนับ แต่พบ {value}", "{label_en} is a count but is {value}",
      "กรอกจำนวนตั้งแต่ 0 ขึ้นไป", "type a count of 0 or more")
_kind("KPI-W401", W, "Cumulative value fell",
      "{label_th} = {value} น้อยกว่าไตรมาสก่อน ({previous}) ทั้งที่เป็นค่าสะสม",
      "{label_en} = {value} is below the previous quarter ({previous}) for a cumulative indicator",
      "ตรวจว่ากรอกเป็นยอดสะสม", "check the value is a running total")
_kind("KPI-W402", W, "Result disagrees with the quarterly values",
      "ผลงานที่ทำได้ {value} ไม่ตรงกับผลจากรายไตรมาส ({aggregation}) = {expected}",
      "the result {value} differs from the quarterly values ({aggregation}) = {expected}",
      "ตรวจผลงานที่ทำได้หรือผลรายไตรมาส", "check the result or the quarterly values")
_kind("KPI-W403", W, "Narrative names a date outside its quarter",
      "{label_th} กล่าวถึงวันที่ \"{value}\" ซึ่งอยู่ในไตรมาส {actual_quarter} ของปีงบประมาณ {actual_year}",
      "{label_en} names the date \"{value}\", which belongs in quarter {actual_quarter} of fiscal year {actual_year}",
      "ย้ายข้อความไปไว้ในไตรมาสที่ถูกต้อง หรือแก้วันที่", "move the text to the right quarter or fix the date")
_kind("KPI-W404", W, "Input filled for a later quarter",
      "{label_th} กรอกไว้แล้ว ทั้งที่รายงานถึงไตรมาส {report_quarter}",
      "{label_en} is filled although the report covers up to quarter {report_quarter}",
      "ตรวจไตรมาสที่รายงานในแผ่นงานคำชี้แจง (ค่านี้ไม่นับในคะแนนของไตรมาสที่รายงาน)",
      "check the reporting quarter on the cover sheet (this value does not count for the quarter reported)")
_kind("KPI-W405", W, "Count not a whole number",
      "{label_th} เป็นจำนวนนับ แต่พบ {value}", "{label_en} is a count but is {value}",
      "กรอกจำนวนเต็ม", "type a whole number")

# --- Consolidation -----------------------------------------------------------------------------
_kind("KPI-E501", E, "District did not send",
      "เขต {value} ยังไม่ส่งแฟ้ม", "district {value} has not sent a workbook",
      "ติดตามให้เขตส่งแฟ้ม", "ask the district to send its workbook")
_kind("KPI-W501", W, "File name disagrees with the workbook",
      "ชื่อแฟ้มระบุเขต {value} แต่ข้อมูลในแฟ้มเป็นเขต {expected}", "the file name says district {value} but the workbook is {expected}",
      "ใช้ข้อมูลในแฟ้ม; ตั้งชื่อแฟ้มให้ตรงกับเขต", "the workbook's own data is used; rename the file")
_kind("KPI-W502", W, "Duplicate submission",
      "เขต {value} ส่งมามากกว่าหนึ่งแฟ้ม ใช้แฟ้ม {expected} ที่บันทึกล่าสุด",
      "district {value} sent more than one workbook; using {expected}, saved last",
      "ลบแฟ้มที่ไม่ใช้ออกจากโฟลเดอร์", "remove the unused file from the folder")
_kind("KPI-W503", W, "Excel lock file skipped",
      "ข้ามแฟ้มล็อกของ Excel (~$)", "skipped an Excel lock file (~$)",
      "ปิดแฟ้มใน Excel ก่อนรวบรวม", "close the workbook in Excel before consolidating")
_kind("KPI-E502", E, "Head-office template has nothing to fill",
      "แม่แบบของส่วนกลางไม่มีช่องที่ตั้งชื่อ kpi_… หรือตาราง kpi_districts / kpi_indicators / kpi_problems",
      "the head-office template has no kpi_… named cell and no kpi_districts / kpi_indicators / kpi_problems table",
      "ตั้งชื่อช่อง (สูตร > กำหนดชื่อ) หรือชื่อตารางตามคู่มือส่วนกลาง",
      "name cells (Formulas > Define Name) or tables as listed in the head-office guide")
_kind("KPI-E503", E, "No room below a head-office table",
      "ตาราง {value} ต้องขยายเป็น {count} แถว แต่ช่องด้านล่างตารางมีข้อมูลอยู่",
      "table {value} must grow to {count} rows but a cell below it is not empty",
      "ย้ายข้อมูลใต้ตารางออก หรือวางตารางไว้ท้ายแผ่นงาน", "move what is below the table, or put the table last on its sheet")
_kind("KPI-E504", E, "Head-office template cannot be opened",
      "เปิดแม่แบบของส่วนกลางไม่ได้: {detail}", "the head-office template cannot be opened: {detail}",
      "บันทึกแม่แบบเป็น .xlsx หรือ .xlsm จาก Excel แล้วลองใหม่", "save the template from Excel as .xlsx or .xlsm and try again")
_kind("KPI-W504", W, "Unknown placeholder in the head-office template",
      "ไม่รู้จักชื่อ {value} จึงไม่ได้เติมค่า", "unknown placeholder {value}; left as it was",
      "ใช้ชื่อตามรายการในคู่มือส่วนกลาง", "use a name listed in the head-office guide")

# --- Outputs, history and inbox trust (checked before any work) -------------------------------
_kind("KPI-E601", E, "Output would overwrite an input",
      "{option} {path} เป็นแฟ้มต้นทางที่กำลังอ่าน จะไม่เขียนทับ", "{option} {path} is an input being read; it will not be overwritten",
      "ตั้งชื่อแฟ้มผลลัพธ์ใหม่ นอกโฟลเดอร์แฟ้มที่เขตส่งมา", "name a new output file outside the inbox")
_kind("KPI-E602", E, "Output inside the inbox",
      "{option} {path} อยู่ในโฟลเดอร์ {folder} ที่กำลังอ่าน", "{option} {path} lies inside {folder}, which is being read",
      "เขียนผลลัพธ์ไว้นอกโฟลเดอร์แฟ้มที่เขตส่งมา", "write outputs outside the inbox folder")
_kind("KPI-E603", E, "Output is not an .xlsx file name",
      "{option} {path} ต้องเป็นชื่อแฟ้มที่ลงท้ายด้วย {expected}", "{option} {path} must be a file name ending in {expected}",
      "ตั้งชื่อแฟ้ม เช่น summary_2564_Q4.xlsx", "use a name such as summary_2564_Q4.xlsx")
_kind("KPI-E604", E, "Output names a folder",
      "{option} {path} เป็นโฟลเดอร์ ไม่ใช่ชื่อแฟ้ม", "{option} {path} is a folder, not a file name",
      "ระบุชื่อแฟ้มในโฟลเดอร์นั้น เช่น {example}", "name a file in it, e.g. {example}")
_kind("KPI-E605", E, "Output folder missing",
      "ไม่พบโฟลเดอร์ {folder} ของ {option} {path}", "the folder {folder} of {option} {path} does not exist",
      "สร้างโฟลเดอร์ก่อน หรือแก้ชื่อโฟลเดอร์ที่พิมพ์ผิด", "create the folder first, or fix a mistyped name")
_kind("KPI-E606", E, "Output folder not writable",
      "เขียนแฟ้มในโฟลเดอร์ {folder} ไม่ได้ ({detail}) สำหรับ {option} {path}",
      "cannot write into {folder} ({detail}) for {option} {path}",
      "เลือกโฟลเดอร์ที่มีสิทธิ์เขียน หรือขอสิทธิ์จากผู้ดูแลระบบ", "choose a folder you may write to, or ask IT for access")
_kind("KPI-E607", E, "Output folder is a file",
      "{option} {path} เป็นแฟ้ม ไม่ใช่โฟลเดอร์", "{option} {path} is a file, not a folder",
      "ระบุโฟลเดอร์ใหม่หรือโฟลเดอร์ที่มีอยู่", "name a new or an existing folder")
_kind("KPI-E608", E, "Output file already exists",
      "{option} {path} มีอยู่แล้ว (หรือสำเนาของอีกแฟ้มในคำสั่งเดียวกันใช้ชื่อนี้) จะไม่เขียนทับ",
      "{option} {path} already exists (or another file of the same command would be written there); "
      "it will not be overwritten",
      "ตั้งชื่อใหม่ หรือย้าย/ลบแฟ้มเดิมก่อน", "choose a new name, or move or delete the old file first")
_kind("KPI-E610", E, "Run would replace history with fewer workbooks",
      "ไม่ได้บันทึกอะไร: รอบนี้ได้รับแฟ้มที่ใช้ได้ {received} เขต น้อยกว่ารอบที่บันทึกไว้ของ {period} ({stored} เขต, รอบที่ {run_id})",
      "nothing written: this run received {received} usable workbooks, fewer than the stored {period} run "
      "({stored}, run {run_id})",
      "ตรวจโฟลเดอร์และไตรมาส ถ้าตั้งใจแทนที่ให้ใช้ --replace-history (รอบเดิมยังเรียกคืนได้)",
      "check the folder and quarter; to replace it on purpose add --replace-history (the old run can be restored)")
_kind("KPI-E611", E, "Empty inbox",
      "ไม่ได้บันทึกอะไร: โฟลเดอร์ {folder} ไม่มีแฟ้ม Excel เลย (0 แฟ้ม) ประวัติของ {period} ไม่เปลี่ยน",
      "nothing written: {folder} holds no Excel workbook (0 files); the {period} history is unchanged",
      "ตรวจชื่อโฟลเดอร์ ถ้าตั้งใจบันทึกว่าทุกเขตยังไม่ส่งให้ใช้ --replace-history",
      "check the folder name; to record every district as missing on purpose add --replace-history")
_kind("KPI-E612", E, "Quarter contradicted by the covers",
      "ไม่ได้บันทึกอะไร: สั่งรวบรวมไตรมาส {quarter} แต่แผ่นคำชี้แจง {count} จาก {total} แฟ้มระบุไตรมาส {declared}",
      "nothing written: quarter {quarter} was asked for, but {count} of {total} workbooks' covers say quarter {declared}",
      "ใช้ --quarter {declared} หรือถ้าตั้งใจให้ใช้ --replace-history",
      "use --quarter {declared}, or add --replace-history if this is intended")
_kind("KPI-E613", E, "History database not found",
      "ไม่พบฐานข้อมูล: {path}", "database not found: {path}",
      "ระบุ --db หรือตัวแปร KPI_XL_HISTORY ให้ชี้ไปที่ฐานข้อมูลที่มีอยู่", "give --db or KPI_XL_HISTORY pointing at an existing database")
_kind("KPI-E614", E, "No such run",
      "ไม่มีรอบการรวบรวมหมายเลข {run_id} ในฐานข้อมูล", "run {run_id} is not in the database",
      "ดูหมายเลขรอบด้วย kpi-xl history runs", "list the run numbers with kpi-xl history runs")
_kind("KPI-E615", E, "Secret key unusable",
      "อ่านกุญแจลับจาก {source} ไม่ได้: {detail}", "cannot use the secret key from {source}: {detail}",
      "สร้างกุญแจใหม่ด้วย kpi-xl keygen --out แฟ้ม แล้วระบุด้วย KPI_XL_KEY_FILE",
      "make one with kpi-xl keygen --out FILE and point KPI_XL_KEY_FILE at it")
_kind("KPI-W601", W, "Link leading outside the inbox skipped",
      "ข้ามลิงก์ที่ชี้ออกไปนอกโฟลเดอร์ ({value})", "skipped a link that leads outside the inbox ({value})",
      "คัดลอกแฟ้มจริงมาไว้ในโฟลเดอร์แทนลิงก์", "copy the real file into the folder instead of a link")
_kind("KPI-W602", W, "Saved date not trusted",
      "วันที่บันทึกในแฟ้ม ({value}) {reason_th} จึงไม่ใช้ในการเลือกแฟ้มที่ส่งซ้ำ ใช้เวลาของแฟ้ม ({expected}) แทน",
      "the saved date inside the file ({value}) {reason_en}, so it is not used to choose among duplicates; "
      "the file's own time ({expected}) is used",
      "ลบแฟ้มที่ไม่ใช้ออกจากโฟลเดอร์", "remove the unused file from the folder")
# --- Upgrade (kpi-xl upgrade) and section copies (build --split-by, merge) ---------------------
_kind("KPI-E620", E, "Output already exists",
      "มีแฟ้ม {value} อยู่แล้ว", "{value} already exists",
      "ใช้ --force เพื่อเขียนทับ หรือเลือกโฟลเดอร์ --out อื่น (สองแฟ้มของเขตเดียวกันต้องแยกโฟลเดอร์)",
      "use --force to overwrite it, or another --out folder (two workbooks of one district need two folders)")
_kind("KPI-E621", E, "Same cell filled differently in two section copies",
      "{label_th} กรอกต่างกัน: {value} และ {expected}", "{label_en} was filled differently: {value} and {expected}",
      "ตกลงค่าที่ถูกต้องแล้วกรอกในแฟ้มรวม (ช่องนี้เว้นว่างไว้ ดูแผ่นงาน ข้อขัดแย้ง)",
      "agree on the right value and type it into the merged workbook (left blank; see the conflicts sheet)")
_kind("KPI-E622", E, "Not a section copy",
      "แฟ้มนี้ไม่ใช่สำเนาของหน่วยงาน (ไม่มี section ในข้อมูลกำกับแฟ้ม)",
      "this workbook is not a section copy (no section in its metadata)",
      "รวมเฉพาะแฟ้มที่สร้างด้วย kpi-xl build --split-by responsible", "merge only copies made by kpi-xl build --split-by responsible")
_kind("KPI-E623", E, "Section copy given twice",
      "สำเนาของ {value} มีสองแฟ้ม: {expected}", "two copies of section {value}: {expected}",
      "ส่งเฉพาะแฟ้มล่าสุดของแต่ละหน่วยงาน", "give only the latest copy of each section")
_kind("KPI-W620", W, "A section's copy sent instead of the district's workbook",
      "แฟ้มนี้เป็นสำเนาของ {value} ตัวชี้วัดของหน่วยงานอื่นในแฟ้มนี้จึงว่าง",
      "this is the copy of section {value}; the other sections' indicators in it are empty",
      "รวมสำเนาของทุกหน่วยงานด้วย kpi-xl merge แล้วส่งแฟ้มรวม", "merge every section's copy with kpi-xl merge and send the result")
# A value far from the district's own past or the other districts' (kpi_xl.outliers): history, not a cell rule.
_kind("KPI-W630", W, "Value far from the usual",
      "ผลงาน {value} ห่างจาก{basis_th}มาก (ค่ากลาง {median}, z = {z} เกิน ±{threshold})",
      "the value {value} is far from {basis_en} (median {median}, z = {z}, beyond ±{threshold})",
      "ตรวจว่าพิมพ์ถูกหรือไม่ (หน่วย จุดทศนิยม ไตรมาส) ถ้าถูกต้องแล้วไม่ต้องแก้",
      "check it was typed right (unit, decimal point, quarter); if it is right, nothing to do")

# --- District sign-off (ยืนยันส่งรายงาน) and head office's view of it --------------------------------
_kind("KPI-E701", E, "Sign-off refused",
      "ยืนยันส่งรายงานไตรมาสที่ {quarter} ไม่ได้ ยังมี {count} รายการที่ต้องแก้",
      "cannot sign off quarter {quarter}: {count} item(s) left to fix",
      "แก้ตามรายการด้านล่าง (หรือในแผ่นงานผลการตรวจสอบ) แล้วกดยืนยันส่งรายงานอีกครั้ง",
      "fix the items listed (also on the results sheet), then sign off again")
_kind("KPI-E702", E, "Signature missing for sign-off",
      "ต้องกรอก{field_th}ก่อนยืนยันส่งรายงาน", "{field_en} is required to sign off",
      "กรอกชื่อ ตำแหน่ง และวันที่ลงนามในทุกแผ่นงานตัวชี้วัด", "fill the signer's name, position and date on every indicator sheet")
_kind("KPI-W701", W, "Changed after signing",
      "แก้ไขข้อมูลหลังยืนยันส่งรายงานไตรมาสที่ {quarter} ({time}) {count} ช่อง: {cells}",
      "changed after the quarter {quarter} sign-off ({time}) in {count} cell(s): {cells}",
      "ตรวจว่าเขตตั้งใจแก้ไข แล้วให้เขตกดยืนยันส่งรายงานอีกครั้ง",
      "check the change was intended, and ask the district to sign off again")
_kind("KPI-W702", W, "Sign-off stamp damaged",
      "ข้อมูลการยืนยันส่งรายงานในแผ่นงานซ่อนถูกแก้ไข ตรวจสอบไม่ได้ว่าแก้ไขข้อมูลหลังยืนยันหรือไม่",
      "the sign-off stamp in the hidden sheet was edited: whether the data changed after signing cannot be told",
      "ให้เขตกดยืนยันส่งรายงานอีกครั้ง แล้วส่งแฟ้มใหม่", "ask the district to sign off again and resend the file")

# --- Head office's review workbook (kpi-xl review apply) -------------------------------------------
_kind("KPI-E711", E, "Assessed score out of range",
      "คะแนนที่สำนักงานประเมิน \"{value}\" ใช้ไม่ได้ ต้องเป็นตัวเลข 0 ถึง 5",
      "head office's score \"{value}\" is not a number from 0 to 5",
      "กรอกคะแนน 0 ถึง 5 (ทศนิยมได้) หรือเว้นว่าง", "type a score from 0 to 5 (decimals allowed), or leave it blank")
_kind("KPI-E712", E, "Decision missing",
      "มีคะแนนหรือความเห็นแต่ยังไม่ได้เลือกผลการพิจารณา", "a score or comment without a decision",
      "เลือก รับ หรือ ส่งกลับแก้ไข", "choose รับ (accept) or ส่งกลับแก้ไข (send back)")
_kind("KPI-E713", E, "Unknown district or indicator",
      "ไม่พบเขต {district} ตัวชี้วัด {indicator} ในผลการรวบรวมไตรมาสนี้", "district {district}, indicator "
      "{indicator} is not in this quarter's consolidation",
      "อย่าแก้รหัสเขตหรือรหัสตัวชี้วัด ใช้แฟ้มตรวจประเมินที่ kpi-xl สร้างจากการรวบรวมล่าสุด",
      "do not edit the codes; use the review workbook kpi-xl wrote from the latest consolidation")
_kind("KPI-E714", E, "Read-only column edited",
      "ข้อมูลของเขตในแถวนี้ (คอลัมน์ที่ล็อกไว้) ถูกแก้ไข", "the district's data on this row (locked columns) was edited",
      "กรอกเฉพาะคอลัมน์สีเหลืองของสำนักงาน คัดลอกคอลัมน์เหล่านั้นไปวางในแฟ้มที่ kpi-xl สร้างใหม่",
      "fill only head office's yellow columns; copy them into a freshly written review workbook")
_kind("KPI-E715", E, "Decision not among the choices",
      "ผลการพิจารณา \"{value}\" ใช้ไม่ได้", "decision \"{value}\" is not one of the choices",
      "เลือก รับ หรือ ส่งกลับแก้ไข จากรายการ", "pick รับ (accept) or ส่งกลับแก้ไข (send back) from the list")
_kind("KPI-E716", E, "Sent back without a comment",
      "ส่งกลับแก้ไขแต่ไม่มีความเห็นว่าต้องแก้อะไร", "sent back without a comment saying what to fix",
      "เขียนความเห็นบอกเขตว่าต้องแก้ไขอะไร", "write what the district has to fix")
_kind("KPI-E717", E, "Reviewer missing",
      "ยังไม่ได้กรอกชื่อผู้ตรวจ", "the reviewer is not named",
      "กรอกชื่อผู้ตรวจในแถวที่มีคะแนน ความเห็น หรือผลการพิจารณา", "name the reviewer on every row with an entry")
_kind("KPI-E718", E, "Not a review workbook",
      "ไม่ใช่แฟ้มตรวจประเมินที่ kpi-xl สร้าง ({detail})", "not a review workbook written by kpi-xl ({detail})",
      "ใช้แฟ้ม review_<ปี>_Q<ไตรมาส>.xlsx ที่ kpi-xl consolidate เขียนไว้ข้างแฟ้มสรุป",
      "use the review_<fy>_Q<q>.xlsx that kpi-xl consolidate wrote beside the summary")
_kind("KPI-E719", E, "Reviewed an older submission",
      "เขต {district} ส่งแฟ้มใหม่หลังจากเขียนแฟ้มตรวจประเมินนี้ ผลการตรวจในแถวนี้เป็นของแฟ้มเดิม",
      "district {district} sent a new workbook after this review workbook was written: this row assessed the old one",
      "ใช้แฟ้มตรวจประเมินที่เขียนจากการรวบรวมล่าสุด (สิ่งที่กรอกไว้สำหรับเขตอื่นยังอยู่)",
      "use the review workbook of the latest consolidation (your entries for the other districts are kept there)")
_kind("KPI-W711", W, "Earlier quarter's value changed",
      "ผลไตรมาสที่ {quarter} เปลี่ยนจาก {old} (ที่ส่วนกลางบันทึกไว้เมื่อรวบรวมไตรมาส {quarter}) เป็น {new}",
      "quarter {quarter}'s value changed from {old} (stored when quarter {quarter} was consolidated) to {new}",
      "สอบถามเขตว่าแก้ไขเพราะอะไร ประวัติยังเก็บค่าเดิมไว้", "ask the district why; the history keeps the old value")
_kind("KPI-E720", E, "Inbox workbook changed since consolidation",
      "แฟ้มของเขต {district} ในโฟลเดอร์ ({value}) ไม่ใช่แฟ้มที่รวบรวมไว้ (ถูกแทนที่หรือแก้ไขหลังการรวบรวม) "
      "จึงไม่บันทึกผลการตรวจและไม่เขียนแฟ้มแจ้งผล",
      "district {district}'s workbook in the inbox ({value}) is not the one consolidated (replaced or edited "
      "since): nothing was stored and no feedback was written",
      "รวบรวมผลอีกครั้ง (kpi-xl consolidate) แล้วตรวจประเมินจากแฟ้มตรวจประเมินฉบับใหม่ หรือวางแฟ้มเดิมกลับที่เดิม",
      "consolidate again and review from the new review workbook, or put the original file back")
_kind("KPI-W710", W, "Submitted workbook not found for feedback",
      "ไม่พบแฟ้มที่เขตส่งมา ({value}) จึงไม่ได้สร้างแฟ้มแจ้งผลให้เขตนี้", "the district's submitted file ({value}) "
      "was not found, so no feedback workbook was written for it",
      "วางแฟ้มที่เขตส่งไว้ในโฟลเดอร์เดิม แล้วสั่ง kpi-xl review apply อีกครั้ง",
      "put the submitted file back in the inbox and run kpi-xl review apply again")

del E, W


class Location(BaseModel):
    """Where a problem is, counted as a spreadsheet user sees it (1-based rows, A1 letters)."""

    file: str | None = None
    sheet: str | None = None
    cell: str | None = None
    name: str | None = Field(None, description="Defined name of the cell, e.g. q2_value")
    sheet_en: str | None = Field(None, description="English alias of the sheet, for catalogs")
    row: int | None = None
    column: str | None = Field(None, description="Column key, for catalogs, e.g. target")

    def th(self) -> str:
        if self.sheet and self.cell:
            return f"[{self.sheet}!{self.cell}]"
        if self.sheet and self.row:
            return f"[{self.sheet}!{self.row}]"
        if self.sheet:
            return f"[{self.sheet}]"
        return f"[{self.file}]" if self.file else ""

    def en(self) -> str:
        if self.sheet_en:
            parts = [f"sheet '{self.sheet_en}'"]
            if self.row:
                parts.append(f"row {self.row}")
            if self.column:
                parts.append(f"column '{self.column}'")
            return "[" + ", ".join(parts) + "]"
        return self.th()


class Problem(BaseModel):
    """One located problem, rendered in both languages."""

    code: str
    severity: Severity
    location: Location
    message_th: str
    message_en: str
    params: dict[str, Any] = Field(default_factory=dict)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def text(self, lang: str = "th") -> str:
        return self.message_th if lang == "th" else self.message_en

    def __str__(self) -> str:
        return f"{self.code} {self.message_th} / {self.message_en}"


def problem(code: str, location: Location | None = None, **params: Any) -> Problem:
    """Render a registry entry at a location; a missing placeholder is a programming error."""
    kind = REGISTRY[code]
    location = location or Location()
    values = {k: _show(v) for k, v in params.items()}
    th = kind.message_th.format(**values)
    en = kind.message_en.format(**values)
    fix_th = kind.fix_th.format(**values)
    fix_en = kind.fix_en.format(**values)
    where_th, where_en = location.th(), location.en()
    return Problem(
        code=code,
        severity=kind.severity,
        location=location,
        message_th=f"{where_th} {th} — {fix_th}".strip(),
        message_en=f"{where_en} {en} — {fix_en}".strip(),
        params={k: v for k, v in values.items()},
    )


def _show(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return value


class Report(BaseModel):
    """Every problem found in one run, over any number of files; merges like frictionless'."""

    problems: list[Problem] = Field(default_factory=new_list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]

    @property
    def valid(self) -> bool:
        return not self.errors

    def add(self, item: Problem) -> None:
        self.problems.append(item)

    def extend(self, items: Iterable[Problem]) -> None:
        self.problems.extend(items)

    def merge(self, other: Report) -> Report:
        return Report(problems=[*self.problems, *other.problems])

    def __iter__(self) -> Iterator[Problem]:  # type: ignore[override]
        return iter(self.problems)

    def __len__(self) -> int:
        return len(self.problems)

    def flatten(self) -> list[dict[str, Any]]:
        """Plain rows (tests, CSV, DataFrames)."""
        return [
            {
                "code": p.code,
                "severity": p.severity.value,
                "file": p.location.file,
                "sheet": p.location.sheet,
                "cell": p.location.cell,
                "name": p.location.name,
                "message_th": p.message_th,
                "message_en": p.message_en,
            }
            for p in self.problems
        ]

    def summary_th(self) -> str:
        if not self.problems:
            return "ข้อมูลครบถ้วนถูกต้อง"
        return f"พบข้อผิดพลาด {len(self.errors)} รายการ, คำเตือน {len(self.warnings)} รายการ"

    def summary_en(self) -> str:
        if not self.problems:
            return "complete and correct"
        return f"{len(self.errors)} error(s), {len(self.warnings)} warning(s)"


class KpiError(Exception):
    """A failure that carries located problems, so every front end can show them all."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def errors_markdown() -> str:
    """`docs/errors.md`, generated from the registry (a test keeps the committed file equal)."""
    lines = [
        "# รหัสปัญหา / Problem codes",
        "",
        "สร้างจาก `kpi_xl/problems.py` ด้วย `kpi-xl docs errors` — อย่าแก้ด้วยมือ.",
        "Generated from `kpi_xl/problems.py` by `kpi-xl docs errors`; do not edit by hand.",
        "",
        "A code never changes meaning. Messages read: location first, then what is wrong, then the fix.",
        "",
    ]
    for area, kinds in groupby(REGISTRY.values(), key=lambda k: k.area):
        lines += [f"## {area}", "", "| code | severity | problem | ข้อความ (ไทย) | message (English) | วิธีแก้ / fix |",
                  "|---|---|---|---|---|---|"]
        for kind in kinds:
            lines.append(
                f"| `{kind.code}` | {kind.severity.value} | {kind.title} | {kind.message_th} | {kind.message_en} "
                f"| {kind.fix_th} / {kind.fix_en} |"
            )
        lines.append("")
    return "\n".join(lines).replace("{", "‹").replace("}", "›") + "\n"
