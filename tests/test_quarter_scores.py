"""Scores hold for their period: a workbook filled to the year's end, scored as of quarter q, gives
what a workbook filled only up to quarter q gives — for one indicator, one district, and a whole
consolidation (issue 11).

Real files: workbooks built from the sample catalog, filled through their defined names (Thai
digits and text included), read back by the reader. The year-end fills type ahead on purpose: later
quarters' values, levels and a typed year's result that a Q2 score must ignore.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from kpi_xl import thai
from kpi_xl.catalog import Catalog, Indicator, Scoring, ValueKind
from kpi_xl.consolidate import consolidate
from kpi_xl.fill import fill_workbook
from kpi_xl.form import load_spec
from kpi_xl.template import build_workbook
from kpi_xl.validate import validate_file

DISTRICTS = (1030, 1001, 1002)


def _value(rng: random.Random, ind: Indicator) -> float | str:
    top = 100 if ind.value_kind is ValueKind.PERCENT else 60
    v = float(rng.randint(0, top))
    return thai.to_thai_digits(f"{v:,.0f}") if rng.random() < 0.3 else v


def year_end(rng: random.Random, ind: Indicator) -> dict[str, Any]:
    """Everything a district types by the year's end, quarter by quarter, plus a typed result."""
    if ind.scoring is Scoring.MILESTONE:
        quarters = sorted(rng.choice([1, 2, 3, 4]) for _ in range(5))
        cells: dict[str, Any] = {f"level_{n}": q for n, q in zip(range(1, 6), quarters, strict=True)
                                 if rng.random() < 0.9}
    else:
        cells = {f"q{q}_value": _value(rng, ind) for q in (1, 2, 3, 4)}
    if rng.random() < 0.5:
        cells["result_value"] = _value(rng, ind) if ind.scoring is not Scoring.MILESTONE else 5
    return cells


def up_to(cells: dict[str, Any], q: int) -> dict[str, Any]:
    """The same fill as it stood at the end of quarter ``q``: nothing later, no year's result yet."""
    kept = {}
    for name, value in cells.items():
        if name.startswith("level_"):
            if value <= q:
                kept[name] = value
        elif name.startswith("q") and name.endswith("_value"):
            if int(name[1]) <= q:
                kept[name] = value
    return kept


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory, sample_catalog: Catalog) -> dict[str, dict[int, Path]]:
    """"year_end" and "q1"…"q4": district → filled workbook (year-end ones declare quarter 4)."""
    rng = random.Random(11)
    work = tmp_path_factory.mktemp("quarters")
    out: dict[str, dict[int, Path]] = {"year_end": {}, **{f"q{q}": {} for q in (1, 2, 3, 4)}}
    for code in DISTRICTS:
        blank = build_workbook(sample_catalog, code, work / "blank", macros=False)
        fills = {ind.code: year_end(rng, ind) for ind in sample_catalog.for_district(code)}
        out["year_end"][code] = fill_workbook(blank, work / "year_end" / blank.name, values=fills, report_quarter=4)
        for q in (1, 2, 3, 4):
            staged = {sheet: up_to(cells, q) for sheet, cells in fills.items()}
            out[f"q{q}"][code] = fill_workbook(blank, work / f"q{q}" / blank.name, values=staged, report_quarter=q)
    return out


def _scores(path: Path, quarter: int | None = None) -> tuple[float | None, dict[str, tuple[Any, ...]]]:
    report = validate_file(path, quarter=quarter)
    return report.district_score, {r.code: (r.year_value, r.score, r.target_met) for r in report.indicators}


def test_year_end_workbook_scored_as_of_each_quarter(books: dict[str, dict[int, Path]]) -> None:
    """Validated for q = 1…4, the year-end workbook scores exactly as the workbook filled up to q."""
    differ = 0
    for code in DISTRICTS:
        for q in (1, 2, 3):  # at quarter 4 the year's typed results count, which no stage has
            staged = _scores(books[f"q{q}"][code])
            assert _scores(books["year_end"][code], quarter=q) == staged, (code, q)
            assert _scores(books[f"q{q}"][code], quarter=q) == staged
            differ += staged != _scores(books["q4"][code])
    assert differ >= 2 * len(DISTRICTS)  # the quarter really changes the scores


