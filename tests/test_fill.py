"""Filling a built workbook through its defined names, as the demo, the docs and other tests do."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest

from kpi_xl import fill, template, thai
from kpi_xl.files import sha256_file
from kpi_xl.form import load_spec

SPEC = load_spec()
SEED_PAGE = Path("/work/shared/reference/seed_report_form_chatuchak.md")


def _named_cell(book: openpyxl.Workbook, sheet: str, name: str) -> openpyxl.cell.Cell:
    (target, ref), = list(book[sheet].defined_names[name].destinations)
    return book[target][ref.replace("$", "")]


def test_values_land_in_the_named_cells_and_the_source_is_untouched(chatuchak_workbook: Path, tmp_path: Path) -> None:
    before = sha256_file(chatuchak_workbook)
    values = {
        "KPI-03": {"q1_value": 250, "q2_value": 512.5, "q1_report": "ปลูกต้นไม้ 250 ต้น", "signed_date": dt.date(2021, 1, 10)},
        "KPI-05": {"level_1": 1, "q1_report": "ประชุม 23 ธันวาคม 2563"},
    }
    out = fill.fill_workbook(chatuchak_workbook, tmp_path / "filled.xlsm", values=values, report_quarter=2)
    assert sha256_file(chatuchak_workbook) == before
    book = openpyxl.load_workbook(out, keep_vba=True)
    for sheet, named in values.items():
        for name, value in named.items():
            got = _named_cell(book, sheet, name).value
            assert (got.date() if isinstance(got, dt.datetime) else got) == value, (sheet, name)
    assert _named_cell(book, "KPI-03", "signed_date").number_format == thai.BE_DATE_FORMAT
    cover = book[SPEC.sheets["cover"]]
    assert cover[SPEC.workbook_names["report_quarter"].cell].value == 2


def test_macro_workbook_stays_a_macro_workbook(chatuchak_workbook: Path, tmp_path: Path) -> None:
    out = fill.fill_workbook(chatuchak_workbook, tmp_path / "filled.xlsm", values={"KPI-05": fill.seed_values()})
    with zipfile.ZipFile(chatuchak_workbook) as a, zipfile.ZipFile(out) as b:
        assert a.read("xl/vbaProject.bin") == b.read("xl/vbaProject.bin")
        assert b"macroEnabled" in b.read("[Content_Types].xml")
        vml = "".join(b.read(n).decode() for n in b.namelist() if n.endswith(".vml"))
    assert "<x:FmlaMacro>[0]!KpiValidate</x:FmlaMacro>" in vml


def test_unknown_sheet_or_name_is_refused(chatuchak_workbook: Path, tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="KPI-02"):  # not an indicator of Chatuchak
        fill.fill_workbook(chatuchak_workbook, tmp_path / "a.xlsm", values={"KPI-02": {"q1_value": 1}})
    with pytest.raises(KeyError, match="level_1"):  # a thresholds indicator has no levels
        fill.fill_workbook(chatuchak_workbook, tmp_path / "b.xlsm", values={"KPI-03": {"level_1": 1}})
    assert not list(tmp_path.iterdir())


def test_source_cannot_be_the_destination(chatuchak_workbook: Path, workbook_copy) -> None:
    copy = workbook_copy(chatuchak_workbook)
    with pytest.raises(ValueError):
        fill.fill_workbook(copy, copy, values={})


def test_long_paragraph_rows_grow(chatuchak_workbook: Path, tmp_path: Path) -> None:
    out = fill.fill_workbook(chatuchak_workbook, tmp_path / "f.xlsm", values={"KPI-05": fill.seed_values()})
    before = openpyxl.load_workbook(chatuchak_workbook)["KPI-05"]
    after = openpyxl.load_workbook(out)["KPI-05"]
    row = SPEC.addresses["q4_report"][0] + 1
    assert after.row_dimensions[row].height > before.row_dimensions[row].height
    assert after.row_dimensions[row].height >= 5 * template.LINE_HEIGHT  # five paragraphs in the seed's Q4


def test_macro_free_workbook_fills_too(built_xlsx_dir: Path, tmp_path: Path) -> None:
    src = sorted(built_xlsx_dir.glob("*_1030_*.xlsx"))[0]
    out = fill.fill_workbook(src, tmp_path / src.name, values={"KPI-05": {"level_1": 1}}, report_quarter=1)
    assert _named_cell(openpyxl.load_workbook(out), "KPI-05", "level_1").value == 1


def test_seed_values_are_consistent() -> None:
    seed = fill.seed_values()
    levels = [seed[f"level_{n}"] for n in range(1, 6)]
    assert levels == sorted(levels) and all(1 <= q <= 4 for q in levels)
    assert levels[-1] == fill.SEED_QUARTER and seed["result_value"] == 5
    assert thai.fiscal_year(seed["signed_date"]) == 2564
    assert seed["evidence"] == "เอกสารการดำเนินงาน"
    assert set(seed) <= set(f.name for f in SPEC.fields_for("milestone") if f.is_input)


@pytest.mark.skipif(not SEED_PAGE.exists(), reason="the shared seed page is not beside this checkout")
def test_seed_values_are_the_seed_word_for_word() -> None:
    page = re.sub(r"\s+", "", SEED_PAGE.read_text(encoding="utf-8"))
    seed = fill.seed_values()
    for name in ("q1_report", "q2_report", "q3_report", "q4_report", "support_factors", "evidence"):
        assert re.sub(r"\s+", "", seed[name]) in page, name
