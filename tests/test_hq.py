"""``--into``: head office's own workbook, designed in the test the way a clerk would in Excel
(named cells, Excel tables with a formula column and a totals row, styles, widths, another sheet),
is filled into a new file; everything head office made stays as it was.
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.table import Table, TableStyleInfo
from test_consolidate import clean_values, excel_round, expected_district, fill_many, small_catalog

from kpi_xl import template
from kpi_xl.catalog import Catalog
from kpi_xl.consolidate import ConsolidationResult, consolidate
from kpi_xl.hq import check_template, fill_template, placeholder_table
from kpi_xl.problems import KpiError

CODES = [1001, 1030, 1048, 1050]
SENT = [1001, 1030, 1048]
QUARTER = 3
NAMED = {  # defined name → cell on the report sheet
    "kpi_received": "C3", "kpi_missing": "C4", "kpi_mean_score": "C5", "kpi_fiscal_year": "C6",
    "kpi_quarter": "C7", "kpi_missing_list": "C8", "kpi_score_1030": "C9", "kpi_mean_KPI_05": "C10",
    "kpi_districts_total": "C11", "kpi_made_up_name": "C12",
}


def _hq_template(path: Path) -> Path:
    wb = openpyxl.Workbook()
    report = wb.active
    report.title = "รายงานผู้บริหาร"
    report["A1"] = "รายงานผลตัวชี้วัดสำนักงานเขต"
    report["A1"].font = Font(name="TH SarabunPSK", size=20, bold=True, color="1F4E78")
    report["A1"].fill = PatternFill("solid", fgColor="DDEBF7")
    report.merge_cells("A1:D1")
    for i, (name, cell) in enumerate(NAMED.items()):
        report[f"B{3 + i}"] = name.removeprefix("kpi_")
        report[cell].font = Font(name="TH SarabunPSK", size=16, color="C00000")
        report[cell].border = Border(bottom=Side(style="thin"))
        report[cell].number_format = "0.00" if "score" in name else "General"
        wb.defined_names[name] = DefinedName(name, attr_text=f"'{report.title}'!${cell[0]}${cell[1:]}")
    report["D3"] = "=C3/C11"
    report["D3"].number_format = "0%"
    report.column_dimensions["A"].width = 6
    report.column_dimensions["B"].width = 24
    report.column_dimensions["C"].width = 40

    table_ws = wb.create_sheet("ตาราง")
    table_ws["A1"] = "คะแนนรายเขต"
    headers = ["รหัสเขต", "เขต", "สถานะ", "คะแนน", "อันดับ", "KPI-05", "คะแนน×20"]
    for col, text in enumerate(headers, start=1):
        table_ws.cell(row=2, column=col, value=text).font = Font(bold=True)
    table_ws["D3"].number_format = "0.00"
    table_ws["D3"].fill = PatternFill("solid", fgColor="FFF2CC")
    table_ws["G3"] = "=D3*20"
    table_ws.row_dimensions[3].height = 24
    districts = Table(displayName="kpi_districts", ref="A2:G3")
    districts.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
    table_ws.add_table(districts)
    for col, width in zip("ABCDEFG", (10, 18, 22, 10, 8, 8, 12), strict=True):
        table_ws.column_dimensions[col].width = width

    ind_ws = wb.create_sheet("ตัวชี้วัด")
    for col, text in enumerate(["รหัสตัวชี้วัด", "ชื่อตัวชี้วัด", "คะแนนเฉลี่ย", "ร้อยละผ่านเป้าหมาย"], start=1):
        ind_ws.cell(row=1, column=col, value=text)
    ind_ws["A3"] = "เฉลี่ย"
    ind_ws["C3"] = "=SUBTOTAL(101,kpi_indicators[คะแนนเฉลี่ย])"
    ind_ws["C3"].font = Font(bold=True)
    ind_ws["D2"].number_format = "0%"
    indicators = Table(displayName="kpi_indicators", ref="A1:D3", totalsRowCount=1)
    indicators._initialise_columns()
    indicators.tableColumns[0].totalsRowLabel = "เฉลี่ย"
    indicators.tableColumns[2].totalsRowFunction = "average"
    indicators.tableStyleInfo = TableStyleInfo(name="TableStyleLight9", showRowStripes=True)
    ind_ws.add_table(indicators)

    notes = wb.create_sheet("หมายเหตุ")
    notes["A1"] = "ข้อมูลนี้ใช้ภายในสำนักยุทธศาสตร์"
    notes["A1"].font = Font(name="TH SarabunPSK", size=14, italic=True)
    notes["B4"] = 1234.5
    notes["B4"].number_format = "#,##0.00"
    notes["B4"].alignment = Alignment(horizontal="center")
    notes.merge_cells("A6:C7")
    notes["A6"] = "ผู้จัดทำ: กลุ่มงานติดตามประเมินผล"
    notes.column_dimensions["A"].width = 50
    wb.save(path)
    return path


def _style(cell: Any) -> tuple[Any, ...]:
    return (cell.font.name, cell.font.size, cell.font.bold, cell.font.italic, cell.font.color and cell.font.color.rgb,
            cell.fill.fgColor.rgb, cell.number_format, cell.border.bottom.style, cell.alignment.horizontal)


def _snapshot(ws: Any) -> dict[str, Any]:
    return {
        "cells": {c.coordinate: (c.value, _style(c)) for row in ws.iter_rows() for c in row},
        "widths": {k: d.width for k, d in ws.column_dimensions.items()},
        "merged": sorted(str(m) for m in ws.merged_cells.ranges),
    }


def _run(tmp: Path, cat: Catalog, into: Path | None, **kw: Any) -> ConsolidationResult:
    blank = tmp / "blank"
    template.build_all(cat, blank, macros=False, jobs=1)
    inbox = tmp / "inbox"
    jobs = []
    for code in SENT:
        src = blank / template.output_name(cat, code, macros=False)
        jobs.append((src, inbox / src.name, clean_values(cat, code, QUARTER, seed=code), QUARTER))
    fill_many(jobs, quick=True)
    (tmp / "out").mkdir(exist_ok=True)
    return consolidate(inbox, cat, QUARTER, out=tmp / "out" / "summary.xlsx", db=False, into=into, jobs=1, **kw)


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory, sample_catalog: Catalog) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("hq")
    cat = small_catalog(sample_catalog, CODES)
    into = _hq_template(tmp / "HQ.xlsx")
    before_hash = hashlib.sha256(into.read_bytes()).hexdigest()
    before = openpyxl.load_workbook(into)
    result = _run(tmp, cat, into)
    return {"cat": cat, "into": into, "hash": before_hash, "before": before, "result": result,
            "out": result.paths["into"], "book": openpyxl.load_workbook(result.paths["into"])}


def test_written_to_a_new_file_and_the_template_is_untouched(filled: dict[str, Any]) -> None:
    out = filled["out"]
    assert out == filled["into"].parent / "out" / f"HQ_2564_Q{QUARTER}.xlsx"
    assert hashlib.sha256(filled["into"].read_bytes()).hexdigest() == filled["hash"]
    assert filled["book"].sheetnames == filled["before"].sheetnames


def test_named_cells_are_filled(filled: dict[str, Any]) -> None:
    ws = filled["book"]["รายงานผู้บริหาร"]
    cat, r = filled["cat"], filled["result"]
    assert ws[NAMED["kpi_received"]].value == 3 and ws[NAMED["kpi_missing"]].value == 1
    assert ws[NAMED["kpi_fiscal_year"]].value == 2564 and ws[NAMED["kpi_quarter"]].value == QUARTER
    assert ws[NAMED["kpi_missing_list"]].value == "บางบอน"
    assert ws[NAMED["kpi_districts_total"]].value == 4
    scores = {}
    for code in SENT:
        per, scores[code] = expected_district(cat, code, clean_values(cat, code, QUARTER, seed=code), QUARTER)
        if code == 1030:
            kpi05 = per["KPI-05"]
    assert ws[NAMED["kpi_score_1030"]].value == pytest.approx(scores[1030])
    assert ws[NAMED["kpi_mean_score"]].value == pytest.approx(excel_round(sum(scores.values()) / 3))
    assert ws[NAMED["kpi_mean_KPI_05"]].value == pytest.approx(
        r.indicators.set_index("indicator_code").loc["KPI-05", "mean_score"])
    assert kpi05 is not None
    assert ws[NAMED["kpi_made_up_name"]].value is None  # unknown: left alone, and said so
    warned = r.problems[r.problems["code"] == "KPI-W504"]
    assert len(warned) == 1 and "kpi_made_up_name" in warned.iloc[0]["message_en"]
    assert ws["D3"].value == "=C3/C11"


def test_tables_grow_and_keep_their_formulas(filled: dict[str, Any]) -> None:
    book, r = filled["book"], filled["result"]
    ws = book["ตาราง"]
    table = ws.tables["kpi_districts"]
    assert table.ref == f"A2:G{2 + len(CODES)}"
    assert table.tableStyleInfo.name == "TableStyleMedium2"
    rows = list(ws.iter_rows(min_row=3, max_row=2 + len(CODES), values_only=True))
    d = r.districts.set_index("district_code")
    kpi05 = r.scores.set_index(["district_code", "indicator_code"])["score"]
    for i, (row, code) in enumerate(zip(rows, CODES, strict=True)):
        assert row[0] == code and row[1] == d.loc[code, "district_name_th"] and row[2] == d.loc[code, "status_th"]
        if code in SENT:
            assert row[3] == pytest.approx(d.loc[code, "score"]) and row[4] == d.loc[code, "rank"]
            assert row[5] == pytest.approx(kpi05[(code, "KPI-05")])
        else:
            assert row[3] is None and row[4] is None and row[5] is None
        assert row[6] == f"=D{3 + i}*20"
    for r_ in range(3, 3 + len(CODES)):
        assert ws.cell(row=r_, column=4).number_format == "0.00"
        assert ws.cell(row=r_, column=4).fill.fgColor.rgb == "00FFF2CC"
        assert ws.row_dimensions[r_].height == 24

    ind = book["ตัวชี้วัด"]
    t = ind.tables["kpi_indicators"]
    n = len(r.indicators)
    assert t.ref == f"A1:D{n + 2}" and t.totalsRowCount == 1
    assert [ind.cell(row=i, column=1).value for i in range(2, n + 2)] == list(r.indicators["indicator_code"])
    assert ind.cell(row=n + 2, column=3).value == "=SUBTOTAL(101,kpi_indicators[คะแนนเฉลี่ย])"
    assert ind.cell(row=n + 2, column=3).font.bold
    assert ind.cell(row=2 + 1, column=4).number_format == "0%"


def test_styles_widths_and_other_sheets_are_unchanged(filled: dict[str, Any]) -> None:
    before, after = filled["before"], filled["book"]
    assert _snapshot(after["หมายเหตุ"]) == _snapshot(before["หมายเหตุ"])
    b, a = _snapshot(before["รายงานผู้บริหาร"]), _snapshot(after["รายงานผู้บริหาร"])
    assert a["widths"] == b["widths"] and a["merged"] == b["merged"]
    for cell, (value, style) in b["cells"].items():
        assert a["cells"][cell][1] == style, cell
        if cell not in NAMED.values():
            assert a["cells"][cell][0] == value, cell
    for name in ("ตาราง", "ตัวชี้วัด"):
        assert _snapshot(after[name])["widths"] == _snapshot(before[name])["widths"]
    assert after.calculation.fullCalcOnLoad


def test_a_template_with_nothing_to_fill_is_refused_before_any_work(tmp_path: Path, sample_catalog: Catalog) -> None:
    plain = tmp_path / "plain.xlsx"
    openpyxl.Workbook().save(plain)
    with pytest.raises(KpiError) as caught:
        consolidate(tmp_path, sample_catalog, 1, out=tmp_path / "s.xlsx", db=False, into=plain)
    assert caught.value.problems[0].code == "KPI-E502"
    assert not (tmp_path / "s.xlsx").exists()
    with pytest.raises(KpiError) as caught:
        check_template(tmp_path / "nope.xlsx")
    assert caught.value.problems[0].code == "KPI-E504"


def test_a_table_without_room_below_is_refused(tmp_path: Path, filled: dict[str, Any]) -> None:
    into = tmp_path / "HQ.xlsx"
    wb = openpyxl.load_workbook(_hq_template(into))
    wb["ตาราง"]["B5"] = "หมายเหตุใต้ตาราง"
    wb.save(into)
    with pytest.raises(KpiError) as caught:
        fill_template(into, tmp_path / "out.xlsx", filled["result"])
    problem = caught.value.problems[0]
    assert problem.code == "KPI-E503" and problem.location.cell == "B5"
    assert not (tmp_path / "out.xlsx").exists()
    with pytest.raises(ValueError):
        fill_template(into, into, filled["result"])


def test_macro_template_keeps_its_vba(tmp_path: Path, filled: dict[str, Any], built_dir: Path) -> None:
    """An .xlsm template (here a district workbook, which has a VBA project) keeps it."""
    import zipfile

    src = next(built_dir.glob("*.xlsm"))
    wb = openpyxl.load_workbook(src, keep_vba=True)
    wb.defined_names["kpi_mean_score"] = DefinedName("kpi_mean_score", attr_text="'คำชี้แจง'!$H$2")
    into = tmp_path / "HQ.xlsm"
    wb.save(into)
    out = fill_template(into, tmp_path / "HQ_out.xlsm", copy.copy(filled["result"]))
    with zipfile.ZipFile(into) as a, zipfile.ZipFile(out) as b:
        assert a.read("xl/vbaProject.bin") == b.read("xl/vbaProject.bin")
    assert openpyxl.load_workbook(out)["คำชี้แจง"]["H2"].value == pytest.approx(filled["result"].mean_score)


def test_every_placeholder_is_documented() -> None:
    guide = (Path(__file__).resolve().parent.parent / "docs" / "head-office-guide.md").read_text(encoding="utf-8")
    for name, _, _ in placeholder_table():
        assert f"`{name}`" in guide, name


@pytest.mark.libreoffice
def test_libreoffice_opens_the_filled_template(filled: dict[str, Any], tmp_path: Path) -> None:
    from kpi_xl.libreoffice import convert

    pdf = convert(filled["out"], to="pdf", outdir=tmp_path)
    assert pdf.read_bytes().startswith(b"%PDF")


def _names_template(path: Path, names: dict[str, str], headers: list[str], ind_headers: list[str]) -> Path:
    """A template with the given names on one sheet and two small tables, as head office would make it."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "สรุป"
    for name, cell in names.items():
        wb.defined_names[name] = DefinedName(name, attr_text=f"'สรุป'!${cell[0]}${cell[1:]}")
    tables = wb.create_sheet("ตาราง")
    for col, text in enumerate(headers, start=1):
        tables.cell(row=1, column=col, value=text)
    tables.add_table(Table(displayName="kpi_districts", ref=f"A1:{chr(64 + len(headers))}2"))
    inds = wb.create_sheet("ตัวชี้วัด")
    for col, text in enumerate(ind_headers, start=1):
        inds.cell(row=1, column=col, value=text)
    inds.add_table(Table(displayName="kpi_indicators", ref=f"A1:{chr(64 + len(ind_headers))}2"))
    wb.save(path)
    return path


