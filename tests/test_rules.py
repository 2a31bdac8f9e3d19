"""Every validation rule finds exactly its problem at its cell — and nothing else.

Two layers over the same cases:

- fast: a :class:`RawWorkbook` assembled here from the form spec (what any fetcher produces),
  metadata rows from ``model.meta_rows``; each rule's own tests (structure cases included);
- real: a workbook built by ``kpi_xl.template``, filled wrongly the way a clerk would by
  ``kpi_xl.fill``, read back by ``kpi_xl.reader`` (``TestRealWorkbooks`` below).

Expected cells always come from ``load_spec().a1(name)``; no address is written here.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kpi_xl import catalog as cat_mod
from kpi_xl import fill, reference, rules, template, thai
from kpi_xl.catalog import Catalog, ErrorScores, Indicator, Scoring, ValueKind
from kpi_xl.form import load_spec
from kpi_xl.model import Cell, DistrictReport, RawWorkbook, catalog_to_json, meta_rows
from kpi_xl.problems import REGISTRY
from kpi_xl.validate import evaluate, validate_file

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "workbook_templates" / "catalog_2564.yaml"
SPEC = load_spec()
DISTRICT = 1030  # Chatuchak: KPI-02 and KPI-09 do not apply to it
CATALOG: Catalog = cat_mod.load(SAMPLE)
FY = CATALOG.fiscal_year

Values = dict[str, dict[str, Any]]


# ---------------------------------------------------------------------------------------------
# A RawWorkbook as a fetcher would produce it


def meta_cells(catalog: Catalog = CATALOG, district: int = DISTRICT, **override: Any) -> dict[str, Cell]:
    """The hidden metadata sheet's cells (key in A, value in B), checksum consistent with the rows."""
    d = reference.districts().get(district)
    args: dict[str, Any] = dict(
        template_version=SPEC.template_version,
        fiscal_year=catalog.fiscal_year,
        district_code=district,
        district_name_th=d.name_th if d else "?",
        district_name_en=d.name_en if d else "?",
        catalog_hash=catalog.content_hash,
        indicator_codes=[i.code for i in catalog.for_district(district)],
        build_time="2020-09-15T09:00:00",
        catalog_json=catalog_to_json(catalog),
    )
    args.update(override)
    rows = meta_rows(**args)
    return {key: Cell(name=key, sheet=SPEC.meta_sheet, cell=f"B{r}", raw=value)
            for r, (key, value) in enumerate(rows, start=1)}


def raw_book(
    values: Values | None = None,
    *,
    catalog: Catalog = CATALOG,
    district: int = DISTRICT,
    report_quarter: Any = 4,
    meta: dict[str, Cell] | None = None,
    file: str = "2564_1030_Chatuchak.xlsm",
) -> RawWorkbook:
    """Every contract cell of every applicable indicator at the spec's address; ``values`` fills them."""
    values = values or {}
    sheets: dict[str, dict[str, Cell]] = {}
    for ind in catalog.for_district(district):
        fixed = {"kpi_code": ind.code, "kpi_name": ind.name_th, "target_value": ind.target, "target_unit": ind.unit}
        cells = {}
        for spec in SPEC.fields_for(ind.scoring.value):
            raw = values.get(ind.code, {}).get(spec.name, fixed.get(spec.name))
            cells[spec.name] = Cell(name=spec.name, sheet=ind.code, cell=SPEC.a1(spec.name), raw=raw)
        sheets[ind.code] = cells
    meta = meta_cells(catalog, district) if meta is None else meta
    workbook_cells = {
        key: Cell(name=key, sheet=SPEC.meta_sheet, cell=meta[key].cell, raw=meta[key].raw)
        for key in ("district_code", "fiscal_year", "template_version") if key in meta
    }
    cover = SPEC.sheets["cover"]
    workbook_cells["report_quarter"] = Cell(name="report_quarter", sheet=cover,
                                            cell=SPEC.workbook_names["report_quarter"].cell, raw=report_quarter)
    return RawWorkbook(
        file=file,
        sheet_names=[cover, *sheets, SPEC.sheets["summary"], SPEC.meta_sheet, SPEC.sheets["conf"]],
        meta=meta,
        workbook_cells=workbook_cells,
        sheets=sheets,
    )


SERIES = {ValueKind.PERCENT: [50.0, 60.0, 70.0, 80.0], ValueKind.COUNT: [10.0, 20.0, 30.0, 40.0],
          ValueKind.NUMBER: [40.0, 35.0, 30.0, 28.0]}


def clean_page(ind: Indicator, quarter: int) -> dict[str, Any]:
    """What a careful clerk types for ``quarter``: every due input, nothing for later quarters."""
    page: dict[str, Any] = {}
    for q in range(1, quarter + 1):
        page[f"q{q}_report"] = f"ดำเนินการตามแผนของไตรมาสที่ {q} แล้วเสร็จ"
        if ind.scoring is Scoring.MILESTONE:
            page[f"level_{q}"] = q
            if q == 4:
                page["level_5"] = 4
        else:
            page[f"q{q}_value"] = SERIES[ind.value_kind][q - 1]
    if quarter == 4:
        page.update(
            year_summary="ดำเนินการครบตามแผนทั้งปีงบประมาณ",
            support_factors="ความร่วมมือของชุมชน",
            evidence="รายงานการประชุม",
            signer_name="นางสาวสมศรี ใจดี",
            signer_position="หัวหน้าฝ่ายปกครอง",
            signed_date=dt.datetime(2021, 9, 30),
        )
    return page


def clean(quarter: int = 4, catalog: Catalog = CATALOG, district: int = DISTRICT) -> Values:
    return {ind.code: clean_page(ind, quarter) for ind in catalog.for_district(district)}


