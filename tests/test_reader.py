"""The reader: real files in, RawWorkbook out — by the workbook's own defined names.

Three layers:

- small workbooks written here with XlsxWriter (names of both scopes, a metadata sheet, Thai text,
  BE dates, formula errors, empty leading rows), read back and checked against openpyxl as an
  independent oracle of "what is at that address";
- bad input (empty, truncated zip, not a zip, old .xls, encrypted, unrelated workbook, missing
  file): exactly one located problem, never a traceback, and the file untouched;
- workbooks built by ``kpi_xl.template`` and filled by ``kpi_xl.fill``: every contract value comes
  back at the form spec's address, and still does after LibreOffice inserted rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import shutil
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import xlsxwriter

from kpi_xl import fill, libreoffice, reader
from kpi_xl.catalog import Catalog
from kpi_xl.form import load_spec
from kpi_xl.model import RawWorkbook, catalog_to_json, meta_rows, parse_meta
from kpi_xl.reader import ReadError, parse_reference, read_workbook

SPEC = load_spec()
META = SPEC.meta_sheet
COVER = SPEC.sheets["cover"]
BE_DATE = "[$-107041E]d mmmm yyyy;@"
THAI_Q1 = ("สำนักงานเขตจตุจักรโดย ฝ่ายปกครองได้เชิญภาคประชาสังคมเขตจตุจักรประชุม\n"
           "วันที่ 23 ธันวาคม 2563 เวลา 09.30-12.00 น. ณ ห้องประชุมชั้น ๙")
SAVED = dt.datetime(2021, 9, 30, 16, 45, 12)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def small_meta_rows() -> list[tuple[str, str]]:
    return meta_rows(template_version=SPEC.template_version, fiscal_year=2564, district_code=1030,
                     district_name_th="จตุจักร", district_name_en="Chatuchak", catalog_hash="ab" * 32,
                     indicator_codes=["KPI-05", "KPI 'A' ๒"], build_time="2020-10-01T00:00:00Z",
                     catalog_json='{"indicators": ["ตัวชี้วัด"]}')


def write_small(path: Path, *, meta: bool = True, kpi_names: bool = True) -> Path:
    """A workbook shaped like a kpi-xl one, small enough to know every cell.

    KPI-05's first used cell is C5 (rows 1–4, columns A–B empty): A1 addresses must still map 1:1.
    The second indicator sheet's name needs quoting (space and apostrophe).
    """
    book = xlsxwriter.Workbook(str(path))
    book.set_properties({"created": SAVED})
    be_date = book.add_format({"num_format": BE_DATE})
    cover = book.add_worksheet(COVER)
    cover.write("A1", "คำชี้แจง")
    cover.write_number("C9", 2)
    book.define_name("report_quarter", f"='{COVER}'!$C$9")

    kpi = book.add_worksheet("KPI-05")
    kpi.write_string("C5", "KPI-05")
    kpi.merge_range("C6:F6", "ระดับความสำเร็จของการสร้างเครือข่ายประชาสังคม")
    kpi.write_number("D8", 5)
    kpi.write_string("E8", THAI_Q1)
    kpi.write_number("D9", 87.25)
    kpi.write_string("E9", "๕")
    kpi.write_datetime("D12", dt.datetime(2021, 9, 30), be_date)
    kpi.write_formula("E12", "=1/0", None, "#DIV/0!")  # a clerk's formula that fails
    kpi.write_formula("H12", '=VLOOKUP("x",D8:D9,2,FALSE)', None, "#N/A")  # the sheet's last column
    kpi.write_formula("F12", "=D9*2", None, 174.5)  # a cached value: returned as it is
    kpi.write_formula("G12", '=IF(D8>=5,"ผ่าน","ไม่ผ่าน")', None, "ผ่าน")
    kpi.write_blank("D13", None, be_date)  # formatted but empty
    names = {
        "kpi_code": "$C$5", "kpi_name": "$C$6:$F$6", "result_value": "$D$8", "q1_report": "$E$8",
        "q1_value": "$D$9", "q2_value": "$E$9", "signed_date": "$D$12", "q3_value": "$E$12",
        "score": "$F$12", "target_met": "$G$12", "q4_value": "$H$12", "signer_name": "$D$13", "far_away": "$AA$900",
    }
    if not kpi_names:
        names.pop("kpi_code")
    for name, ref in names.items():
        book.define_name(f"'KPI-05'!{name}", f"='KPI-05'!{ref}")
    book.define_name("'KPI-05'!broken", "='KPI-05'!#REF!")
    book.define_name("'KPI-05'!constant", "=0.5")

    other = book.add_worksheet("KPI 'A' ๒")
    other.write("B2", "KPI 'A' ๒")
    other.write("B3", "ข้อความภาษาไทย")
    if kpi_names:
        book.define_name("KPI 'A' ๒!kpi_code", "='KPI ''A'' ๒'!$B$2")
    book.define_name("KPI 'A' ๒!kpi_name", "='KPI ''A'' ๒'!$B$3")
    book.define_name("KPI 'A' ๒!from_cover", f"='{COVER}'!$A$1")  # scoped here, points elsewhere

    plain = book.add_worksheet("สรุป")
    plain.write("A1", "สรุป")
    book.define_name("'สรุป'!total", "='สรุป'!$A$1")  # a sheet-scoped name on a non-indicator sheet

    if meta:
        sheet = book.add_worksheet(META)
        rows = small_meta_rows()
        for r, (key, value) in enumerate(rows):
            sheet.write_string(r, 0, key)
            sheet.write_string(r, 1, value)
            if key in ("district_code", "fiscal_year", "template_version"):
                book.define_name(key, f"='{META}'!$B${r + 1}")
        sheet.hide()
    kpi.print_area("A1:G20")  # a built-in name (_xlnm.Print_Area) that is not a contract cell
    book.close()
    return path


@pytest.fixture
def small(tmp_path: Path) -> Path:
    return write_small(tmp_path / "small.xlsx")


def openpyxl_value(path: Path, sheet: str, a1: str) -> Any:
    book = openpyxl.load_workbook(path, data_only=True)
    return book[sheet][a1].value


# ---------------------------------------------------------------------------------------------
# Small workbooks


def test_reads_sheet_and_workbook_names_meta_and_sheet_list(small: Path) -> None:
    raw = read_workbook(small)
    assert isinstance(raw, RawWorkbook)
    assert raw.file == str(small)
    assert raw.sheet_names == [COVER, "KPI-05", "KPI 'A' ๒", "สรุป", META]
    assert list(raw.sheets) == ["KPI-05", "KPI 'A' ๒"]  # only sheets with a sheet-scoped kpi_code

    kpi = raw.sheets["KPI-05"]
    assert {n: (c.sheet, c.cell, c.raw) for n, c in kpi.items()} == {
        "kpi_code": ("KPI-05", "C5", "KPI-05"),
        "result_value": ("KPI-05", "D8", 5.0),
        "q1_report": ("KPI-05", "E8", THAI_Q1),
        "q1_value": ("KPI-05", "D9", 87.25),
        "q2_value": ("KPI-05", "E9", "๕"),
        "signed_date": ("KPI-05", "D12", dt.date(2021, 9, 30)),
        "q3_value": ("KPI-05", "E12", "#DIV/0!"),
        "q4_value": ("KPI-05", "H12", "#N/A"),
        "score": ("KPI-05", "F12", 174.5),
        "target_met": ("KPI-05", "G12", "ผ่าน"),
        "signer_name": ("KPI-05", "D13", None),
        "far_away": ("KPI-05", "AA900", None),  # beyond the used range: blank, not an error
    }
    assert all(c.name == n for n, c in kpi.items())
    # A contract name on a range (C6:F6) is not read: it is reported where it points (KPI-E115).
    assert "kpi_name" not in kpi
    assert [(p.code, p.location.sheet, p.location.name, p.params["value"]) for p in raw.problems] == [
        ("KPI-E115", "KPI-05", "kpi_name", "'KPI-05'!C6:F6")]
    assert "broken" not in kpi and "constant" not in kpi  # not cells: the validator sees them missing
    other = raw.sheets["KPI 'A' ๒"]
    assert other["kpi_code"].raw == "KPI 'A' ๒"
    assert other["kpi_name"].raw == "ข้อความภาษาไทย"
    assert (other["from_cover"].sheet, other["from_cover"].cell, other["from_cover"].raw) == (COVER, "A1", "คำชี้แจง")

    rows = small_meta_rows()
    assert {n: (c.sheet, c.cell, c.raw) for n, c in raw.workbook_cells.items()} == {
        "report_quarter": (COVER, "C9", 2.0),
        "template_version": (META, f"B{[k for k, _ in rows].index('template_version') + 1}", SPEC.template_version),
        "fiscal_year": (META, f"B{[k for k, _ in rows].index('fiscal_year') + 1}", "2564"),
        "district_code": (META, f"B{[k for k, _ in rows].index('district_code') + 1}", "1030"),
    }
    assert list(raw.meta) == [k for k, _ in rows]
    assert {k: (c.sheet, c.cell, c.raw) for k, c in raw.meta.items()} == {
        k: (META, f"B{r + 1}", v) for r, (k, v) in enumerate(rows)
    }
    assert parse_meta(raw.meta).checksum_ok
    assert raw.modified == SAVED.replace(tzinfo=dt.UTC)


def test_a1_addresses_agree_with_openpyxl(small: Path) -> None:
    """skip_empty_area=False keeps A1 at [0][0]: every cell equals what openpyxl finds there."""
    raw = read_workbook(small)
    book = openpyxl.load_workbook(small, data_only=True)
    checked = 0
    for cells in raw.sheets.values():
        for cell in cells.values():
            expected = book[cell.sheet][cell.cell].value
            if isinstance(expected, dt.datetime):
                expected = expected.date()
            if cell.name in ("q3_value", "q4_value"):
                assert expected in ("#DIV/0!", "#N/A")
            if cell.name in ("score", "target_met"):
                continue  # openpyxl reads XlsxWriter's cached formula values the same; skip types
            assert cell.raw == expected, cell
            checked += 1
    assert checked >= 10


def test_workbook_is_kpi_by_meta_sheet_alone_or_by_kpi_code_alone(tmp_path: Path) -> None:
    only_meta = read_workbook(write_small(tmp_path / "meta_only.xlsx", kpi_names=False))
    assert only_meta.sheets == {} and only_meta.meta
    only_names = read_workbook(write_small(tmp_path / "names_only.xlsx", meta=False))
    assert only_names.meta == {} and list(only_names.sheets) == ["KPI-05", "KPI 'A' ๒"]
    assert set(only_names.workbook_cells) == {"report_quarter"}


def rewrite_member(src: Path, dst: Path, member: str, edit: Callable[[str], str]) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == member:
                data = edit(data.decode("utf-8")).encode("utf-8")
            zout.writestr(info, data)
    return dst


def test_names_written_the_libreoffice_way(small: Path, tmp_path: Path) -> None:
    """Attributes in another order, quotes as &apos;, extra attributes: the same cells come back."""
    def libreoffice_style(xml: str) -> str:
        xml = xml.replace("<definedName name=", '<definedName function="false" hidden="false" name=')
        xml = xml.replace(' localSheetId="1">', ' localSheetId="1" vbProcedure="false">')
        return xml.replace(">'KPI-05'!", ">&apos;KPI-05&apos;!")

    styled = rewrite_member(small, tmp_path / "styled.xlsx", "xl/workbook.xml", libreoffice_style)
    assert "&apos;KPI-05&apos;" in zipfile.ZipFile(styled).read("xl/workbook.xml").decode()
    styled_raw, small_raw = read_workbook(styled), read_workbook(small)
    assert styled_raw.model_dump(exclude={"file", "problems"}) == small_raw.model_dump(exclude={"file", "problems"})
    assert [p.message_en for p in styled_raw.problems] == [p.message_en for p in small_raw.problems]


def test_missing_core_properties_gives_no_modified(small: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare.xlsx"
    with zipfile.ZipFile(small) as zin, zipfile.ZipFile(bare, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename != "docProps/core.xml":
                zout.writestr(info, zin.read(info.filename))
    raw = read_workbook(bare)
    assert raw.modified is None
    assert raw.sheets["KPI-05"]["q1_report"].raw == THAI_Q1


@pytest.mark.parametrize(("text", "expected"), [
    ("'KPI-05'!$B$3", ("KPI-05", "B3")),
    ("_kpi_meta!$B$2", ("_kpi_meta", "B2")),
    ("='คำชี้แจง'!C9", ("คำชี้แจง", "C9")),
    ("'KPI ''A'' ๒'!$B$3:$F$3", ("KPI 'A' ๒", "B3")),
    ("'KPI-05'!#REF!", None),
    ("#REF!", None),
    ("0.5", None),
    ("'KPI-05'!$1:$2", None),
    ("'KPI-05'!$B$3,'KPI-05'!$B$4", None),
    ("[1]Sheet1!$A$1", None),
    ("'KPI-05'!$B$0", None),
])
def test_parse_reference(text: str, expected: tuple[str, str] | None) -> None:
    assert parse_reference(text) == expected


def test_import_stays_light() -> None:
    """The Excel button's path: importing the reader must not pull pandas or openpyxl."""
    import subprocess
    import sys

    code = ("import sys, kpi_xl.reader; "
            "print(','.join(m for m in ('pandas', 'openpyxl', 'olefile', 'numpy') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


# ---------------------------------------------------------------------------------------------
# Bad input: one located problem, no traceback, the file untouched


def _encrypted(src: Path, dst: Path) -> Path:
    from msoffcrypto.format.ooxml import OOXMLFile

    with open(src, "rb") as plain, open(dst, "wb") as out:
        OOXMLFile(plain).encrypt("รหัสผ่าน123", out)
    return dst


def _unrelated(dst: Path) -> Path:
    book = openpyxl.Workbook()
    book.active["A1"] = "งบประมาณ"
    book.create_sheet("Sheet2")["B2"] = 42
    book.save(dst)
    return dst


def _ole_header_only(dst: Path) -> Path:
    """An .xls cut short: the OLE2 signature and header, nothing olefile can parse further."""
    dst.write_bytes(reader.OLE2_MAGIC + b"\x00" * 16 + b"\x3e\x00\x03\x00\xfe\xff\x09\x00" + b"\x00" * 480)
    return dst


def _docx_like(dst: Path) -> Path:
    with zipfile.ZipFile(dst, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<document/>")
    return dst


def _xlsb_like(dst: Path) -> Path:
    with zipfile.ZipFile(dst, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.bin", b"\x83\x01\x00")
    return dst


BAD_INPUTS: dict[str, tuple[Callable[[Path, Path], Path], str, str]] = {
    "empty": (lambda src, d: (d.write_bytes(b""), d)[1], "KPI-E100", "empty"),
    "truncated zip": (lambda src, d: (d.write_bytes(src.read_bytes()[: src.stat().st_size // 2]), d)[1],
                      "KPI-E100", "zip"),
    "zip with a damaged member": (
        lambda src, d: (d.write_bytes(_damage_member(src.read_bytes(), "xl/worksheets/sheet2.xml")), d)[1],
        "KPI-E100", "damaged"),
    "text renamed .xlsx": (lambda src, d: (d.write_text("district,score\n1030,5\n"), d)[1], "KPI-E100",
                           "not an Excel workbook"),
    "zip that is no workbook": (lambda src, d: _docx_like(d), "KPI-E100", "not an Excel workbook"),
    "binary .xlsb": (lambda src, d: _xlsb_like(d), "KPI-E100", ".xlsb"),
    "old .xls header": (lambda src, d: _ole_header_only(d), "KPI-E101", ""),
    "encrypted": (lambda src, d: _encrypted(src, d), "KPI-E102", ""),
    "unrelated xlsx": (lambda src, d: _unrelated(d), "KPI-E103", ""),
}


def _damage_member(data: bytes, member: str) -> bytes:
    """Flip bytes inside one member's compressed data, leaving the zip directory intact."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        info = z.getinfo(member)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    body = bytearray(data)
    for i in range(start + 2, start + min(info.compress_size, 60)):
        body[i] ^= 0x5A
    return bytes(body)


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_gives_one_located_problem(case: str, small: Path, tmp_path: Path) -> None:
    make, code, detail = BAD_INPUTS[case]
    bad = make(small, tmp_path / "bad.xlsx")
    before = sha256(bad), bad.stat().st_mtime_ns
    with pytest.raises(ReadError) as caught:
        read_workbook(bad)
    error = caught.value
    assert len(error.problems) == 1
    assert error.code == code == error.problem.code
    assert error.problem.location.file == str(bad)
    assert error.problem.message_th.startswith(f"[{bad}]")
    assert detail.lower() in error.problem.message_en.lower()
    assert (sha256(bad), bad.stat().st_mtime_ns) == before


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ReadError) as caught:
        read_workbook(tmp_path / "ไม่มี.xlsx")
    assert caught.value.code == "KPI-E100"
    assert "file not found" in caught.value.problem.message_en
    with pytest.raises(ReadError) as caught:
        read_workbook(tmp_path)
    assert caught.value.code == "KPI-E100"
    assert "folder" in caught.value.problem.message_en


def test_encrypted_is_told_apart_from_xls_without_olefile(small: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """If olefile cannot be imported, the UTF-16 directory entry name still gives E102."""
    import builtins

    encrypted = _encrypted(small, tmp_path / "locked.xlsx")
    real_import = builtins.__import__

    def no_olefile(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "olefile":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_olefile)
    with pytest.raises(ReadError) as caught:
        read_workbook(encrypted)
    assert caught.value.code == "KPI-E102"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_permission(small: Path) -> None:  # pragma: no cover - CI runs as a user
    small.chmod(0)
    try:
        with pytest.raises(ReadError) as caught:
            read_workbook(small)
        assert caught.value.code == "KPI-E100"
    finally:
        small.chmod(0o644)


def test_read_only_file_is_read_and_left_alone(small: Path) -> None:
    before = sha256(small), small.stat().st_mtime_ns
    small.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    try:
        assert read_workbook(small).sheets["KPI-05"]["kpi_code"].raw == "KPI-05"
    finally:
        small.chmod(0o644)
    assert (sha256(small), small.stat().st_mtime_ns) == before


@pytest.mark.libreoffice
def test_real_xls_saved_by_libreoffice(small: Path, tmp_path: Path) -> None:
    xls = libreoffice.convert(small, "xls", tmp_path)
    assert xls.read_bytes()[:8] == reader.OLE2_MAGIC
    with pytest.raises(ReadError) as caught:
        read_workbook(xls)
    assert caught.value.code == "KPI-E101"
    assert len(caught.value.problems) == 1


# ---------------------------------------------------------------------------------------------
# Built by the template, filled like a clerk would


def every_input(catalog: Catalog, code: int) -> dict[str, dict[str, Any]]:
    """A distinct, typed value for every input cell of every indicator sheet of the district."""
    values: dict[str, dict[str, Any]] = {}
    for i, ind in enumerate(catalog.for_district(code)):
        named: dict[str, Any] = {}
        for j, field in enumerate(SPEC.fields_for(ind.scoring.value)):
            if not field.is_input:
                continue
            if field.type == "number":
                named[field.name] = round(10 * i + j + 0.25, 2)
            elif field.type == "quarter":
                named[field.name] = 1 + (i + j) % 4
            elif field.type == "date":
                named[field.name] = dt.date(2021, 1 + i % 9, 1 + j % 28)
            else:
                named[field.name] = f"{ind.code} {field.label_th}\nบรรทัดที่ ๒: {THAI_Q1} ({i}, {j})"
        values[ind.code] = named
    return values


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory, chatuchak_workbook: Path,
           sample_catalog: Catalog) -> tuple[Path, dict[str, dict[str, Any]]]:
    values = every_input(sample_catalog, 1030)
    out = tmp_path_factory.mktemp("reader_filled") / chatuchak_workbook.name
    fill.fill_workbook(chatuchak_workbook, out, values=values, report_quarter=3)
    return out, values


def expected_raw(value: Any) -> Any:
    return float(value) if isinstance(value, int | float) else value


def test_built_and_filled_reads_every_contract_value_at_the_spec_address(
        filled: tuple[Path, dict[str, dict[str, Any]]], sample_catalog: Catalog) -> None:
    path, values = filled
    before = sha256(path)
    raw = read_workbook(path)
    assert sha256(path) == before
    indicators = sample_catalog.for_district(1030)
    assert list(raw.sheets) == [ind.code for ind in indicators]
    for ind in indicators:
        cells = raw.sheets[ind.code]
        fields = SPEC.fields_for(ind.scoring.value)
        assert set(cells) == {f.name for f in fields}, ind.code
        for field in fields:
            cell = cells[field.name]
            assert (cell.name, cell.sheet, cell.cell) == (field.name, ind.code, SPEC.a1(field.name))
            if field.is_input:
                assert cell.raw == expected_raw(values[ind.code][field.name]), (ind.code, field.name)
        assert cells["kpi_code"].raw == ind.code
        assert cells["kpi_name"].raw == ind.name_th
        assert cells["target_value"].raw == ind.target
        assert cells["target_unit"].raw == ind.unit

    assert raw.workbook_cells["report_quarter"].raw == 3.0
    assert raw.workbook_cells["report_quarter"].sheet == COVER
    meta = parse_meta(raw.meta)
    assert meta.checksum_ok and meta.district_code == 1030
    assert meta.catalog_json == catalog_to_json(sample_catalog)
    assert raw.workbook_cells["district_code"].raw == "1030"
    assert raw.workbook_cells["fiscal_year"].raw == str(sample_catalog.fiscal_year)
    assert raw.workbook_cells["template_version"].raw == SPEC.template_version
    assert raw.modified is not None and raw.modified.tzinfo is dt.UTC


def test_seed_page_thai_text_and_date_survive(seed_filled_workbook: Path) -> None:
    cells = read_workbook(seed_filled_workbook).sheets[fill.SEED_SHEET]
    for name, value in fill.seed_values().items():
        assert cells[name].raw == expected_raw(value), name
    assert "\n" in cells["q2_report"].raw and "23 ธันวาคม 2563" in cells["q1_report"].raw
    assert cells["signed_date"].raw == dt.date(2021, 9, 30)


def test_cached_formula_values_are_returned_raw(chatuchak_workbook: Path, sample_catalog: Catalog) -> None:
    """The builder caches values for its formulas; the reader hands them over untouched (the
    validator recomputes score and target_met and never trusts them)."""
    raw = read_workbook(chatuchak_workbook)
    book = openpyxl.load_workbook(chatuchak_workbook, data_only=True)
    for ind in sample_catalog.for_district(1030):
        for name in ("score", "target_met", "year_value"):
            cell = raw.sheets[ind.code][name]
            cached = book[ind.code][cell.cell].value
            assert cell.raw == (None if cached == "" else cached), (ind.code, name)


@pytest.mark.libreoffice
def test_rows_inserted_by_libreoffice_read_the_same_values(
        filled: tuple[Path, dict[str, dict[str, Any]]], tmp_path: Path) -> None:
    path, values = filled
    moved_sheet = "KPI-05"
    insert_at = int(SPEC.a1("level_1")[1:])  # above the milestone levels: later rows move
    cover_at = 1  # the cover's first row: report_quarter moves too
    moved = tmp_path / path.name
    libreoffice.run_uno(path, [
        {"op": "insert_rows", "sheet": moved_sheet, "row": insert_at, "count": 3},
        {"op": "insert_rows", "sheet": COVER, "row": cover_at, "count": 2},
    ], moved)

    before, after = read_workbook(path), read_workbook(moved)
    assert after.sheet_names == before.sheet_names
    assert after.meta == before.meta
    for sheet, cells in before.sheets.items():
        for name, cell in cells.items():
            new = after.sheets[sheet][name]
            field = SPEC.fields[name]
            row = int(cell.cell[1:])
            shift = 3 if sheet == moved_sheet and row >= insert_at else 0
            assert new.cell == f"{cell.cell[0]}{row + shift}", (sheet, name)
            if field.is_input or field.type == "fixed":
                assert new.raw == cell.raw, (sheet, name)
    assert after.sheets[moved_sheet]["level_1"].raw == expected_raw(values[moved_sheet]["level_1"])
    quarter = after.workbook_cells["report_quarter"]
    assert quarter.cell == f"{before.workbook_cells['report_quarter'].cell[0]}" \
                           f"{int(before.workbook_cells['report_quarter'].cell[1:]) + 2}"
    assert quarter.raw == 3.0
    # an independent look at the moved file: openpyxl finds the same values where the names point
    book = openpyxl.load_workbook(moved, data_only=True)
    for name, cell in after.sheets[moved_sheet].items():
        if SPEC.fields[name].is_input:
            found = book[cell.sheet][cell.cell].value
            found = found.date() if isinstance(found, dt.datetime) else found
            assert expected_raw(found) == cell.raw, name


def test_builder_xlsx_and_xlsm_read_alike(built_workbooks: dict[int, Path], built_xlsx_dir: Path,
                                          sample_catalog: Catalog) -> None:
    from kpi_xl import template

    for code, xlsm in built_workbooks.items():
        xlsx = built_xlsx_dir / template.output_name(sample_catalog, code, macros=False)
        a, b = read_workbook(xlsm), read_workbook(xlsx)
        assert a.model_dump(exclude={"file"}) == b.model_dump(exclude={"file"})
        assert [c.code for c in sample_catalog.for_district(code)] == list(a.sheets)


def test_copy_of_a_session_file_is_unchanged(chatuchak_workbook: Path, tmp_path: Path) -> None:
    target = tmp_path / chatuchak_workbook.name
    shutil.copyfile(chatuchak_workbook, target)
    before = sha256(target), target.stat().st_mtime_ns
    read_workbook(target)
    assert (sha256(target), target.stat().st_mtime_ns) == before
