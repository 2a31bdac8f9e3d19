"""Outputs are checked before any work, and every string written is text, never a formula.

One inbox (Chatuchak's seed page, quarter 4, plus a copy whose file name is a DDE formula and whose
narrative is ``=HYPERLINK(…)``) is shared by the module. Each mistyped ``--out`` must stop with
exit 2 and one coded bilingual message, with every file under the test folder byte-identical.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.worksheet.table import Table
from test_hq import _hq_template
from typer.testing import CliRunner

from kpi_xl import fill
from kpi_xl.catalog import Catalog
from kpi_xl.cli import app
from kpi_xl.consolidate import consolidate
from kpi_xl.files import check_output, stale_temps
from kpi_xl.problems import KpiError

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_YAML = ROOT / "workbook_templates" / "catalog_2564.yaml"
EVIL_NAME = "=cmd|' -C calc'!A0 1006.xlsm"
EVIL_TEXT = '=HYPERLINK("http://evil.example/x","คลิก")'


def _cli(*args: Any) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "400"})


def _tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` → SHA-256 (what "nothing written, nothing overwritten" means)."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _text_narrative(path: Path, sheet: str, name: str, text: str) -> None:
    """Type ``text`` as text (Excel's leading apostrophe), not as a formula, into a named cell."""
    book = openpyxl.load_workbook(path, keep_vba=True)
    ws = book[sheet]
    ((title, ref),) = ws.defined_names[name].destinations
    cell = book[title][ref.replace("$", "")]
    cell.value = text
    cell.data_type = "s"
    cell.quotePrefix = True
    book.save(path)


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory, chatuchak_workbook: Path) -> Path:
    folder = tmp_path_factory.mktemp("outputs") / "inbox"
    folder.mkdir()
    fill.fill_workbook(chatuchak_workbook, folder / chatuchak_workbook.name,
                       values={fill.SEED_SHEET: fill.seed_values()}, report_quarter=4)
    fill.fill_workbook(chatuchak_workbook, folder / EVIL_NAME,
                       values={fill.SEED_SHEET: fill.seed_values()}, report_quarter=4)
    _text_narrative(folder / EVIL_NAME, fill.SEED_SHEET, "q1_report", EVIL_TEXT)
    later = (folder / EVIL_NAME).stat().st_mtime + 100
    os.utime(folder / EVIL_NAME, (later, later))  # the copy head office uses: its narrative reaches the outputs
    return folder


@pytest.mark.parametrize(("out", "code", "message"), [
    ("inbox/2564_1030_Chatuchak.xlsm", "KPI-E601", "--out {inbox}/2564_1030_Chatuchak.xlsm is an input being read"),
    ("inbox/summary.xlsx", "KPI-E602", "--out {inbox}/summary.xlsx lies inside {inbox}, which is being read"),
    ("existing", "KPI-E604", "--out {tmp}/existing is a folder, not a file name — name a file in it, "
                             "e.g. {tmp}/existing/summary.xlsx"),
    ("summary.csv", "KPI-E603", "--out {tmp}/summary.csv must be a file name ending in .xlsx"),
    ("no/such/summary.xlsx", "KPI-E605", "the folder {tmp}/no/such of --out {tmp}/no/such/summary.xlsx does not exist"),
    ("/sys/summary.xlsx", "KPI-E606", "cannot write into /sys (Permission denied) for --out /sys/summary.xlsx"),
])
def test_a_wrong_out_stops_before_any_work(inbox: Path, tmp_path: Path, out: str, code: str, message: str) -> None:
    work = tmp_path
    shutil.copytree(inbox, work / "inbox")
    (work / "existing").mkdir()
    (work / "existing" / "old summary.xlsx").write_bytes(b"head office's earlier file")
    (work / "kpi_history.sqlite").write_bytes(b"not touched")
    before = _tree(work)
    target = out if out.startswith("/") else str(work / out)
    done = _cli("consolidate", work / "inbox", "--catalog", SAMPLE_YAML, "--quarter", "4", "--out", target,
                "--db", work / "kpi_history.sqlite")
    assert done.exit_code == 2, done.output
    lines = done.output.strip().splitlines()
    assert lines[0].startswith(code + " ") and len(lines) == 2
    assert message.format(inbox=work / "inbox", tmp=work) in lines[1], lines
    assert _tree(work) == before