def edit(values: Values, edits: Values) -> Values:
    out = copy.deepcopy(values)
    for sheet, cells in edits.items():
        out.setdefault(sheet, {}).update(cells)
    return out


def found(report: DistrictReport) -> list[tuple[str, str | None, str | None]]:
    return [(p.code, p.location.sheet, p.location.cell) for p in report.problems]


def at(code: str, sheet: str, name: str) -> tuple[str, str, str]:
    return (code, sheet, SPEC.a1(name))


# ---------------------------------------------------------------------------------------------
# Cases shared by the fast and the real layer: a clerk's edits → exactly these problems.


@dataclass
class Case:
    id: str
    quarter: int
    edits: Values
    expected: list[tuple[str, str, str]]  # (code, sheet, defined name)
    given_quarter: bool = True
    params: dict[str, Any] = field(default_factory=dict)  # expected params of the first problem


CASES = [
    Case("E201-value-blank", 2, {"KPI-03": {"q2_value": None}}, [("KPI-E201", "KPI-03", "q2_value")],
         params={"quarter": 2}),
    Case("E201-report-blank", 2, {"KPI-12": {"q1_report": "   "}}, [("KPI-E201", "KPI-12", "q1_report")]),
    Case("E201-milestone-report", 3, {"KPI-05": {"q3_report": None}}, [("KPI-E201", "KPI-05", "q3_report")]),
    Case("E202-year-summary", 4, {"KPI-05": {"year_summary": None, "evidence": None}},
         [("KPI-E202", "KPI-05", "year_summary"), ("KPI-E202", "KPI-05", "evidence")]),
    Case("E203-signature", 4, {"KPI-01": {"signer_name": None, "signed_date": None}},
         [("KPI-E203", "KPI-01", "signer_name"), ("KPI-E203", "KPI-01", "signed_date")]),
    Case("E301-word", 2, {"KPI-03": {"q2_value": "สิบ"}}, [("KPI-E301", "KPI-03", "q2_value")],
         params={"value": "สิบ"}),
    Case("E301-na", 1, {"KPI-07": {"q1_value": "N/A"}}, [("KPI-E301", "KPI-07", "q1_value")], params={"value": "N/A"}),
    Case("E301-div0", 4, {"KPI-12": {"result_value": "#DIV/0!"}}, [("KPI-E301", "KPI-12", "result_value")],
         params={"value": "#DIV/0!"}),
    Case("E302-not-a-date", 4, {"KPI-05": {"signed_date": "ปลายเดือนกันยา"}}, [("KPI-E302", "KPI-05", "signed_date")]),
    Case("E303-next-year", 4, {"KPI-05": {"signed_date": "1 ตุลาคม 2564"}}, [("KPI-E303", "KPI-05", "signed_date")],
         params={"start": "1 ตุลาคม 2563", "end": "30 กันยายน 2564", "value": "1 ตุลาคม 2564"}),
    Case("E304-level-5", 4, {"KPI-08": {"level_2": 5}}, [("KPI-E304", "KPI-08", "level_2")]),
    Case("E401-gap", 3, {"KPI-05": {"level_2": None}}, [("KPI-E401", "KPI-05", "level_3")],
         params={"level": 3, "quarter": 3, "previous": 2}),
    Case("E401-later", 4, {"KPI-11": {"level_2": 3, "level_3": 2}}, [("KPI-E401", "KPI-11", "level_3")],
         params={"level": 3, "quarter": 2, "previous": 2}),
    Case("E402-after-report", 2, {"KPI-05": {"level_3": 3}}, [("KPI-E402", "KPI-05", "level_3")],
         params={"level": 3, "quarter": 3, "report_quarter": 2}),
    Case("W401-cumulative-fell", 3, {"KPI-03": {"q3_value": 15}}, [("KPI-W401", "KPI-03", "q3_value")],
         params={"value": 15, "previous": 20}),
    Case("W402-sum", 4, {"KPI-06": {"result_value": 99}}, [("KPI-W402", "KPI-06", "result_value")],
         params={"value": 99, "expected": 100, "aggregation": rules.AGGREGATION_TH[cat_mod.Aggregation.SUM]}),
    Case("W402-milestone", 4, {"KPI-05": {"result_value": 5, "level_5": None}}, [("KPI-W402", "KPI-05", "result_value")],
         params={"value": 5, "expected": 4}),
    Case("W403-date-other-quarter", 2, {"KPI-05": {"q2_report": "ประชุมเครือข่ายเมื่อวันที่ 23 ธันวาคม 2563"}},
         [("KPI-W403", "KPI-05", "q2_report")], params={"actual_quarter": 1, "actual_year": 2564}),
    Case("W404-later-quarter", 2, {"KPI-03": {"q3_value": 35}}, [("KPI-W404", "KPI-03", "q3_value")]),
    Case("E403-percent-over", 4, {"KPI-10": {"q4_value": 120}}, [("KPI-E403", "KPI-10", "q4_value")]),
    Case("E403-percent-negative", 1, {"KPI-12": {"q1_value": -5}}, [("KPI-E403", "KPI-12", "q1_value")]),
    Case("E404-negative-count", 1, {"KPI-04": {"q1_value": -1}}, [("KPI-E404", "KPI-04", "q1_value")]),
    Case("W405-fraction-count", 2, {"KPI-06": {"q2_value": 2.5}}, [("KPI-W405", "KPI-06", "q2_value")]),
]