def test_q2_consolidation_of_year_end_workbooks(books: dict[str, dict[int, Path]], sample_catalog: Catalog,
                                                tmp_path: Path) -> None:
    """Head office's Q2 run on workbooks that typed ahead gives the Q2-stage district scores."""
    results = {}
    for kind in ("year_end", "q2"):
        inbox = next(iter(books[kind].values())).parent
        results[kind] = consolidate(inbox, sample_catalog, 2, db=False, jobs=1)
    scores = {kind: r.districts.set_index("district_code")["score"].dropna().to_dict() for kind, r in results.items()}
    assert set(scores["q2"]) == set(DISTRICTS)
    assert scores["year_end"] == scores["q2"]
    columns = ["district_code", "indicator_code", "year_value", "score", "target_met"]
    per_indicator = {kind: r.scores.loc[r.scores["district_code"].isin(DISTRICTS), columns].reset_index(drop=True)
                     for kind, r in results.items()}
    pd.testing.assert_frame_equal(per_indicator["year_end"], per_indicator["q2"])
    assert per_indicator["q2"]["score"].notna().sum() >= 10


def test_summary_marks_every_score_resting_on_an_error(books: dict[str, dict[int, Path]], sample_catalog: Catalog,
                                                       tmp_path: Path) -> None:
    """A percentage of 120 (KPI-E403) scores, but the summary marks it everywhere it shows: the
    district's cell and total, its rank, its bar, the per-indicator count and the data table."""
    import openpyxl

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    bad_code = DISTRICTS[0]
    for code, path in books["q2"].items():
        if code == bad_code:
            fill_workbook(path, inbox / path.name, values={"KPI-10": {"q1_value": 120}, "KPI-12": {"result_value": 99.5}})
        else:
            (inbox / path.name).write_bytes(path.read_bytes())
    result = consolidate(inbox, sample_catalog, 2, out=tmp_path / "summary.xlsx", db=False, jobs=1)
    before = consolidate(next(iter(books["q2"].values())).parent, sample_catalog, 2, db=False, jobs=1)

    def flagged_pairs(r: Any) -> set[tuple[int, str]]:
        rows = r.scores[r.scores["flagged"].astype(bool)]
        return {(int(c), i) for c, i in zip(rows["district_code"], rows["indicator_code"], strict=True)}

    assert flagged_pairs(result) == flagged_pairs(before) | {(bad_code, "KPI-10")}
    kpi10 = result.scores[(result.scores["district_code"] == bad_code) & (result.scores["indicator_code"] == "KPI-10")]
    assert kpi10["score"].notna().all() and kpi10["flagged_cells"].tolist() == [load_spec().a1("q1_value")]  # scored, but flagged
    assert result.error_scores == "scored"
    districts = result.districts.set_index("district_code")
    assert districts.loc[bad_code, "flagged"] == before.districts.set_index("district_code").loc[bad_code, "flagged"] + 1
    assert districts["rank_marked"].tolist() == (districts["status"] == "with_errors").tolist()

    book = openpyxl.load_workbook(result.paths["summary"])
    scores = book["คะแนนรายเขต"]
    codes = [c.value for c in scores[1]]
    row = next(r for r in scores.iter_rows(min_row=3) if r[0].value == bad_code)
    assert row[codes.index("KPI-10")].number_format == '0.00" !"'
    assert row[codes.index("คะแนนถ่วงน้ำหนัก\nweighted score")].number_format == '0.00" !"'
    marked_ranks = [r[codes.index("อันดับ\nrank")].number_format == '0" *"' for r in scores.iter_rows(min_row=3)
                    if isinstance(r[0].value, int) and r[codes.index("อันดับ\nrank")].value is not None]
    assert sum(marked_ranks) == int(districts["rank_marked"].sum())
    text = "\n".join(str(c.value) for ws in book.worksheets for r in ws.iter_rows() for c in r if c.value)
    assert "นับคะแนนตามที่คำนวณได้" in text and "counted as computed" in text  # the rule that applied
    data = book["ข้อมูล"]
    keys = [c.value for c in data[1]]
    flags = [r[keys.index("flagged")].value for r in data.iter_rows(min_row=3)]
    assert flags.count("ใช่") == len(flagged_pairs(result))
    typed = result.scores[(result.scores["district_code"] == bad_code) & (result.scores["indicator_code"] == "KPI-12")]
    assert typed["value_source"].tolist() == ["typed"] and typed["year_value"].tolist() == [99.5]
    difference = typed["typed_difference"].iloc[0]
    assert difference != 0  # KPI-W402: the typed result scores, the difference is shown
    sources = [r[keys.index("value_source")].value for r in data.iter_rows(min_row=3)]
    assert sources.count("พิมพ์เอง (typed)") == 1
    note = row[codes.index("KPI-12")].comment
    assert note is not None and "KPI-W402" in note.text and f"{difference:+,.2f}" in note.text
    chart_xml = _chart_xml(result.paths["summary"])
    assert "ED7D31" in chart_xml  # the flagged district's bar is drawn in another colour


def _chart_xml(path: Path | str) -> str:
    import zipfile

    with zipfile.ZipFile(path) as z:
        return "".join(z.read(n).decode() for n in z.namelist() if n.startswith("xl/charts/chart"))
