"""Last year beside this year: `kpi-xl build --history`, and the far-from-the-usual warning (KPI-W630)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import insert
from typer.testing import CliRunner

from kpi_xl import fill, history, outliers, template
from kpi_xl.catalog import Catalog
from kpi_xl.cli import app
from kpi_xl.consolidate import consolidate
from kpi_xl.form import load_spec
from kpi_xl.past import districts_past
from kpi_xl.problems import Location
from kpi_xl.validate import validate_file

SPEC = load_spec()
ROOT = Path(__file__).resolve().parents[1]
SAMPLE_YAML = ROOT / "workbook_templates" / "catalog_2564.yaml"
PAST_ROW = next(r for r, row in enumerate(SPEC.rows) if row.style == "past") + 1
# Chatuchak's KPI-03 (trees planted, cumulative "last") in quarter 2 of four earlier years: median 505, MAD 10.
OWN_Q2 = {2560: 500.0, 2561: 520.0, 2562: 480.0, 2563: 510.0}


def _history(path: Path) -> Path:
    """A real history database with stored results of earlier years (as consolidation writes them)."""
    engine = history.open_db(path)
    rows: list[dict[str, Any]] = []
    periods = sorted({(fy, 2) for fy in OWN_Q2} | {(2563, 4)})
    with engine.begin() as conn:
        for fy, q in periods:
            run_id = conn.execute(insert(history.runs).values(
                fiscal_year=fy, quarter=q, run_at=dt.datetime(2020, 1, 1), catalog_hash="x" * 64)).inserted_primary_key[0]
            conn.execute(insert(history.accepted).values(run_id=run_id, fiscal_year=fy, quarter=q,
                                                         accepted_at=dt.datetime(2020, 1, 1), action="run"))
            if q == 2:
                rows.append(dict(run_id=run_id, fiscal_year=fy, quarter=q, district_code=1030, indicator_code="KPI-03",
                                 year_value=OWN_Q2[fy], score=1.0))
                rows.append(dict(run_id=run_id, fiscal_year=fy, quarter=q, district_code=1030, indicator_code="KPI-04",
                                 year_value=6.0, score=3.0))  # only in 2563 below: too little history
            else:
                rows += [dict(run_id=run_id, fiscal_year=fy, quarter=q, district_code=1030, indicator_code="KPI-03",
                              year_value=900.0, score=2.5),
                         dict(run_id=run_id, fiscal_year=fy, quarter=q, district_code=1030, indicator_code="KPI-05",
                              year_value=5.0, score=5.0),
                         dict(run_id=run_id, fiscal_year=fy, quarter=q, district_code=1001, indicator_code="KPI-01",
                              year_value=99.0, score=5.0)]
        conn.execute(insert(history.results), [r for r in rows if r["indicator_code"] != "KPI-04" or r["fiscal_year"] > 2561])
        # a later run of 2563/Q4 with a wrong value, then undone: the restored (current) run counts
        q4 = next(r["run_id"] for r in rows if (r["fiscal_year"], r["quarter"]) == (2563, 4))
        wrong = conn.execute(insert(history.runs).values(
            fiscal_year=2563, quarter=4, run_at=dt.datetime(2020, 2, 1), catalog_hash="x" * 64)).inserted_primary_key[0]
        conn.execute(insert(history.results).values(run_id=wrong, fiscal_year=2563, quarter=4, district_code=1030,
                                                    indicator_code="KPI-03", year_value=99_999.0, score=5.0))
        for run_id, action in ((wrong, "run"), (q4, "restore")):
            conn.execute(insert(history.accepted).values(run_id=run_id, fiscal_year=2563, quarter=4,
                                                         accepted_at=dt.datetime(2020, 2, 2), action=action))
    engine.dispose()
    return path


@pytest.fixture(scope="module")
def with_history(tmp_path_factory: pytest.TempPathFactory, sample_catalog: Catalog) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("past")
    db = _history(root / "kpi_history.sqlite")
    past = districts_past(db, sample_catalog.fiscal_year, [1030])
    (built,) = template.build_all(sample_catalog, root / "built", districts=[1030], jobs=1, past=past)
    return {"db": db, "past": past[1030], "built": built, "root": root}


def _past_text(path: Path, sheet: str) -> str:
    return openpyxl.load_workbook(path)[sheet][f"A{PAST_ROW}"].value or ""


def test_history_is_read_per_district(with_history: dict[str, Any]) -> None:
    past = with_history["past"]
    assert past.fiscal_year == 2563
    assert (past.last_year["KPI-03"].quarter, past.last_year["KPI-03"].year_value) == (4, 900.0)  # latest quarter
    assert sorted(past.known) == ["KPI-01", "KPI-03", "KPI-04", "KPI-05"]
    assert past.own["KPI-03"][2] == list(OWN_Q2.values())


def test_each_sheet_shows_last_years_result_or_that_the_indicator_is_new(with_history: dict[str, Any]) -> None:
    built = with_history["built"]
    assert _past_text(built, "KPI-03") == ("ปีงบประมาณ 2563 (ไตรมาส 4): ผลงาน 900 ต้น คะแนน 2.50 "
                                           "(last year's result and score)")
    assert _past_text(built, "KPI-05").startswith("ปีงบประมาณ 2563 (ไตรมาส 4): ผลงาน 5 ระดับ คะแนน 5.00")
    assert _past_text(built, "KPI-10") == "ปีงบประมาณ 2563: ตัวชี้วัดใหม่ (new indicator)"
    assert "ไม่มีผลของเขตนี้" in _past_text(built, "KPI-01")  # reported by another district last year
    ws = openpyxl.load_workbook(built)["KPI-03"]
    cell = ws[f"A{PAST_ROW}"]
    assert cell.protection.locked and ws.protection.sheet  # read-only
    assert int(ws.print_area.split("$")[-1]) >= PAST_ROW  # inside the print area


@pytest.mark.libreoffice
def test_last_years_row_is_printed(with_history: dict[str, Any], tmp_path: Path) -> None:
    import subprocess

    from kpi_xl import libreoffice

    pdf = libreoffice.convert(with_history["built"], "pdf", tmp_path)
    text = "".join(subprocess.run(["pdftotext", "-raw", str(pdf), "-"], capture_output=True, text=True,
                                  check=True).stdout.split())
    assert "ตัวชี้วัดใหม่(newindicator)" in text and "last" in text and "2563" in text


def test_without_history_the_row_is_blank(chatuchak_workbook: Path) -> None:
    assert _past_text(chatuchak_workbook, "KPI-03") == ""


def test_planted_outlier_warns_and_a_normal_value_does_not(with_history: dict[str, Any], tmp_path: Path) -> None:
    built = with_history["built"]
    common = {"KPI-04": {"q1_value": 6, "q2_value": 60}}  # far from 6, but one earlier year only: no warning
    typo = fill.fill_workbook(built, tmp_path / "typo.xlsm", report_quarter=2,
                              values={"KPI-03": {"q1_value": 250, "q2_value": 5050}, **common})
    normal = fill.fill_workbook(built, tmp_path / "normal.xlsm", report_quarter=2,
                                values={"KPI-03": {"q1_value": 250, "q2_value": 515}, **common})
    warned = [p for p in validate_file(typo).problems if p.code == "KPI-W630"]
    assert [(p.location.sheet, p.location.cell, p.severity.value) for p in warned] == [
        ("KPI-03", SPEC.a1("q2_value"), "warning")]
    assert "5,050" in warned[0].message_th or "5050" in warned[0].message_th
    assert "ค่ากลาง 505" in warned[0].message_th and "median 505" in warned[0].message_en
    assert not [p for p in validate_file(normal).problems if p.code == "KPI-W630"]


def test_modified_z_needs_enough_values_and_some_spread() -> None:
    assert outliers.modified_z(100, [1, 2], outliers.MIN_OWN) is None
    assert outliers.modified_z(100, [5, 5, 5, 5], outliers.MIN_OWN) is None  # MAD 0: no spread to measure
    spread = outliers.modified_z(100, [10, 12, 8, 11, 9], outliers.MIN_OWN)
    assert spread is not None and spread.median == 10 and spread.mad == 1 and spread.z == pytest.approx(60.705)


def test_peer_warnings_need_enough_districts() -> None:
    def scored(code: int, value: float) -> list[outliers.Scored]:
        return [outliers.Scored("KPI-03", "thresholds", value, Location(file=f"{code}.xlsm", sheet="KPI-03", cell="B21"))]

    values = {1000 + i: scored(1000 + i, 500 + 7 * i) for i in range(10)}
    values[1030] = scored(1030, 50_000)
    found = outliers.peer_warnings(values)
    assert list(found) == [1030] and found[1030][0].location.file == "1030.xlsm"
    few = {code: v for code, v in list(values.items())[-6:]}
    assert outliers.peer_warnings(few) == {}


def test_head_office_warns_about_a_value_far_from_the_other_districts(sample_catalog: Catalog, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    codes = [d.code for d in sample_catalog.districts][:10]
    built = template.build_all(sample_catalog, tmp_path / "built", districts=codes, macros=False, jobs=1)
    planted = codes[3]
    for i, (code, path) in enumerate(zip(codes, built, strict=True)):
        value = 25_000 if code == planted else 240 + 5 * i
        fill.fill_workbook(path, inbox / path.name, values={"KPI-03": {"q1_value": value, "q1_report": "ปลูกต้นไม้"}},
                           report_quarter=1)
    result = consolidate(inbox, sample_catalog, 1, db=False, jobs=1)
    warned = result.problems[result.problems["code"] == "KPI-W630"]
    assert set(warned["district_code"]) == {planted}, warned
    row = warned.iloc[0]
    assert row["sheet"] == "KPI-03" and row["cell"] == SPEC.a1("q1_value") and row["file"].endswith(built[3].name)


def test_cli_build_with_history(with_history: dict[str, Any], tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["build", "--catalog", str(SAMPLE_YAML), "--out", str(tmp_path), "--districts",
                                      "1030", "--no-macros", "--history", str(with_history["db"])], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert _past_text(next(tmp_path.glob("*.xlsx")), "KPI-10").endswith("ตัวชี้วัดใหม่ (new indicator)")
    missing = CliRunner().invoke(app, ["build", "--catalog", str(SAMPLE_YAML), "--out", str(tmp_path / "x"),
                                       "--history", str(tmp_path / "nope.sqlite")], env={"COLUMNS": "250"})
    assert missing.exit_code == 2 and not (tmp_path / "nope.sqlite").exists()


def test_the_button_gives_the_same_warning(with_history: dict[str, Any], tmp_path: Path) -> None:
    """The button reads the workbook through xlwings (its remote engine here, see test_excel.py) and
    runs the same engine: the district's own past travels in the workbook, no database needed."""
    import os

    os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")
    import xlwings as xw

    from kpi_xl import excel
    from kpi_xl.validate import evaluate

    typo = fill.fill_workbook(with_history["built"], tmp_path / "typo.xlsm", report_quarter=2,
                              values={"KPI-03": {"q1_value": 250, "q2_value": 5050}})
    raw = excel.read_book(xw.Book(json=excel.remote_payload(typo)))
    warned = [p for p in evaluate(raw).problems if p.code == "KPI-W630"]
    assert [(p.location.sheet, p.location.cell) for p in warned] == [("KPI-03", SPEC.a1("q2_value"))]