def run_case(case: Case) -> DistrictReport:
    values = edit(clean(case.quarter), case.edits)
    book = raw_book(values, report_quarter=case.quarter)
    return evaluate(book, quarter=case.quarter if case.given_quarter else None)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rule_finds_exactly(case: Case) -> None:
    report = run_case(case)
    assert found(report) == [at(*e) for e in case.expected]
    first = report.problems.problems[0]
    for key, value in case.params.items():
        assert first.params[key] == (value if not isinstance(value, float) else int(value)), key
    assert first.location.name == case.expected[0][2]
    assert first.location.file == "2564_1030_Chatuchak.xlsm"


@pytest.mark.parametrize("quarter", [1, 2, 3, 4])
def test_clean_workbook_has_no_problems(quarter: int) -> None:
    report = evaluate(raw_book(clean(quarter), report_quarter=quarter))
    assert report.readable
    assert found(report) == []
    assert report.report_quarter == quarter
    assert [r.code for r in report.indicators] == [i.code for i in CATALOG.for_district(DISTRICT)]
    assert all(r.score is not None for r in report.indicators)


def test_every_workbook_code_has_a_rule_and_a_test() -> None:
    # Found while reading the package (limits, misdirected names, DTDs): tests/test_hostile.py.
    reader_codes = {"KPI-E100", "KPI-E101", "KPI-E102", "KPI-E114", "KPI-E115", "KPI-E116"}
    workbook_codes = {c for c in REGISTRY if c[4] in "EW" and c[5] in "1234"} - reader_codes
    assert set(rules.RULES) == workbook_codes
    tested = {e[0] for c in CASES for e in c.expected} | STRUCTURE_TESTED
    assert workbook_codes <= tested


# ---------------------------------------------------------------------------------------------
# Types: what is accepted


@pytest.mark.parametrize("typed", ["๓๐", " 30 ", "30 วัน", "๓๐.๐๐ (วัน)", 30, "30.0"])
def test_numbers_as_clerks_type_them(typed: Any) -> None:
    values = edit(clean(1), {"KPI-07": {"q1_value": typed}})
    report = evaluate(raw_book(values), quarter=1)
    assert found(report) == []
    kpi07 = next(r for r in report.indicators if r.code == "KPI-07")
    assert kpi07.value("q1_value") == 30.0
    assert kpi07.fields["q1_value"].cell.cell == SPEC.a1("q1_value")


@pytest.mark.parametrize("typed", ["30 ก.ย. 64", "๓๐ กันยายน ๒๕๖๔", "30/9/2564", 44469, dt.date(2021, 9, 30)])
def test_dates_as_clerks_type_them(typed: Any) -> None:
    values = edit(clean(4), {"KPI-01": {"signed_date": typed}})
    report = evaluate(raw_book(values), quarter=4)
    assert found(report) == []
    assert next(r for r in report.indicators if r.code == "KPI-01").value("signed_date") == dt.date(2021, 9, 30)


def test_level_quarter_as_text_is_read() -> None:
    values = edit(clean(4), {"KPI-05": {"level_2": "๒"}})
    report = evaluate(raw_book(values), quarter=4)
    assert found(report) == []
    assert next(r for r in report.indicators if r.code == "KPI-05").value("level_2") == 2


def test_number_problem_message_shows_value_label_and_fix() -> None:
    report = run_case(CASES[5])  # "สิบ" in KPI-03 q2_value
    p = report.problems.problems[0]
    assert p.message_th == f'[KPI-03!{SPEC.a1("q2_value")}] ผลไตรมาสที่ 2 ต้องเป็นตัวเลข — พบ "สิบ" — กรอกเป็นตัวเลข เช่น 10'
    assert "quarter 2 value must be a number" in p.message_en


def test_unreadable_is_not_also_missing() -> None:
    """A cell filled wrongly is reported as wrong, not as empty too."""
    values = edit(clean(4), {"KPI-01": {"signed_date": "เมื่อวาน"}, "KPI-05": {"level_1": "ก"}})
    report = evaluate(raw_book(values), quarter=4)
    codes = [c for c, *_ in found(report)]
    assert "KPI-E203" not in codes
    assert codes.count("KPI-E302") == 1 and "KPI-E304" in codes


def test_all_problems_collected_not_first_only() -> None:
    values = edit(clean(4), {
        "KPI-03": {"q2_value": "สิบ", "q3_value": None},
        "KPI-05": {"signer_name": None, "level_2": 9},
        "KPI-10": {"q4_value": 150},
    })
    report = evaluate(raw_book(values), quarter=4)
    assert found(report) == [
        at("KPI-E301", "KPI-03", "q2_value"), at("KPI-E201", "KPI-03", "q3_value"),
        at("KPI-E304", "KPI-05", "level_2"), at("KPI-E203", "KPI-05", "signer_name"),
        at("KPI-E403", "KPI-10", "q4_value"),
    ]
    assert len(report.problems.errors) == 5 and not report.valid


# ---------------------------------------------------------------------------------------------
# Meaning: the edges


def test_narrative_date_in_its_own_quarter_is_fine() -> None:
    values = edit(clean(4), {"KPI-05": {
        "q1_report": "ประชุมวันที่ 23 ธันวาคม 2563 เวลา 09.30-12.00 น.",
        "q2_report": "สถานการณ์การแพร่ระบาดเชื้อไวรัสโคโรนา 2019 ทำให้เลื่อนการประชุมเป็น 15 มี.ค. 64",
        "year_summary": "สรุปผล ณ วันที่ 1 ตุลาคม 2564 ตามที่ผู้บริหารเขตสั่งการ",  # not checked
    }})
    assert found(evaluate(raw_book(values), quarter=4)) == []


def test_narrative_date_of_another_fiscal_year() -> None:
    values = edit(clean(1), {"KPI-01": {"q1_report": "อบรมเมื่อ ๒๓ ธ.ค. ๒๕๖๒"}})
    report = evaluate(raw_book(values), quarter=1)
    assert found(report) == [at("KPI-W403", "KPI-01", "q1_report")]
    assert report.problems.problems[0].params["actual_year"] == 2563
    assert report.problems.problems[0].params["value"] == "๒๓ ธ.ค. ๒๕๖๒"


