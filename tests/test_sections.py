"""Sections: split Chatuchak by responsible section, fill the copies (one conflict planted), merge."""

from __future__ import annotations

import datetime as dt
import shutil
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from typer.testing import CliRunner

from kpi_xl import fill, libreoffice, sections
from kpi_xl.catalog import Catalog
from kpi_xl.cli import app
from kpi_xl.files import sha256_file
from kpi_xl.form import load_spec
from kpi_xl.reader import read_workbook
from kpi_xl.validate import validate_file

SPEC = load_spec()
ROOT = Path(__file__).resolve().parents[1]
SAMPLE_YAML = ROOT / "workbook_templates" / "catalog_2564.yaml"
GOV, COMMUNITY, FINANCE = "ฝ่ายปกครอง", "ฝ่ายพัฒนาชุมชนและสวัสดิการสังคม", "ฝ่ายการคลัง"
FILLS: dict[str, dict[str, dict[str, Any]]] = {
    GOV: {"KPI-05": {"level_1": 1, "level_2": 2, "q1_report": "ประชุม 23 ธันวาคม 2563",
                     "signer_name": "นางสาวสุภาพร ใจดี", "signed_date": dt.date(2021, 3, 30)},
          "KPI-01": {"q1_value": 95, "q1_report": "ร้อยละ 95"}},
    COMMUNITY: {"KPI-06": {"q1_value": 3, "q1_report": "จัดกิจกรรม 3 ครั้ง"}, "KPI-08": {"level_1": 1}},
    # the finance clerk lifted the protection and typed into the community section's sheet: the conflict
    FINANCE: {"KPI-10": {"q1_value": 78, "q1_report": "ร้อยละ 78"}, "KPI-06": {"q1_value": 5}},
}


def _named(book: openpyxl.Workbook, sheet: str, name: str) -> openpyxl.cell.Cell:
    (target, ref), = list(book[sheet].defined_names[name].destinations)
    return book[target][ref.replace("$", "")]


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory, sample_catalog: Catalog) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("split")
    paths = sections.build_sections(sample_catalog, out, [1030])
    return {read_workbook(p).meta["section"].raw: p for p in paths}


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory, split: dict[str, Path]) -> Path:
    inbox = tmp_path_factory.mktemp("returned")
    for section, path in split.items():
        target = inbox / path.name
        if section in FILLS:
            fill.fill_workbook(path, target, values=FILLS[section])
        elif section == sections.COORDINATOR:
            fill.fill_workbook(path, target, values={}, report_quarter=2)
        else:
            shutil.copyfile(path, target)
    return inbox


def test_each_section_gets_its_indicators_fillable_and_the_others_read_only(sample_catalog: Catalog,
                                                                             split: dict[str, Path]) -> None:
    owners = sections.sections_of(sample_catalog, 1030)
    assert set(split) == {*owners, sections.COORDINATOR}
    assert owners[GOV] == ["KPI-01", "KPI-05", "KPI-11"]
    for section, path in split.items():
        book = openpyxl.load_workbook(path)
        mine = set(owners.get(section, []))
        for ind in sample_catalog.for_district(1030):
            ws = book[ind.code]
            assert ws.protection.sheet, (section, ind.code)
            assert _named(book, ind.code, "q1_report").protection.locked == (ind.code not in mine), (section, ind.code)
        assert section in book[SPEC.sheets["cover"]]["A5"].value
        meta = validate_file(path).meta
        assert meta is not None and meta.section == section and meta.checksum_ok


def test_merge_takes_each_indicator_from_its_owner_and_reports_the_conflict(filled: Path, sample_catalog: Catalog,
                                                                          tmp_path: Path) -> None:
    before = {p: sha256_file(p) for p in filled.iterdir()}
    out = tmp_path / "2564_1030_Chatuchak.xlsm"
    result = sections.merge_parts([filled], out)
    assert {p: sha256_file(p) for p in filled.iterdir()} == before
    book = openpyxl.load_workbook(out)
    for section, named in FILLS.items():
        for code, values in named.items():
            for name, value in values.items():
                got = _named(book, code, name).value
                if (code, name) == ("KPI-06", "q1_value"):
                    assert got is None  # not silently chosen
                    continue
                got = got.date() if isinstance(got, dt.datetime) else got
                assert got == value, (section, code, name)
    assert book[SPEC.sheets["cover"]][SPEC.workbook_names["report_quarter"].cell].value == 2  # the coordinator's
    (conflict,) = result.conflicts
    assert (conflict.code, conflict.name) == ("KPI-06", "q1_value")
    cell = SPEC.a1("q1_value")
    assert [(Path(f.file).name.split("__")[1], f.where, f.value) for f in conflict.found] == [
        (f"{COMMUNITY}.xlsm", f"KPI-06!{cell}", 3), (f"{FINANCE}.xlsm", f"KPI-06!{cell}", 5)]
    (reported,) = result.problems
    assert reported.code == "KPI-E621" and reported.location.sheet == "KPI-06" and reported.location.cell == cell
    assert FINANCE in reported.location.file
    assert f"{COMMUNITY}.xlsm KPI-06!{cell}" in reported.message_th and f"{FINANCE}.xlsm KPI-06!{cell}" in reported.message_en
    rows = [[c.value for c in r] for r in book[SPEC.sheets["conflicts"]].iter_rows(min_row=3)]
    assert [(r[1], r[4], r[5]) for r in rows] == [("KPI-06", f"KPI-06!{cell}", "3"), ("KPI-06", f"KPI-06!{cell}", "5")]
    report = validate_file(out)
    assert report.readable and not [p for p in report.problems if p.code.startswith("KPI-E1")]
    for ind in sample_catalog.for_district(1030):  # the merged workbook is a whole one: names, inputs open
        names = {n: list(d.destinations)[0][1].replace("$", "") for n, d in book[ind.code].defined_names.items()}
        assert names == {f.name: SPEC.a1(f.name) for f in SPEC.fields_for(ind.scoring.value)}
        assert not _named(book, ind.code, "q1_report").protection.locked
    with zipfile.ZipFile(out) as package:
        assert "xl/vbaProject.bin" in package.namelist()
    assert report.meta is not None and report.meta.section == ""  # a whole workbook again