KIND_NAMES = {"kpi_score_strategic_1030": "B1", "kpi_score_routine_1030": "B2", "kpi_signoff_1030": "B3",
              "kpi_hq_score_1030": "B4", "kpi_score_1030": "B5"}


def test_kind_scores_sign_off_and_head_office_score_have_names(filled: dict[str, Any], tmp_path: Path) -> None:
    r = filled["result"]
    into = _names_template(tmp_path / "HQ2.xlsx", KIND_NAMES,
                           ["รหัสเขต", "คะแนนเชิงยุทธศาสตร์", "คะแนนงานประจำ", "คะแนนที่สำนักงานใหญ่ประเมิน", "การยืนยันส่ง"],
                           ["รหัสตัวชี้วัด", "ประเภทตัวชี้วัด"])
    out = fill_template(into, tmp_path / "HQ2_out.xlsx", copy.copy(r))
    book = openpyxl.load_workbook(out)
    ws, d = book["สรุป"], r.districts.set_index("district_code")
    assert ws["B1"].value == pytest.approx(d.loc[1030, "score_strategic"])
    assert ws["B2"].value == pytest.approx(d.loc[1030, "score_routine"])
    assert ws["B3"].value == d.loc[1030, "signoff_th"] and ws["B3"].value  # "ยังไม่ยืนยันส่ง": not signed
    assert ws["B4"].value is None  # no review applied (no history in this run): empty, not unknown
    assert ws["B5"].value == pytest.approx(d.loc[1030, "score"])
    assert not any("kpi_score_strategic" in m for m in r.problems["message_en"])  # no KPI-W504 "unknown name"
    rows = list(book["ตาราง"].iter_rows(min_row=2, values_only=True))
    assert [row[0] for row in rows] == CODES
    for code, strategic, routine, hq, signoff in rows:
        assert strategic == (pytest.approx(d.loc[code, "score_strategic"]) if code in SENT else None)
        assert routine == (pytest.approx(d.loc[code, "score_routine"]) if code in SENT else None)
        assert hq is None and (signoff or None) == (d.loc[code, "signoff_th"] or None)
    kinds = {code: kind for code, kind in book["ตัวชี้วัด"].iter_rows(min_row=2, values_only=True)}
    cat = filled["cat"]
    assert kinds == {i.code: i.kind.th for i in cat.indicators if i.code in kinds} and len(kinds) == len(r.indicators)