def test_result_within_tolerance_of_the_mean() -> None:
    # KPI-12: mean of 50, 60, 70 = 60; KPI-07: mean of 40, 35, 30 = 35 → typed 35.004 passes
    values = edit(clean(3), {"KPI-12": {"result_value": 60}, "KPI-07": {"result_value": 35.004}})
    assert found(evaluate(raw_book(values, report_quarter=3), quarter=3)) == []
    values = edit(clean(3), {"KPI-07": {"result_value": 35.01}})
    assert found(evaluate(raw_book(values, report_quarter=3), quarter=3)) == [at("KPI-W402", "KPI-07", "result_value")]
    # The cover declares quarter 4: the typed result is the year-end one, not used (nor compared) at quarter 3
    assert found(evaluate(raw_book(values), quarter=3)) == []


def test_mean_count_result_may_have_a_fraction() -> None:
    cat = catalog_with("KPI-06", aggregation="mean")
    values = edit(clean(2, cat), {"KPI-06": {"result_value": 15.0, "q2_value": 20}})
    assert found(evaluate(raw_book(values, catalog=cat), quarter=2)) == []
    values = edit(clean(2, cat), {"KPI-06": {"q1_value": 10, "q2_value": 21, "result_value": 15.5}})
    assert found(evaluate(raw_book(values, catalog=cat), quarter=2)) == []


def test_cumulative_compares_with_the_previous_filled_quarter() -> None:
    values = edit(clean(3), {"KPI-10": {"q2_value": None, "q3_value": 40}})  # q1 = 50 > q3 = 40
    assert found(evaluate(raw_book(values), quarter=3)) == [
        at("KPI-E201", "KPI-10", "q2_value"), at("KPI-W401", "KPI-10", "q3_value")]


def test_levels_in_the_same_quarter_are_in_order() -> None:
    values = edit(clean(4), {"KPI-05": {"level_1": 2, "level_2": 2, "level_3": 2, "level_4": 2, "level_5": 2}})
    report = evaluate(raw_book(values), quarter=4)
    assert found(report) == []
    assert next(r for r in report.indicators if r.code == "KPI-05").score == 5.0


# ---------------------------------------------------------------------------------------------
# Scoring through the engine


def test_levels_after_the_reporting_quarter_do_not_count() -> None:
    values = edit(clean(2), {"KPI-05": {"level_3": 3, "level_4": 3}})
    report = evaluate(raw_book(values), quarter=2)
    kpi05 = next(r for r in report.indicators if r.code == "KPI-05")
    assert kpi05.score == 2.0 and kpi05.target_met is False
    assert [c for c, *_ in found(report)] == ["KPI-E402", "KPI-E402"]


def test_scores_and_district_score() -> None:
    report = evaluate(raw_book(clean(4)), quarter=4)
    by = {r.code: r for r in report.indicators}
    # KPI-01 pass_fail percent, last = 80 < 100 → 0; KPI-03 thresholds last = 40 < 600 → 0
    assert by["KPI-01"].score == 0.0 and by["KPI-01"].target_met is False
    assert by["KPI-05"].score == 5.0 and by["KPI-05"].target_met is True
    assert by["KPI-05"].explanation_th
    # KPI-07 lower is better, mean(40, 35, 30, 28) = 33.25 between 35 (level 3) and 30 (level 4) → 3.35
    assert by["KPI-07"].year_value == pytest.approx(33.25)
    assert by["KPI-07"].score == 3.35
    assert by["KPI-07"].explanation_th == "33.25 อยู่ระหว่าง 35 (ระดับ 3) และ 30 (ระดับ 4) → 3.35"
    # KPI-12 mean 65 < 70 → 0
    weights = {r.code: r.weight for r in report.indicators}
    expected = sum(weights[c] * (by[c].score or 0) for c in by) / sum(weights.values())
    assert report.district_score == round(expected, 2)
    assert by["KPI-07"].fields["score"].value == 3.35
    assert by["KPI-05"].fields["target_met"].value == "ผ่าน"
    assert by["KPI-05"].fields["score"].cell.cell == SPEC.a1("score")


def test_cached_score_is_ignored() -> None:
    values = edit(clean(4), {"KPI-05": {"score": 0, "target_met": "ไม่ผ่าน"}})
    book = raw_book(values)
    kpi05 = next(r for r in evaluate(book, quarter=4).indicators if r.code == "KPI-05")
    assert kpi05.score == 5.0 and kpi05.fields["score"].cell.raw == 0


def test_unreadable_value_scores_without_it() -> None:
    values = edit(clean(4), {"KPI-06": {"q4_value": "สี่สิบ"}})  # sum 10+20+30 = 60 → below t1 8? no: 60 ≥ 16 → 5
    kpi06 = next(r for r in evaluate(raw_book(values), quarter=4).indicators if r.code == "KPI-06")
    assert kpi06.year_value == 60.0


# ---------------------------------------------------------------------------------------------
# The reporting quarter


def test_quarter_from_the_cover_sheet() -> None:
    report = evaluate(raw_book(clean(2), report_quarter="๒"))
    assert report.report_quarter == 2 and found(report) == []


@pytest.mark.parametrize("cover", [None, "ห้า", 5, "  "])
def test_quarter_not_chosen(cover: Any) -> None:
    """E112, and the latest quarter filled is assumed (not 4: no flood of 'missing' for later quarters)."""
    report = evaluate(raw_book(clean(2), report_quarter=cover))
    assert found(report) == [("KPI-E112", SPEC.sheets["cover"], SPEC.workbook_names["report_quarter"].cell)]
    assert report.report_quarter == 2