def test_parts_of_another_district_are_refused_with_a_located_error(filled: Path, sample_catalog: Catalog,
                                                                     tmp_path: Path) -> None:
    other = sections.build_sections(sample_catalog, tmp_path / "other", [1001])[0]
    out = tmp_path / "merged.xlsm"
    with pytest.raises(sections.MergeError) as caught:
        sections.merge_parts([filled, other], out)
    (refused,) = caught.value.problems
    assert refused.code == "KPI-E108" and refused.location.file == str(other)
    assert refused.location.sheet == SPEC.meta_sheet and refused.location.cell
    assert not out.exists()


def test_a_whole_workbook_or_a_section_twice_is_refused(filled: Path, chatuchak_workbook: Path, tmp_path: Path) -> None:
    with pytest.raises(sections.MergeError) as caught:
        sections.merge_parts([filled, chatuchak_workbook], tmp_path / "a.xlsm")
    assert [p.code for p in caught.value.problems] == ["KPI-E622"]
    twice = tmp_path / "twice"
    twice.mkdir()
    one = next(filled.glob(f"*{FINANCE}*"))
    shutil.copyfile(one, twice / "copy.xlsm")
    with pytest.raises(sections.MergeError) as caught:
        sections.merge_parts([filled, twice], tmp_path / "b.xlsm")
    assert [p.code for p in caught.value.problems] == ["KPI-E623"]
    with pytest.raises(sections.MergeError) as caught:
        sections.merge_parts([filled], one)
    assert caught.value.problems[0].code == "KPI-E601"


@pytest.mark.libreoffice
def test_libreoffice_opens_a_section_copy_and_the_merged_workbook(split: dict[str, Path], filled: Path,
                                                                   tmp_path: Path) -> None:
    merged = sections.merge_parts([filled], tmp_path / "2564_1030_Chatuchak.xlsm").target
    for path in (split[GOV], merged):
        pdf = libreoffice.convert(path, "pdf", tmp_path / path.stem)
        assert pdf.read_bytes().startswith(b"%PDF")


def test_cli_split_and_merge(filled: Path, tmp_path: Path) -> None:
    env = {"COLUMNS": "250"}
    built = CliRunner().invoke(app, ["build", "--catalog", str(SAMPLE_YAML), "--out", str(tmp_path / "parts"),
                                     "--districts", "1030", "--split-by", "responsible"], env=env)
    assert built.exit_code == 0, built.output
    assert "built 8 section copies" in built.output
    wrong = CliRunner().invoke(app, ["build", "--catalog", str(SAMPLE_YAML), "--out", str(tmp_path / "x"),
                                     "--split-by", "name_th"], env=env)
    assert wrong.exit_code == 2 and "--split-by" in wrong.output
    merged = CliRunner().invoke(app, ["merge", str(filled), "--out", str(tmp_path / "d.xlsm")], env=env)
    assert merged.exit_code == 1 and "KPI-E621" in merged.output
    assert (tmp_path / "d.xlsm").exists()


def test_a_section_copy_is_checked_for_its_own_indicators_only(filled: Path, sample_catalog: Catalog) -> None:
    gov = next(filled.glob(f"*__{GOV}.xlsm"))
    missing = {p.location.sheet for p in validate_file(gov, quarter=1).problems if p.code == "KPI-E201"}
    assert missing and missing <= set(sections.sections_of(sample_catalog, 1030)[GOV])  # KPI-11 is still empty
    assert "KPI-11" in missing
    finance = next(filled.glob(f"*__{FINANCE}.xlsm"))
    other = {p.location.sheet for p in validate_file(finance, quarter=1).problems if p.code == "KPI-E201"}
    assert "KPI-11" not in other and other <= {"KPI-10"}


def test_head_office_is_told_when_a_section_copy_arrives_instead_of_the_merged_workbook(
        filled: Path, sample_catalog: Catalog, tmp_path: Path) -> None:
    from kpi_xl.consolidate import consolidate

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copyfile(next(filled.glob(f"*__{GOV}.xlsm")), inbox / "2564_1030_Chatuchak.xlsm")
    result = consolidate(inbox, sample_catalog, 1, db=False, jobs=1)
    found = result.problems[result.problems["code"] == "KPI-W620"]
    assert len(found) == 1 and found.iloc[0]["sheet"] == SPEC.meta_sheet and GOV in found.iloc[0]["message_th"]
