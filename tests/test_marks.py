"""The mark plan: one plan, two appliers (the Excel button and ``validate --annotate``).

Small hand-made reports here (every branch of the planner); the real-workbook cases, where both
appliers carry a plan out, are in test_excel.py and test_annotate.py.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kpi_xl import catalog as cat_mod
from kpi_xl import scoring
from kpi_xl.form import load_spec
from kpi_xl.marks import (
    ERROR_FILL,
    RESULTS_COLUMNS,
    WARNING_FILL,
    MarkRecord,
    parse_records,
    plan_marks,
    records_grid,
    sheet_ref,
)
from kpi_xl.model import Cell, DistrictReport, FieldValue, IndicatorResult, Meta, catalog_to_json
from kpi_xl.problems import Location, Report, problem

ROOT = Path(__file__).resolve().parents[1]
CATALOG = cat_mod.load(ROOT / "workbook_templates" / "catalog_2564.yaml")
SPEC = load_spec()
NOW = dt.datetime(2021, 1, 15, 9, 30)


def at(sheet: str, name: str) -> Location:
    return Location(file="x.xlsm", sheet=sheet, cell=SPEC.a1(name), name=name)


def meta() -> Meta:
    return Meta(template_version=SPEC.template_version, fiscal_year=2564, district_code=1030,
                district_name_th="จตุจักร", district_name_en="Chatuchak", catalog_hash=CATALOG.content_hash,
                indicator_codes=["KPI-01", "KPI-03"], build_time="2020-10-01T00:00:00Z",
                catalog_json=catalog_to_json(CATALOG), checksum_ok=True)


def report(problems: list, indicators: list[IndicatorResult] | None = None) -> DistrictReport:
    return DistrictReport(file="x.xlsm", meta=meta(), district_code=1030, district_name_th="จตุจักร",
                          fiscal_year=2564, report_quarter=2, indicators=indicators or [],
                          district_score=3.456, problems=Report(problems=problems))


E301 = problem("KPI-E301", at("KPI-01", "q1_value"), label_th="ผลไตรมาสที่ 1", label_en="quarter 1 value", value="สิบ")
W403 = problem("KPI-W403", at("KPI-01", "q1_value"), label_th="ผลไตรมาสที่ 1", label_en="quarter 1 value",
               value="23 มีนาคม 2564", actual_quarter=2, actual_year=2564)
W401 = problem("KPI-W401", at("KPI-03", "q2_value"), label_th="ผลไตรมาสที่ 2", label_en="quarter 2 value",
               value=650, previous=700)
E104 = problem("KPI-E104", Location(file="x.xlsm", sheet="_kpi_meta"), sheet="_kpi_meta")


def test_several_problems_on_one_cell_make_one_mark_with_one_note() -> None:
    plan = plan_marks(report([E301, W403, W401]), now=NOW)
    by_cell = {(m.sheet, m.cell): m for m in plan.marks}
    assert set(by_cell) == {("KPI-01", SPEC.a1("q1_value")), ("KPI-03", SPEC.a1("q2_value"))}
    both = by_cell[("KPI-01", SPEC.a1("q1_value"))]
    assert (both.severity, both.fill, both.codes) == ("error", ERROR_FILL, ("KPI-E301", "KPI-W403"))
    # The note lists both, without repeating the cell's own address.
    lines = both.note.splitlines()
    assert lines[0] == 'KPI-E301 ผลไตรมาสที่ 1 ต้องเป็นตัวเลข — พบ "สิบ" — กรอกเป็นตัวเลข เช่น 10'
    assert lines[1].startswith("KPI-W403 ผลไตรมาสที่ 1 กล่าวถึงวันที่")
    assert "[KPI-01!" not in both.note
    warn = by_cell[("KPI-03", SPEC.a1("q2_value"))]
    assert (warn.severity, warn.fill) == ("warning", WARNING_FILL)


def test_a_problem_without_a_cell_is_listed_but_marks_nothing() -> None:
    plan = plan_marks(report([E104, E301]), now=NOW)
    assert [(m.sheet, m.cell) for m in plan.marks] == [("KPI-01", SPEC.a1("q1_value"))]
    assert [(r.code, r.sheet, r.cell, r.link) for r in plan.rows] == [
        ("KPI-E104", "_kpi_meta", "", None),
        ("KPI-E301", "KPI-01", SPEC.a1("q1_value"), f"#'KPI-01'!{SPEC.a1('q1_value')}"),
    ]
    assert [(row, col) for row, col, _ in plan.link_cells()] == [(plan.table_row + 2, 5)]


def test_results_sheet_layout() -> None:
    plan = plan_marks(report([E301, W401]), now=NOW)
    grid = plan.results_grid()
    assert all(len(line) == len(RESULTS_COLUMNS) for line in grid)
    header = {line[0]: line[1] for line in grid[: len(plan.header)]}
    assert header["เขต / District"] == "จตุจักร (1030)"
    assert header["ตรวจเมื่อ / Checked at"] == "15 มกราคม 2564 เวลา 09:30 น."
    assert header["ข้อผิดพลาด / Errors"] == 1 and header["คำเตือน / Warnings"] == 1
    assert header["คะแนนรวมถ่วงน้ำหนักของเขต / District score"] == 3.46
    assert header["สรุป / Summary"] == "พบข้อผิดพลาด 1 รายการ, คำเตือน 1 รายการ" == plan.summary_th
    assert grid[plan.table_row - 1] == list(RESULTS_COLUMNS)
    assert grid[plan.table_row] == [1, "ข้อผิดพลาด", "KPI-E301", "KPI-01", SPEC.a1("q1_value"), E301.message_th]
    assert grid[plan.table_row + 1][:3] == [2, "คำเตือน", "KPI-W401"]
    assert plan.results_sheet == SPEC.sheets["results"]


def test_clean_report() -> None:
    plan = plan_marks(report([]), now=NOW)
    assert plan.marks == () and plan.rows == ()
    assert plan.summary_th == "ข้อมูลครบถ้วนถูกต้อง"
    assert plan.results_grid()[-1] == list(RESULTS_COLUMNS)


def test_score_writes_use_the_cells_found_and_restore_the_template_formulas() -> None:
    moved = "E13"  # the clerk inserted a row: the reader found `score` one row lower
    kpi01 = IndicatorResult(code="KPI-01", sheet="KPI-01", score=5.0, target_met=True, fields={
        "score": FieldValue(cell=Cell(name="score", sheet="KPI-01", cell=moved), value=5.0)})
    kpi03 = IndicatorResult(code="KPI-03", sheet="KPI-03", score=3.456789, target_met=False)
    kpi04 = IndicatorResult(code="KPI-04", sheet="KPI-04", score=None, target_met=None)
    plan = plan_marks(report([], [kpi01, kpi03, kpi04]), now=NOW)
    writes = {(w.sheet, w.name): w for w in plan.writes}
    assert writes[("KPI-01", "score")].cell == moved
    assert writes[("KPI-01", "target_met")].cell == SPEC.a1("target_met")
    assert (writes[("KPI-01", "score")].value, writes[("KPI-01", "target_met")].value) == (5.0, "ผ่าน")
    assert (writes[("KPI-03", "score")].value, writes[("KPI-03", "target_met")].value) == (3.46, "ไม่ผ่าน")
    assert (writes[("KPI-04", "score")].value, writes[("KPI-04", "target_met")].value) == (None, None)
    ind = CATALOG.indicator("KPI-03")
    assert writes[("KPI-03", "score")].restore == scoring.excel_score(ind)
    assert writes[("KPI-03", "target_met")].restore == scoring.excel_target_met(ind)


def test_no_catalog_means_nothing_to_restore() -> None:
    bare = report([], [IndicatorResult(code="KPI-01", sheet="KPI-01", score=1.0, target_met=False)])
    bare.meta = None
    assert {w.restore for w in plan_marks(bare, now=NOW).writes} == {None}


@pytest.mark.parametrize("sheet, expected", [("KPI-03", "'KPI-03'!D14"), ("ผลการตรวจสอบ", "'ผลการตรวจสอบ'!D14"),
                                             ("it's", "'it''s'!D14")])
def test_sheet_ref_quotes_always(sheet: str, expected: str) -> None:
    assert sheet_ref(sheet, "D14") == expected


def test_undo_records_round_trip_and_skip_garbage() -> None:
    records = [MarkRecord("fill", "KPI-01", "B20", "#00B050", True), MarkRecord("fill", "KPI-03", "B21", "", False),
               MarkRecord("value", "KPI-01", "E12", "=year_value")]
    grid = records_grid(records)
    assert grid[0] == ["kind", "sheet", "cell", "original", "noted"]
    # Nothing written to the hidden sheet may start with "=": Excel would make it a live formula.
    assert not [v for line in grid for v in line if str(v).startswith(("=", "+", "@"))]
    assert parse_records(grid[1:]) == records
    # What engines give back: None for blanks, floats for "1", stray lines.
    read_back = [["fill", "KPI-01", "B20", "#00B050", 1.0], ["fill", "KPI-03", "B21", None, 0.0],
                 ["value", "KPI-01", "E12", "f:=year_value", None], [None, None, None], ["note", "x", "A1"]]
    assert parse_records(read_back) == records