def test_given_quarter_wins_over_the_cover() -> None:
    report = evaluate(raw_book(clean(3), report_quarter=1), quarter=3)
    assert report.report_quarter == 3 and found(report) == []


def test_bad_quarter_argument_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        evaluate(raw_book(clean(1)), quarter=5)


# ---------------------------------------------------------------------------------------------
# Structure (fast layer)

STRUCTURE_TESTED = {"KPI-E103", "KPI-E104", "KPI-E105", "KPI-E106", "KPI-E107", "KPI-E108", "KPI-E109",
                    "KPI-E110", "KPI-E111", "KPI-E112", "KPI-E113"}


def catalog_with(code: str, **changes: Any) -> Catalog:
    data = CATALOG.model_dump()
    for ind in data["indicators"]:
        if ind["code"] == code:
            ind.update(changes)
    return Catalog.model_validate(data)


def meta_at(key: str, meta: dict[str, Cell] | None = None) -> tuple[str, str, str | None]:
    return (SPEC.meta_sheet, (meta or meta_cells())[key].cell)


def test_not_a_kpi_workbook() -> None:
    book = RawWorkbook(file="budget.xlsx", sheet_names=["Sheet1"])
    report = evaluate(book)
    assert not report.readable
    assert found(report) == [("KPI-E103", None, None)]
    assert report.problems.problems[0].location.file == "budget.xlsx"


def test_meta_sheet_missing() -> None:
    book = raw_book(clean(4))
    book = book.model_copy(update={"meta": {}, "sheet_names": [s for s in book.sheet_names if s != SPEC.meta_sheet],
                                   "workbook_cells": {"report_quarter": book.workbook_cells["report_quarter"]}})
    report = evaluate(book, quarter=4)
    assert found(report) == [("KPI-E113", None, None)]  # not also district_code etc., which pointed at it
    assert report.indicators == []
    # with head office's catalog the sheets are still checked and scored
    report = evaluate(book, catalog=CATALOG, quarter=4)
    assert [r.code for r in report.indicators] == [i.code for i in CATALOG.for_district(DISTRICT)]
    assert next(r for r in report.indicators if r.code == "KPI-05").score == 5.0


def test_meta_edited() -> None:
    meta = meta_cells()
    meta["district_code"] = meta["district_code"].model_copy(update={"raw": "1001"})
    report = evaluate(raw_book(clean(4), meta=meta), quarter=4)
    assert found(report) == [("KPI-E104", *meta_at("meta_checksum"))]
    assert report.problems.problems[0].params["sheet"] == SPEC.meta_sheet


def test_meta_rows_deleted() -> None:
    meta = meta_cells()
    del meta["catalog_parts"]
    report = evaluate(raw_book(clean(4), meta=meta), quarter=4)
    assert found(report) == [("KPI-E104", *meta_at("meta_checksum"))]
    assert report.indicators == []  # nothing to score by: neither metadata nor a catalog given
    assert evaluate(raw_book(clean(4), meta=meta), catalog=CATALOG, quarter=4).indicators


def test_template_version_unknown() -> None:
    meta = meta_cells(template_version="2563.9")
    report = evaluate(raw_book(clean(4), meta=meta), quarter=4)
    assert found(report) == [("KPI-E105", *meta_at("template_version"))]
    assert report.problems.problems[0].params["value"] == "2563.9"


def test_catalog_differs_scores_with_the_embedded_one() -> None:
    other = catalog_with("KPI-05", target=3.0)
    report = evaluate(raw_book(clean(3)), catalog=other, quarter=3)  # levels 1–3 reached
    assert found(report) == [("KPI-E106", *meta_at("catalog_hash"))]
    kpi05 = next(r for r in report.indicators if r.code == "KPI-05")
    assert kpi05.target_met is False  # the workbook's own target 5, not the other catalog's 3


def test_given_catalog_matching_is_used() -> None:
    report = evaluate(raw_book(clean(4)), catalog=CATALOG, quarter=4)
    assert found(report) == []


def test_district_unknown() -> None:
    meta = meta_cells(district=9999)
    report = evaluate(raw_book(clean(4), meta=meta), quarter=4)
    assert found(report) == [("KPI-E107", *meta_at("district_code"))]


def test_district_not_expected() -> None:
    report = evaluate(raw_book(clean(4)), quarter=4, expected_district=1001)
    assert found(report) == [("KPI-E108", *meta_at("district_code"))]
    assert report.problems.problems[0].params == {"value": 1030, "expected": 1001}


def test_fiscal_year_differs() -> None:
    next_year = CATALOG.model_copy(update={"fiscal_year": 2565})
    report = evaluate(raw_book(clean(4)), catalog=next_year, quarter=4)
    assert found(report) == [("KPI-E106", *meta_at("catalog_hash")), ("KPI-E109", *meta_at("fiscal_year"))]


def test_indicator_sheet_missing() -> None:
    book = raw_book(clean(4))
    del book.sheets["KPI-03"]
    book.sheet_names.remove("KPI-03")
    report = evaluate(book, quarter=4)
    assert found(report) == [("KPI-E110", None, None)]
    assert report.problems.problems[0].params["value"] == "KPI-03"
    kpi03 = next(r for r in report.indicators if r.code == "KPI-03")
    assert kpi03.score is None  # still applies: counts as 0 in the district score


def test_kpi_code_name_missing() -> None:
    """A sheet still there but not fetched as an indicator sheet (its kpi_code name is gone)."""
    book = raw_book(clean(4))
    del book.sheets["KPI-03"]
    assert "KPI-03" in book.sheet_names
    report = evaluate(book, quarter=4)
    assert found(report) == [("KPI-E111", "KPI-03", None)]
    assert report.problems.problems[0].location.name == "kpi_code"