def test_the_history_file_and_into_output_are_checked_too(inbox: Path, tmp_path: Path, sample_catalog: Catalog) -> None:
    with pytest.raises(KpiError) as db_in_inbox:
        consolidate(inbox, sample_catalog, 4, out=tmp_path / "s.xlsx", db=inbox / "kpi_history.sqlite", jobs=1)
    assert [p.code for p in db_in_inbox.value.problems] == ["KPI-E602"]
    with pytest.raises(KpiError) as into_over_input:
        consolidate(inbox, sample_catalog, 4, out=tmp_path / "s.xlsx", db=False, jobs=1,
                    into=_hq_template(tmp_path / "HQ.xlsx"), into_out=inbox / "2564_1030_Chatuchak.xlsm")
    assert [p.code for p in into_over_input.value.problems] == ["KPI-E601"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["HQ.xlsx"]
    with pytest.raises(KpiError) as folder:
        check_output(tmp_path, suffixes=None, option="--db")
    assert "name a file in it, e.g. " + str(tmp_path / "kpi_history.sqlite") in folder.value.problems[0].message_en


def test_build_out_must_be_a_folder(tmp_path: Path) -> None:
    (tmp_path / "a file").write_text("x")
    done = _cli("build", "--catalog", SAMPLE_YAML, "--out", tmp_path / "a file", "--districts", "1030", "--no-macros")
    assert done.exit_code == 2, done.output
    assert f"--out {tmp_path / 'a file'} is a file, not a folder" in done.output
    assert (tmp_path / "a file").read_text() == "x"


def test_stale_temps_of_a_killed_run_are_removed_and_only_ours(inbox: Path, tmp_path: Path,
                                                               sample_catalog: Catalog) -> None:
    ours = tmp_path / ".summary.k3x_9q2a.xlsx.tmp"
    other = tmp_path / ".summary.notours.tmp"
    fresh = tmp_path / ".summary.zzzzzzzz.xlsx.tmp"
    for path in (ours, other, fresh):
        path.write_bytes(b"half a zip")
    os.utime(ours, (1, 1))
    os.utime(other, (1, 1))
    assert stale_temps(tmp_path / "summary.xlsx", older_than=2) == [ours]
    consolidate(inbox, sample_catalog, 4, out=tmp_path / "summary.xlsx", db=False, jobs=1)
    assert not ours.exists() and other.exists() and fresh.exists()  # fresh: another run may be writing it


def _file_template(path: Path) -> Path:
    """Head office's table of problems with the file column (where a file name lands)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    for col, text in enumerate(["file", "code", "message"], start=1):
        ws.cell(row=1, column=col, value=text)
    ws.add_table(Table(displayName="kpi_problems", ref="A1:C2"))
    wb.save(path)
    return path


def test_file_names_and_narratives_are_written_as_text(inbox: Path, tmp_path: Path, sample_catalog: Catalog) -> None:
    into = _file_template(tmp_path / "HQ.xlsx")
    result = consolidate(inbox, sample_catalog, 4, out=tmp_path / "summary.xlsx", db=False, jobs=1, into=into)
    assert EVIL_NAME in set(result.submissions["file"])
    for path in (result.paths["summary"], result.paths["into"]):
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                if name.startswith("xl/worksheets/sheet"):
                    xml = z.read(name).decode()
                    assert "<f>cmd" not in xml and "<f>HYPERLINK" not in xml, (path, name)
        book = openpyxl.load_workbook(path)
        texts = {c.value for ws in book.worksheets for row in ws.iter_rows() for c in row
                 if isinstance(c.value, str) and c.data_type == "s"}
        formulas = [c.value for ws in book.worksheets for row in ws.iter_rows() for c in row if c.data_type == "f"]
        assert any(t.startswith(EVIL_NAME) or EVIL_NAME in t for t in texts), path
        assert not [f for f in formulas if "cmd|" in f or "HYPERLINK" in f], path
    data = openpyxl.load_workbook(result.paths["summary"])
    narratives = {c.value for ws in data.worksheets for row in ws.iter_rows() for c in row}
    assert EVIL_TEXT in narratives


def test_a_quarter_the_covers_contradict_is_refused(inbox: Path, tmp_path: Path) -> None:
    before = _tree(tmp_path)
    done = _cli("consolidate", inbox, "--catalog", SAMPLE_YAML, "--quarter", "3", "--out", tmp_path / "s.xlsx")
    assert done.exit_code == 2, done.output
    assert done.output.strip().splitlines()[-1].strip() == (
        "nothing written: quarter 3 was asked for, but 2 of 2 workbooks' covers say quarter 4 — "
        "use --quarter 4, or add --replace-history if this is intended")
    assert _tree(tmp_path) == before


def test_an_empty_inbox_leaves_the_history_unless_asked_and_can_be_undone(inbox: Path, tmp_path: Path) -> None:
    from kpi_xl import history

    out, db = tmp_path / "s.xlsx", tmp_path / "kpi_history.sqlite"  # the default: beside the summary
    first = _cli("consolidate", inbox, "--catalog", SAMPLE_YAML, "--quarter", "4", "--out", out)
    assert first.exit_code == 1, first.output  # written; most districts are missing
    (tmp_path / "empty").mkdir()
    before = _tree(tmp_path)
    refused = _cli("consolidate", tmp_path / "empty", "--catalog", SAMPLE_YAML, "--quarter", "4", "--out", out)
    assert refused.exit_code == 2, refused.output
    assert refused.output.strip().splitlines()[-1].strip() == (
        f"nothing written: {tmp_path / 'empty'} holds no Excel workbook (0 files); the 2564/Q4 history is unchanged — "
        "check the folder name; to record every district as missing on purpose add --replace-history")
    assert _tree(tmp_path) == before
    forced = _cli("consolidate", tmp_path / "empty", "--catalog", SAMPLE_YAML, "--quarter", "4", "--out", out,
                  "--replace-history")
    assert forced.exit_code == 1, forced.output
    assert history.current_run(db, 2564, 4)["received"] == 0  # type: ignore[index]
    assert _cli("history", "restore", "1", "--db", db).exit_code == 0
    assert history.current_run(db, 2564, 4)["received"] == 1  # type: ignore[index]
    assert list(history.runs_frame(db, every=True)["id"]) == [1, 2]
