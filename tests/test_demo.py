"""`kpi-xl demo` end to end: the README's first command, and what it must produce."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from kpi_xl.cli import app
from kpi_xl.demo import MISTAKES, run_demo

# Which code each planted mistake must produce (warnings leave a district "clean").
EXPECTED = {
    "number_as_words": "KPI-E301",
    "wrong_quarter_date": "KPI-W403",
    "levels_out_of_order": "KPI-E401",
    "percent_over_100": "KPI-E403",
    "missing_report": "KPI-E201",
    "missing_signature": "KPI-E203",
}


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return run_demo(tmp_path_factory.mktemp("demo") / "kpi-demo", seed=2564)


def test_every_mistake_kind_is_planted_and_found(made: dict) -> None:
    assert set(EXPECTED) == set(MISTAKES)
    plan, problems = made["plan"], made["final"].problems
    for district, (mistake,) in plan.mistakes.items():
        found = set(problems.loc[problems["district_code"] == district, "code"])
        assert EXPECTED[mistake] in found, (district, mistake, found)


def test_statuses_and_counts(made: dict) -> None:
    plan, final, first = made["plan"], made["final"].districts, made["first"].districts
    assert len(final) == 50
    assert sorted(final.loc[final["status"] == "missing", "district_code"]) == plan.not_sent
    # The late district was missing at the first run and received at the second.
    assert first.set_index("district_code").loc[plan.late, "status"] == "missing"
    assert final.set_index("district_code").loc[plan.late, "status"] != "missing"
    assert (first["status"] == "missing").sum() == 3
    errors = {d for d, (m,) in plan.mistakes.items() if EXPECTED[m].startswith("KPI-E")}
    assert set(final.loc[final["status"] == "with_errors", "district_code"]) == errors
    assert (final["status"] == "clean").sum() == 50 - 2 - len(errors)


def test_outputs_exist_and_open(made: dict) -> None:
    summary = openpyxl.load_workbook(made["summary"], read_only=True)
    assert "ภาพรวม" in summary.sheetnames and "สถานะการส่ง" in summary.sheetnames
    with sqlite3.connect(made["database"]) as db:
        tables = {r[0] for r in db.execute("select name from sqlite_master where type='table'")}
        assert tables
    marked = openpyxl.load_workbook(made["marked_copy"], read_only=True)
    assert "ผลการตรวจสอบ" in marked.sheetnames
    assert len(list(made["inbox"].glob("*.xlsm"))) == 48
    review = openpyxl.load_workbook(made["review"], read_only=True)  # the demo makes head office's review too
    assert made["review"].name == "review_2564_Q4.xlsx" and review.sheetnames == ["ตรวจประเมิน", "_review"]
    site = made["site"]  # the demo ends with the web report
    assert site.name == "index.html" and (site.parent / "district" / "1030.json").is_file()


def test_history_command_reads_the_demo_database(made: dict) -> None:
    district = int(made["final"].districts.query("status == 'clean'")["district_code"].iloc[0])
    result = CliRunner().invoke(app, ["history", "--district", str(district), "--db", str(made["database"])],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "2564" in result.output


def test_demo_command_prints_what_to_open(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", str(tmp_path / "d")], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "summary.xlsx" in result.output and "history.sqlite" in result.output


def readme_python_block() -> str:
    """The README's Python API example, exactly as a reader copies it."""
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = text.split("## Python API", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_readme_python_example_runs_as_written_on_the_demo_files(made: dict, tmp_path: Path) -> None:
    """Run in a copy of the demo folder (the block says: cd kpi-demo), in a fresh Python."""
    import shutil
    import subprocess
    import sys

    folder = tmp_path / "kpi-demo"
    shutil.copytree(made["inbox"], folder / made["inbox"].name)
    block = readme_python_block()
    assert "2_inbox/" in block and made["inbox"].name == "2_inbox"
    done = subprocess.run([sys.executable, "-c", block], cwd=folder, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    # Saved as a script and run, unguarded: its workers must not re-run it (kpi_xl.consolidate._spawn_is_safe).
    (folder / "example.py").write_text(block, encoding="utf-8")
    saved = subprocess.run([sys.executable, "example.py"], cwd=folder, capture_output=True, text=True, timeout=300)
    assert saved.returncode == 0 and "KPI-E100" not in saved.stdout, saved.stderr[-3000:]
    assert saved.stdout.splitlines()[0] == done.stdout.splitlines()[0]
    first = done.stdout.splitlines()[0].split(" ", 2)
    assert float(first[0]) > 0 and first[1] in ("True", "False")
    assert sorted(p.name for p in (folder / "out").glob("*.xlsm")) == ["2564_1001_Phra_Nakhon.xlsm",
                                                                      "2564_1030_Chatuchak.xlsm"]
    summary = openpyxl.load_workbook(folder / "summary_again.xlsx", read_only=True)
    assert "ภาพรวม" in summary.sheetnames
    assert "district_code" in done.stdout  # the DataFrames were printed