def test_defined_name_missing() -> None:
    book = raw_book(clean(4))
    del book.sheets["KPI-03"]["q2_value"]
    book.sheets["KPI-05"]["level_3"] = book.sheets["KPI-05"]["level_3"].model_copy(update={"cell": None})  # #REF!
    del book.workbook_cells["report_quarter"]
    report = evaluate(book, quarter=4)
    assert found(report) == [("KPI-E111", SPEC.sheets["cover"], None), ("KPI-E111", "KPI-03", None),
                             ("KPI-E111", "KPI-05", None)]
    assert [p.location.name for p in report.problems] == ["report_quarter", "q2_value", "level_3"]
    # the missing level counts as not reached
    assert next(r for r in report.indicators if r.code == "KPI-05").score == 2.0


def test_rules_never_raise_on_odd_cell_values() -> None:
    odd: list[Any] = [True, dt.time(9, 30), b"\x00", float("inf"), 10**30, [], "=1/0", "#REF!"]
    for value in odd:
        values = edit(clean(4), {ind.code: {name: value for name in SPEC.fields if name not in
                                            ("kpi_code", "kpi_name", "target_value", "target_unit")}
                                 for ind in CATALOG.for_district(DISTRICT)})
        report = evaluate(raw_book(values), quarter=4)
        assert report.readable and report.problems.errors, value


def test_every_problem_located() -> None:
    values = edit(clean(2), {"KPI-03": {"q2_value": "สิบ", "q3_value": 5}, "KPI-05": {"level_4": 4}})
    report = evaluate(raw_book(values, report_quarter=None))
    for p in report.problems:
        assert p.location.file and p.location.sheet and p.location.cell and p.location.name
        assert p.message_th.startswith(f"[{p.location.sheet}!{p.location.cell}]")


def test_thai_dates_in_messages() -> None:
    report = run_case(next(c for c in CASES if c.id == "E303-next-year"))
    assert "1 ตุลาคม 2563 ถึง 30 กันยายน 2564" in report.problems.problems[0].message_th
    assert thai.format_thai_date(dt.date(2021, 9, 30)) == "30 กันยายน 2564"


# ---------------------------------------------------------------------------------------------
# Real workbooks: built by the template builder, filled by fill.py as a clerk would, read back by
# the reader. Same cases, same expected problems at the same cells.

@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return template.build_workbook(CATALOG, DISTRICT, tmp_path_factory.mktemp("built"), macros=False)


def filled(src: Path, dst: Path, values: Values, quarter: int | None) -> Path:
    return fill.fill_workbook(src, dst, values=values, report_quarter=quarter)


