"""`kpi-xl catalog check` and `convert`: exit codes, the table, every located error."""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
from typer.testing import CliRunner

from kpi_xl import catalog as cat_mod
from kpi_xl.catalog import INDICATOR_COLUMNS, INDICATOR_SHEET
from kpi_xl.cli import app

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_XLSX = ROOT / "workbook_templates" / "catalog_2564.xlsx"
runner = CliRunner()


def test_check_prints_the_indicators() -> None:
    result = runner.invoke(app, ["catalog", "check", str(SAMPLE_XLSX)], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    sample = cat_mod.load(SAMPLE_XLSX)
    for ind in sample.indicators:
        assert ind.code in result.output
    assert sample.content_hash in result.output
    assert "valid: 12 indicators" in result.output


def test_check_on_a_broken_copy_prints_every_located_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.xlsx"
    shutil.copy(SAMPLE_XLSX, path)
    wb = openpyxl.load_workbook(path)
    ws = wb[INDICATOR_SHEET[0]]
    keys = [k for k, *_ in INDICATOR_COLUMNS]
    ws.cell(row=7, column=keys.index("weight") + 1).value = 0
    ws.cell(row=3, column=keys.index("dimension") + 1).value = 12
    wb.save(path)
    result = runner.invoke(app, ["catalog", "check", str(path)], env={"COLUMNS": "250"})
    assert result.exit_code == 1
    weight = f"{cat_mod.column_letter(keys.index('weight'))}7"
    dim = f"{cat_mod.column_letter(keys.index('dimension'))}3"
    assert f"KPI-C024 [{INDICATOR_SHEET[0]}!{weight}]" in result.output
    assert f"KPI-C021 [{INDICATOR_SHEET[0]}!{dim}]" in result.output
    assert "[sheet 'indicators', row 7, column 'weight']" in result.output


def test_convert_round_trip_keeps_the_hash(tmp_path: Path) -> None:
    out = tmp_path / "c.yaml"
    assert runner.invoke(app, ["catalog", "convert", str(SAMPLE_XLSX), str(out)]).exit_code == 0
    assert cat_mod.load(out).content_hash == cat_mod.load(SAMPLE_XLSX).content_hash
    again = runner.invoke(app, ["catalog", "convert", str(SAMPLE_XLSX), str(out)])
    assert again.exit_code == 1 and "--force" in again.output
