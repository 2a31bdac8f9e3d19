"""`kpi-xl build`, `validate` and `consolidate`: exit codes, messages, and the result through the library."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import openpyxl
import pytest
import yaml
from typer.testing import CliRunner

from kpi_xl import fill
from kpi_xl.catalog import Catalog
from kpi_xl.cli import app
from kpi_xl.files import sha256_file
from kpi_xl.form import load_spec
from kpi_xl.reader import read_workbook

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_YAML = ROOT / "workbook_templates" / "catalog_2564.yaml"
runner = CliRunner()
ENV = {"COLUMNS": "250"}


def run(*args: str):  # noqa: ANN201 - click Result
    return runner.invoke(app, [str(a) for a in args], env=ENV)


# --- build ------------------------------------------------------------------------------------


def test_build_writes_one_workbook_per_district(tmp_path: Path, sample_catalog: Catalog) -> None:
    result = run("build", "--catalog", SAMPLE_YAML, "--out", tmp_path, "--districts", "1030,1001", "--no-macros")
    assert result.exit_code == 0, result.output
    assert "built 2 workbooks" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2564_1001_Phra_Nakhon.xlsx", "2564_1030_Chatuchak.xlsx"]
    raw = read_workbook(tmp_path / "2564_1030_Chatuchak.xlsx")
    assert [c for c in raw.sheets] == [i.code for i in sample_catalog.for_district(1030)]

    again = run("build", "--catalog", SAMPLE_YAML, "--out", tmp_path, "--districts", "1030", "--no-macros")
    assert again.exit_code == 1 and "--force" in again.output
    forced = run("build", "--catalog", SAMPLE_YAML, "--out", tmp_path, "--districts", "1030", "--no-macros", "--force")
    assert forced.exit_code == 0


def test_build_interpreter_goes_into_the_conf_sheet(tmp_path: Path) -> None:
    path = r"C:\Python311\pythonw.exe"
    assert run("build", "-c", SAMPLE_YAML, "-o", tmp_path, "--districts", "1030", "--interpreter", path).exit_code == 0
    book = openpyxl.load_workbook(tmp_path / "2564_1030_Chatuchak.xlsm", keep_vba=True)
    conf = {r[0]: r[1] for r in book[load_spec().sheets["conf"]].iter_rows(values_only=True)}
    assert conf["Interpreter_Win"] == path


def test_build_stops_on_an_invalid_catalog_and_writes_nothing(tmp_path: Path) -> None:
    data = yaml.safe_load(SAMPLE_YAML.read_text(encoding="utf-8"))
    data["indicators"][0]["weight"] = -1
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "out"
    result = run("build", "--catalog", bad, "--out", out)
    assert result.exit_code == 1
    assert "KPI-C024 [bad.yaml!indicators[1].weight]" in result.output
    assert not out.exists() or list(out.iterdir()) == []


@pytest.mark.parametrize(("districts", "message"), [("abc", "bad --districts"), ("1030,9999", "unknown district codes")])
def test_build_refuses_bad_district_lists(tmp_path: Path, districts: str, message: str) -> None:
    result = run("build", "--catalog", SAMPLE_YAML, "--out", tmp_path, "--districts", districts)
    assert result.exit_code == 2
    assert message in result.output
    assert list(tmp_path.iterdir()) == []


# --- validate ---------------------------------------------------------------------------------


def test_validate_the_seed_page_is_clean_with_score_5(seed_filled_workbook: Path, tmp_path: Path) -> None:
    # The other indicators of the workbook are blank: validate KPI-05 alone by giving the seed only.
    result = run("validate", seed_filled_workbook, "--catalog", SAMPLE_YAML, "--quarter", "4", "--json")
    data = json.loads(result.stdout)[0]
    kpi05 = next(i for i in data["indicators"] if i["code"] == "KPI-05")
    assert (kpi05["score"], kpi05["target_met"]) == (5.0, True)
    assert not [p for p in data["problems"] if p["sheet"] == "KPI-05"]
    assert result.exit_code == 1  # the other eleven indicators are still empty for quarter 4


def test_validate_exit_codes_and_messages(built_workbooks: dict[int, Path], tmp_path: Path) -> None:
    wrong = fill.fill_workbook(built_workbooks[1030], tmp_path / "wrong.xlsm",
                               values={"KPI-03": {"q1_value": "สิบ"}}, report_quarter=1)
    cell = load_spec().a1("q1_value")
    result = run("validate", wrong, "--catalog", SAMPLE_YAML)
    assert result.exit_code == 1
    assert "KPI-E301" in result.output and f"KPI-03!{cell}" in result.output
    english = run("validate", wrong, "--lang", "en")
    assert f"[KPI-03!{cell}] quarter 1 value must be a number" in english.output

    broken = tmp_path / "broken.xlsm"
    broken.write_bytes(wrong.read_bytes()[:5000])
    result = run("validate", broken)
    assert result.exit_code == 2
    assert "KPI-E100" in result.output


def test_validate_annotate_writes_a_marked_copy_and_never_the_input(built_workbooks: dict[int, Path],
                                                                    tmp_path: Path) -> None:
    wrong = fill.fill_workbook(built_workbooks[1030], tmp_path / "wrong.xlsm",
                               values={"KPI-03": {"q1_value": "สิบ"}}, report_quarter=1)
    before = sha256_file(wrong)
    out = tmp_path / "checked.xlsm"
    result = run("validate", wrong, "--annotate", out)
    assert result.exit_code == 1
    assert sha256_file(wrong) == before
    book = openpyxl.load_workbook(out, keep_vba=True)
    note = book["KPI-03"][load_spec().a1("q1_value")].comment
    assert note is not None and "KPI-E301" in note.text
    same = run("validate", wrong, "--annotate", wrong)
    assert same.exit_code == 2 and "KPI-E601" in same.output and "will not be overwritten" in same.output
    assert sha256_file(wrong) == before


def test_validate_annotate_checks_every_copys_place_before_any_work(built_workbooks: dict[int, Path],
                                                                    tmp_path: Path) -> None:
    """A mistyped --annotate never costs a file: another district's workbook named as the copy is
    refused (it was silently replaced), as is a copy that would land on an input, a copy written
    twice, a missing folder (not created with its parents), a file named as the folder of many
    copies, and an .xlsx name for an .xlsm; every refusal comes before any file is read."""
    a = fill.fill_workbook(built_workbooks[1030], tmp_path / "a" / "2564_1030.xlsm",
                           values={"KPI-03": {"q1_value": "สิบ"}}, report_quarter=1)
    b = fill.fill_workbook(built_workbooks[1001], tmp_path / "b" / "2564_1001.xlsm", values={}, report_quarter=1)
    twin = fill.fill_workbook(built_workbooks[1001], tmp_path / "c" / "2564_1030.xlsm", values={}, report_quarter=1)
    (tmp_path / "a" / "2564_1001_checked.xlsm").write_bytes(b.read_bytes())  # what a clerk left there
    before = {p: sha256_file(p) for p in tmp_path.rglob("*.xlsm")}
    cases = [
        ([a, "--annotate", b], "KPI-E608"),  # another district's workbook: was replaced silently
        ([b, tmp_path / "a" / "2564_1001_checked.xlsm", "--annotate", tmp_path / "a"], "KPI-E601"),  # b's copy
        ([b, a, "--annotate", tmp_path / "a"], "KPI-E608"),  # 2564_1001_checked.xlsm exists there
        ([a, twin, "--annotate", tmp_path / "out"], "KPI-E608"),  # both copies would be 2564_1030_checked
        ([a, b, "--annotate", tmp_path / "missing" / "deeper"], "KPI-E605"),
        ([a, b, "--annotate", b], "KPI-E607"),
        ([a, "--annotate", tmp_path / "copy.xlsx"], "KPI-E603"),
    ]
    for args, code in cases:
        done = run("validate", *args)
        assert done.exit_code == 2 and code in done.output, (args, done.output)
        assert "KPI-E301" not in done.output  # refused before a file was read
    assert {p: sha256_file(p) for p in tmp_path.rglob("*.xlsm")} == before
    assert not (tmp_path / "missing").exists() and not (tmp_path / "out").exists()
    done = run("validate", a, b, "--annotate", tmp_path / "marked")  # a new folder, one level: made
    assert done.exit_code == 1 and sorted(p.name for p in (tmp_path / "marked").iterdir()) == [
        "2564_1001_checked.xlsm", "2564_1030_checked.xlsm"]


# --- consolidate ------------------------------------------------------------------------------


def test_consolidate_prints_statuses_and_writes_the_summary(built_workbooks: dict[int, Path], tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    fill.fill_workbook(built_workbooks[1030], inbox / "chatuchak.xlsm", values={"KPI-05": fill.seed_values()},
                       report_quarter=4)
    shutil.copyfile(built_workbooks[1001], inbox / "~$lock.xlsm")
    out = tmp_path / "summary.xlsx"
    result = run("consolidate", inbox, "--catalog", SAMPLE_YAML, "--quarter", "4", "--out", out)
    assert result.exit_code == 1, result.output  # written, but 49 districts are missing
    assert result.output.strip().splitlines()[-1] == (
        "รับแล้ว 1 เขต · ถูกต้อง 0 · มีข้อผิดพลาด 1 · ยังไม่ส่ง 49 · เปิดไม่ได้ 0 แฟ้ม / "
        "received 1 · clean 0 · with errors 1 · missing 49 · unreadable 0 file(s)")
    assert "1030" in result.output and out.exists()
    book = openpyxl.load_workbook(out, read_only=True)
    assert "สถานะการส่ง" in book.sheetnames
    assert (tmp_path / "kpi_history.sqlite").exists()


def test_consolidate_on_a_missing_folder(tmp_path: Path) -> None:
    result = run("consolidate", tmp_path / "nope", "--catalog", SAMPLE_YAML, "--quarter", "1", "--out", tmp_path / "s.xlsx")
    assert result.exit_code == 2
    assert "folder not found" in result.output


def test_version() -> None:
    from kpi_xl import __version__

    result = run("--version")
    assert result.exit_code == 0 and result.output.strip() == f"kpi-xl {__version__}"


def _has_thai(text: str) -> bool:
    return any("\u0e00" <= ch <= "\u0e7f" for ch in text)


def test_lang_en_switches_every_word_of_consolidate_and_validate(built_workbooks: dict[int, Path],
                                                                 tmp_path: Path) -> None:
    """``--lang en``: titles, headers, severities, explanations and the final line in English; only what
    the districts themselves wrote (names of files) may stay Thai."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    book = fill.fill_workbook(built_workbooks[1030], inbox / "chatuchak.xlsm",
                              values={"KPI-05": fill.seed_values(), "KPI-01": {"q1_value": "abc"}},
                              report_quarter=4)
    result = run("consolidate", inbox, "--catalog", SAMPLE_YAML, "--quarter", "4", "--out", tmp_path / "s.xlsx",
                 "--lang", "en")
    assert result.exit_code == 1, result.output
    assert not _has_thai(result.output), result.output
    assert "submissions" in result.output and "Chatuchak" in result.output
    assert result.output.strip().splitlines()[-1] == (
        "received 1 · clean 0 · with errors 1 · missing 49 · unreadable 0 file(s)")
    result = run("validate", book, "--lang", "en")
    assert result.exit_code == 1
    assert not _has_thai(result.output.replace(book.name, "")), result.output
    assert "error" in result.output and "district weighted score" in result.output
    assert "→" in result.output  # the explanations, in English
    assert result.output.strip().splitlines()[-1].endswith("warning(s)")


def test_history_shows_labelled_columns_and_bangkok_time(built_workbooks: dict[int, Path], tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    fill.fill_workbook(built_workbooks[1030], inbox / "chatuchak.xlsm", values={"KPI-05": fill.seed_values()},
                       report_quarter=4)
    db = tmp_path / "h.sqlite"
    assert run("consolidate", inbox, "--catalog", SAMPLE_YAML, "--quarter", "4", "--out", tmp_path / "s.xlsx",
               "--db", db).exit_code == 1
    trend = run("history", "--district", "1030", "--db", db)
    assert trend.exit_code == 0, trend.output
    assert "คะแนน / score" in trend.output and "status_th" not in trend.output
    runs = run("history", "runs", "--db", db)
    assert "run at (Bangkok)" in runs.output
    from kpi_xl.history import runs_frame

    stored = runs_frame(db, every=True).iloc[0]["run_at"]  # naive UTC in the database
    bangkok = (stored + dt.timedelta(hours=7)).strftime("%Y-%m-%d %H:%M:%S")
    assert bangkok in runs.output