class TestRealWorkbooks:
    @pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
    def test_rule_on_a_real_workbook(self, case: Case, built: Path, tmp_path: Path) -> None:
        path = filled(built, tmp_path / built.name, edit(clean(case.quarter), case.edits), case.quarter)
        report = validate_file(path, catalog=CATALOG, quarter=case.quarter)
        assert report.readable
        assert found(report) == [at(*e) for e in case.expected]
        first = report.problems.problems[0]
        assert first.location.file == str(path) and first.location.name == case.expected[0][2]

    @pytest.mark.parametrize("quarter", [1, 4])
    def test_clean_real_workbook(self, quarter: int, built: Path, tmp_path: Path) -> None:
        path = filled(built, tmp_path / built.name, clean(quarter), quarter)
        report = validate_file(path)  # quarter from the cover sheet, catalog from the workbook
        assert found(report) == [] and report.valid
        assert report.report_quarter == quarter and report.district_code == DISTRICT and report.fiscal_year == FY

    def test_seed_page_validates_for_quarter_4(self, built: Path, tmp_path: Path) -> None:
        seed = fill.seed_values()
        # The seed's 6.5 (year-end summary) is empty on paper ("::"); a quarter-4 report requires it,
        # so the clerk completes it — as the seed's blank signature is completed by seed_values().
        seed.setdefault("year_summary", "เครือข่ายประชาคมเขตจตุจักรดำเนินการครบทั้ง 5 ระดับ")
        values = {**clean(4), fill.SEED_SHEET: seed}
        path = filled(built, tmp_path / built.name, values, 4)
        report = validate_file(path, catalog=CATALOG, quarter=4)
        assert found(report) == [], [p.message_th for p in report.problems]
        kpi05 = next(r for r in report.indicators if r.code == fill.SEED_SHEET)
        assert kpi05.score == 5.0 and kpi05.target_met is True
        assert kpi05.fields["target_met"].value == "ผ่าน"
        assert f"{kpi05.score:.2f}" == "5.00"
        # the Q1 meeting date is read from the narrative and belongs to quarter 1 of 2564
        assert thai.find_dates(kpi05.value("q1_report")) == [(dt.date(2020, 12, 23), "23 ธันวาคม 2563")]
        assert thai.fiscal_period(dt.date(2020, 12, 23)) == (FY, 1)

    def test_seed_q1_date_in_another_quarter_is_flagged(self, built: Path, tmp_path: Path) -> None:
        """The same meeting reported under quarter 2 is a W403: the rule above could fail."""
        seed = {**fill.seed_values(), "q2_report": fill.SEED_Q1, "year_summary": "ครบ 5 ระดับ"}
        path = filled(built, tmp_path / built.name, {**clean(4), fill.SEED_SHEET: seed}, 4)
        assert found(validate_file(path, quarter=4)) == [at("KPI-W403", fill.SEED_SHEET, "q2_report")]

    def test_quarter_not_chosen(self, built: Path, tmp_path: Path) -> None:
        import openpyxl

        path = filled(built, tmp_path / built.name, clean(3), 3)
        book = openpyxl.load_workbook(path)
        sheet, ref = next(iter(book.defined_names["report_quarter"].destinations))
        book[sheet][ref.replace("$", "")].value = None  # the clerk cleared the dropdown
        book.save(path)
        report = validate_file(path)
        assert found(report) == [("KPI-E112", SPEC.sheets["cover"], SPEC.workbook_names["report_quarter"].cell)]
        assert report.report_quarter == 3

    # --- structure ---------------------------------------------------------------------------

    def test_not_a_kpi_workbook(self, tmp_path: Path) -> None:
        import openpyxl

        book = openpyxl.Workbook()
        book.active["A1"] = "งบประมาณ"
        book.save(tmp_path / "budget.xlsx")
        report = validate_file(tmp_path / "budget.xlsx")
        assert not report.readable and [c for c, *_ in found(report)] == ["KPI-E103"]

    @pytest.mark.parametrize(("content", "code"), [(b"", "KPI-E100"), (b"PK\x03\x04broken", "KPI-E100"),
                                                   (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "KPI-E101")])
    def test_bad_files_never_raise(self, tmp_path: Path, content: bytes, code: str) -> None:
        path = tmp_path / "2564_1030_Chatuchak.xlsm"
        path.write_bytes(content)
        report = validate_file(path, catalog=CATALOG, quarter=4)
        assert not report.readable and [c for c, *_ in found(report)] == [code]
        assert report.problems.problems[0].location.file == str(path)

    def test_missing_file_never_raises(self, tmp_path: Path) -> None:
        report = validate_file(tmp_path / "nothing.xlsx")
        assert not report.readable and len(report.problems) == 1

    def _edit_book(self, src: Path, dst: Path, change: Any) -> Path:
        import openpyxl

        book = openpyxl.load_workbook(src)
        change(book)
        book.save(dst)
        return dst

    def test_meta_sheet_deleted(self, built: Path, tmp_path: Path) -> None:
        src = filled(built, tmp_path / "filled.xlsx", clean(4), 4)
        path = self._edit_book(src, tmp_path / built.name, lambda b: b.remove(b[SPEC.meta_sheet]))
        report = validate_file(path, catalog=CATALOG, quarter=4)
        assert found(report) == [("KPI-E113", None, None)]  # not also the names that pointed at it
        assert report.readable and next(r for r in report.indicators if r.code == "KPI-05").score == 5.0

    def test_meta_edited(self, built: Path, tmp_path: Path) -> None:
        def change(book: Any) -> None:
            ws = book[SPEC.meta_sheet]
            row = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "district_code")
            ws.cell(row, 2).value = "1001"

        path = self._edit_book(filled(built, tmp_path / "f.xlsx", clean(4), 4), tmp_path / built.name, change)
        meta = meta_cells()
        assert found(validate_file(path, quarter=4)) == [("KPI-E104", SPEC.meta_sheet, meta["meta_checksum"].cell)]

    def test_template_version_unknown(self, built: Path, tmp_path: Path) -> None:
        """A workbook from another kpi-xl version: its metadata is intact but the version unknown."""
        from kpi_xl.model import meta_checksum

        def change(book: Any) -> None:
            ws = book[SPEC.meta_sheet]
            keys = {ws.cell(r, 1).value: r for r in range(1, ws.max_row + 1)}
            ws.cell(keys["template_version"], 2).value = "2563.9"
            rows = [(ws.cell(r, 1).value, ws.cell(r, 2).value or "") for r in range(1, keys["meta_checksum"])]
            ws.cell(keys["meta_checksum"], 2).value = meta_checksum(rows)

        path = self._edit_book(filled(built, tmp_path / "f.xlsx", clean(4), 4), tmp_path / built.name, change)
        assert found(validate_file(path, quarter=4)) == [("KPI-E105", *meta_at("template_version"))]

    def test_built_from_another_catalog(self, tmp_path: Path) -> None:
        other = catalog_with("KPI-05", target=3.0)
        (tmp_path / "b").mkdir()
        src = template.build_workbook(other, DISTRICT, tmp_path / "b", macros=False)
        path = filled(src, tmp_path / src.name, clean(3), 3)
        report = validate_file(path, catalog=CATALOG, quarter=3)
        assert found(report) == [("KPI-E106", *meta_at("catalog_hash"))]
        assert next(r for r in report.indicators if r.code == "KPI-05").target_met is True  # its own target 3

    def test_unknown_district(self, tmp_path: Path) -> None:
        from kpi_xl.catalog import DistrictRef

        odd = CATALOG.model_copy(update={"districts": [*CATALOG.districts,
                                                       DistrictRef(code=9999, name_th="ทดสอบ", name_en="Test")]})
        (tmp_path / "b").mkdir()
        src = template.build_workbook(odd, 9999, tmp_path / "b", macros=False)
        path = filled(src, tmp_path / src.name, clean(4, odd, 9999), 4)
        assert found(validate_file(path, quarter=4)) == [("KPI-E107", *meta_at("district_code"))]

    def test_not_the_expected_district(self, built: Path, tmp_path: Path) -> None:
        path = filled(built, tmp_path / built.name, clean(4), 4)
        report = validate_file(path, catalog=CATALOG, quarter=4, expected_district=1001)
        assert found(report) == [("KPI-E108", *meta_at("district_code"))]

    def test_wrong_fiscal_year(self, tmp_path: Path) -> None:
        last_year = CATALOG.model_copy(update={"fiscal_year": 2563})
        (tmp_path / "b").mkdir()
        src = template.build_workbook(last_year, DISTRICT, tmp_path / "b", macros=False)
        values = clean(4)
        for page in values.values():
            page["signed_date"] = dt.datetime(2020, 9, 30)
        path = filled(src, tmp_path / src.name, values, 4)
        report = validate_file(path, catalog=CATALOG, quarter=4)
        assert found(report) == [("KPI-E106", *meta_at("catalog_hash")), ("KPI-E109", *meta_at("fiscal_year"))]
        assert report.problems.problems[1].params == {"value": 2563, "expected": 2564}

    def test_indicator_sheet_deleted(self, built: Path, tmp_path: Path) -> None:
        src = filled(built, tmp_path / "f.xlsx", clean(4), 4)
        path = self._edit_book(src, tmp_path / built.name, lambda b: b.remove(b["KPI-03"]))
        report = validate_file(path, catalog=CATALOG, quarter=4)
        assert found(report) == [("KPI-E110", None, None)]
        assert next(r for r in report.indicators if r.code == "KPI-03").score is None

    def test_defined_name_deleted(self, built: Path, tmp_path: Path) -> None:
        def change(book: Any) -> None:
            del book["KPI-03"].defined_names["q2_value"]
            del book["KPI-05"].defined_names["level_3"]
            del book["KPI-10"].defined_names["kpi_code"]

        path = self._edit_book(filled(built, tmp_path / "f.xlsx", clean(4), 4), tmp_path / built.name, change)
        report = validate_file(path, catalog=CATALOG, quarter=4)
        assert found(report) == [("KPI-E111", "KPI-10", None), ("KPI-E111", "KPI-03", None),
                                 ("KPI-E111", "KPI-05", None)]
        assert [p.location.name for p in report.problems] == ["kpi_code", "q2_value", "level_3"]


# ---------------------------------------------------------------------------------------------
# Scores as of the reporting quarter (issue 11)


def _indicator(report: DistrictReport, code: str) -> Any:
    return next(r for r in report.indicators if r.code == code)


def test_later_quarters_never_count_for_an_earlier_quarter() -> None:
    """The issue's cases: pass/fail 0, 0, 0, 100 (last) is 0 and not met at Q2; a sum of 4+4+4+4 is 8."""
    values = edit(clean(2), {"KPI-01": {"q1_value": 0, "q2_value": 0, "q3_value": 0, "q4_value": 100},
                             "KPI-06": {"q1_value": 4, "q2_value": 4, "q3_value": 4, "q4_value": 4}})
    report = evaluate(raw_book(values, report_quarter=2))
    kpi01, kpi06 = _indicator(report, "KPI-01"), _indicator(report, "KPI-06")
    assert (kpi01.year_value, kpi01.score, kpi01.target_met) == (0, 0, False)
    assert (kpi06.year_value, kpi06.score) == (8, 1)  # 8 is t1 of [8, 10, 12, 14, 16]; 16 would score 5
    assert {p.code for p in report.problems if p.location.sheet in ("KPI-01", "KPI-06")} == {"KPI-W404"}


def test_typed_result_belongs_to_the_declared_quarter() -> None:
    """A Q4 workbook's typed result scores at Q4; validated for Q2 the quarterly values up to Q2 score."""
    values = edit(clean(4), {"KPI-06": {"q1_value": 4, "q2_value": 4, "q3_value": 4, "q4_value": 4,
                                        "result_value": 16}})
    assert _indicator(evaluate(raw_book(values)), "KPI-06").score == 5
    at_q2 = _indicator(evaluate(raw_book(values), quarter=2), "KPI-06")
    assert (at_q2.year_value, at_q2.score) == (8, 1)


def test_scores_resting_on_errors_are_flagged_and_governed() -> None:
    from kpi_xl.scoring import round2

    """A percentage of 120 (KPI-E403) scores 5 but is flagged; the catalog's rule decides what it counts for."""
    values = edit(clean(2), {"KPI-10": {"q2_value": 120}, "KPI-12": {"q1_value": 50, "q2_value": 60,
                                                                      "result_value": 70}})
    report = evaluate(raw_book(values, report_quarter=2))
    kpi10, kpi12 = _indicator(report, "KPI-10"), _indicator(report, "KPI-12")
    assert kpi10.score == 5 and kpi10.flagged_cells == [SPEC.a1("q2_value")] and kpi10.counted
    assert (kpi12.value_source, kpi12.typed_difference, kpi12.flagged) == ("typed", 15, False)
    assert {r.code for r in report.indicators if r.flagged} == {"KPI-10"}
    scores = {}
    for rule in ("scored", "zero", "excluded"):
        cat = CATALOG.model_copy(update={"error_scores": ErrorScores(rule)})
        got = evaluate(raw_book(values, catalog=cat, report_quarter=2), catalog=cat)
        scores[rule] = got.district_score
        assert _indicator(got, "KPI-10").counted is (rule != "excluded")
    w = {i.code: i.weight for i in CATALOG.for_district(DISTRICT)}
    others = [(r.weight, r.score or 0) for r in report.indicators if r.code != "KPI-10"]
    assert scores["scored"] == report.district_score
    assert scores["zero"] == round2(sum(x * s for x, s in others) / sum(w.values()))
    assert scores["excluded"] == round2(sum(x * s for x, s in others) / sum(x for x, _ in others))
    assert len(set(scores.values())) == 3


def test_a_score_resting_on_a_lost_input_is_flagged() -> None:
    """A level whose cell is gone (#REF!, KPI-E111) counts as not reached: the score is flagged by name."""
    book = raw_book(clean(4))
    book.sheets["KPI-05"]["level_3"] = book.sheets["KPI-05"]["level_3"].model_copy(update={"cell": None})
    result = _indicator(evaluate(book, quarter=4), "KPI-05")
    assert (result.score, result.flagged_cells) == (2.0, ["level_3"])
