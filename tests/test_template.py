"""The district workbook builder, checked on real files: openpyxl, oletools, pyOpenVBA, LibreOffice."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import zipfile
from pathlib import Path

import openpyxl
import pytest
from oletools.olevba import VBA_Parser
from openpyxl.cell.cell import MergedCell

from kpi_xl import fill, libreoffice, model, scoring, template, thai
from kpi_xl.catalog import Catalog, Scoring
from kpi_xl.form import load_spec

SPEC = load_spec()
RUN_VALIDATE = 'RunPython "import kpi_xl.excel; kpi_xl.excel.validate()"'
RUN_CLEAR = 'RunPython "import kpi_xl.excel; kpi_xl.excel.clear_marks()"'


def _names(ws: openpyxl.worksheet.worksheet.Worksheet) -> dict[str, str]:
    out = {}
    for name, defined in ws.defined_names.items():
        (sheet, ref), = list(defined.destinations)
        assert sheet == ws.title
        out[name] = ref.replace("$", "")
    return out


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as package:
        return {name: package.read(name) for name in package.namelist()}


def _vba_modules(path: Path) -> dict[str, str]:
    parser = VBA_Parser(str(path))
    try:
        return {Path(name).stem: code for _, _, name, code in parser.extract_macros()}
    finally:
        parser.close()


# ---------------------------------------------------------------------------------------------
# Structure and the contract


def test_sheets_in_order_and_only_applicable_indicators(sample_catalog: Catalog, built_workbooks: dict[int, Path]) -> None:
    with_02 = {code for code in built_workbooks if sample_catalog.indicator("KPI-02").applies_to(code)}
    with_09 = {code for code in built_workbooks if sample_catalog.indicator("KPI-09").applies_to(code)}
    assert with_02 == {1001} and with_09 == {1003}, "the session districts must cover both partial indicators"
    for code, path in built_workbooks.items():
        book = openpyxl.load_workbook(path, keep_vba=True)
        codes = [i.code for i in sample_catalog.for_district(code)]
        assert book.sheetnames == [SPEC.sheets["cover"], *codes, SPEC.sheets["summary"], SPEC.sheets["results"],
                                   SPEC.sheets["meta"], SPEC.sheets["conf"]]
        results = book[SPEC.sheets["results"]]
        # landscape at the forms' fixed 60 % and as wide as the page, never fitted (8.2 pt): tests/test_print.py
        assert results.page_setup.orientation == "landscape" and results.page_setup.scale == template.PRINT_SCALE
        assert not (results.sheet_properties.pageSetUpPr and results.sheet_properties.pageSetUpPr.fitToPage)
        # stored widths carry Excel's 5-pixel padding (+0.71 each); <cols> ranges group equal columns
        units = sum((d.width - 0.7109375) * (d.max - d.min + 1) for d in results.column_dimensions.values() if d.width)
        assert units == pytest.approx(112)
        assert ("KPI-02" in book.sheetnames) == (code in with_02)
        assert ("KPI-09" in book.sheetnames) == (code in with_09)
        assert book[SPEC.sheets["meta"]].sheet_state == "hidden"
        assert book[SPEC.sheets["conf"]].sheet_state == "hidden"
        assert book.active.title == SPEC.sheets["cover"]


def test_every_contract_name_resolves_to_the_spec_cell(sample_catalog: Catalog,
                                                       built_workbooks: dict[int, Path]) -> None:
    for code, path in built_workbooks.items():
        book = openpyxl.load_workbook(path)
        for ind in sample_catalog.for_district(code):
            expected = {f.name: SPEC.a1(f.name) for f in SPEC.fields_for(ind.scoring.value)}
            assert _names(book[ind.code]) == expected, (path.name, ind.code)
            if ind.scoring is Scoring.MILESTONE:
                assert "q1_value" not in expected and "level_5" in expected
            else:
                assert "level_1" not in expected and "q4_value" in expected


def test_workbook_names(sample_catalog: Catalog, chatuchak_workbook: Path) -> None:
    book = openpyxl.load_workbook(chatuchak_workbook)
    names = {name: list(d.destinations)[0] for name, d in book.defined_names.items()}
    assert set(names) == {"district_code", "fiscal_year", "template_version", "report_quarter"}
    sheet, ref = names["report_quarter"]
    assert (sheet, ref.replace("$", "")) == (SPEC.sheets["cover"], SPEC.workbook_names["report_quarter"].cell)
    meta = book[SPEC.sheets["meta"]]
    for key, want in {"district_code": "1030", "fiscal_year": "2564", "template_version": SPEC.template_version}.items():
        sheet, ref = names[key]
        cell = meta[ref.replace("$", "")]
        assert sheet == SPEC.sheets["meta"]
        assert meta.cell(cell.row, 1).value == key and cell.value == want


def test_meta_sheet_carries_the_catalog(sample_catalog: Catalog, chatuchak_workbook: Path) -> None:
    ws = openpyxl.load_workbook(chatuchak_workbook)[SPEC.sheets["meta"]]
    cells = {row[0].value: model.Cell(name=row[0].value, sheet=ws.title, cell=row[1].coordinate, raw=row[1].value)
             for row in ws.iter_rows(min_col=1, max_col=2)}
    meta = model.parse_meta(cells)
    assert meta.checksum_ok
    assert meta.district_code == 1030 and meta.fiscal_year == 2564 and meta.district_name_en == "Chatuchak"
    assert meta.catalog_hash == sample_catalog.content_hash
    assert Catalog.model_validate_json(meta.catalog_json).content_hash == sample_catalog.content_hash
    assert meta.indicator_codes == [i.code for i in sample_catalog.for_district(1030)]
    assert meta.build_time == "2020-10-01T00:00:00Z"  # default: the fiscal year's first day


def test_fixed_text_locked_and_inputs_unlocked(sample_catalog: Catalog, chatuchak_workbook: Path) -> None:
    book = openpyxl.load_workbook(chatuchak_workbook)
    ws = book["KPI-05"]
    ind = sample_catalog.indicator("KPI-05")
    names = _names(ws)
    assert ws.protection.sheet and not ws.protection.password
    assert ws[names["kpi_name"]].value == ind.name_th
    assert ws[names["kpi_code"]].value == "KPI-05"
    assert ws[names["target_value"]].value == 5 and ws[names["target_unit"]].value == "ระดับ"
    texts = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert "ด้านที่ ๕ - มหานครประชาธิปไตย : Bangkok as a Democratic City" in texts
    assert "☐ ผลผลิต (Output)" in texts and "☑ ผลลัพธ์ (Outcome)" in texts
    assert ind.definition in texts and ind.method in texts and all(level in texts for level in ind.levels)
    for field in SPEC.fields_for("milestone"):
        locked = ws[names[field.name]].protection.locked
        assert locked is (not field.is_input), field.name
    # fixed text of the form is locked too
    assert ws[f"A{SPEC.addresses['kpi_name'][0] + 1}"].protection.locked


def test_inputs_have_a_light_fill_and_locked_cells_none(chatuchak_workbook: Path) -> None:
    """The district guide says "light blue cells are inputs": every unlocked cell of an indicator
    sheet has the input fill, no locked cell has it, and it is light enough to print (luminance)."""
    fill_rgb = template.INPUT_FILL.lstrip("#").upper()
    red, green, blue = (int(fill_rgb[i:i + 2], 16) / 255 for i in (0, 2, 4))
    assert 0.2126 * red + 0.7152 * green + 0.0722 * blue > 0.85
    book = openpyxl.load_workbook(chatuchak_workbook)
    for title in ("KPI-05", "KPI-01"):
        ws = book[title]
        filled_inputs = locked_filled = inputs = 0
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell, MergedCell):  # inside a merged area Excel shows the first cell's fill
                    continue
                has = cell.fill.fill_type == "solid" and str(cell.fill.fgColor.rgb).upper().endswith(fill_rgb)
                if cell.protection.locked:
                    locked_filled += has
                else:
                    inputs += 1
                    filled_inputs += has
        assert inputs > 10 and filled_inputs == inputs and locked_filled == 0, title


def test_computed_formulas_and_empty_cached_values(sample_catalog: Catalog, chatuchak_workbook: Path) -> None:
    for kind in ("KPI-05", "KPI-04", "KPI-01"):  # milestone, thresholds (lower is better), pass_fail
        ind = sample_catalog.indicator(kind)
        formulas = openpyxl.load_workbook(chatuchak_workbook)[kind]
        cached = openpyxl.load_workbook(chatuchak_workbook, data_only=True)[kind]
        names = _names(formulas)
        assert formulas[names["year_value"]].value == scoring.excel_year_value(ind)
        assert formulas[names["score"]].value == scoring.excel_score(ind)
        assert formulas[names["target_met"]].value == scoring.excel_target_met(ind)
        empty = scoring.score_indicator(ind)
        score, met = (cached[names[n]].value for n in ("score", "target_met"))
        score, met = ("" if score is None else score), ("" if met is None else met)
        assert score == ("" if empty.value is None else empty.value)
        assert met == empty.target_met_th
        assert (score, met) == ((0, "ไม่ผ่าน") if kind == "KPI-05" else ("", ""))
        assert formulas.column_dimensions["G"].hidden


def test_summary_formulas_over_indicator_sheets(sample_catalog: Catalog, chatuchak_workbook: Path) -> None:
    ws = openpyxl.load_workbook(chatuchak_workbook)[SPEC.sheets["summary"]]
    rows = [r for r in ws.iter_rows(min_row=3, values_only=True) if r[0] and str(r[0]).startswith("KPI")]
    inds = sample_catalog.for_district(1030)
    assert [r[0] for r in rows] == [i.code for i in inds]
    for row, ind in zip(rows, inds, strict=True):
        assert row[1] == ind.name_th and row[2] == ind.target and row[3] == ind.unit and row[7] == ind.weight
        assert row[4:7] == (f"='{ind.code}'!year_value", f"='{ind.code}'!score", f"='{ind.code}'!target_met")
    total = [c for row in ws.iter_rows() for c in row if isinstance(c.value, str) and "SUMPRODUCT" in c.value]
    assert len(total) == 1


def _validation_at(ws: openpyxl.worksheet.worksheet.Worksheet, cell: str):
    found = [dv for dv in ws.data_validations.dataValidation if cell in dv.sqref]
    assert len(found) == 1, cell
    return found[0]


def test_excel_checks_per_input_type(sample_catalog: Catalog, chatuchak_workbook: Path) -> None:
    book = openpyxl.load_workbook(chatuchak_workbook)
    ws = book["KPI-05"]
    level = _validation_at(ws, _names(ws)["level_3"])
    assert level.type == "list" and level.formula1 == '"1,2,3,4"' and level.errorStyle in (None, "stop")
    assert level.prompt == SPEC.fields["level_3"].prompt_th and "ไตรมาส" in level.error
    date = _validation_at(ws, _names(ws)["signed_date"])
    assert date.type == "date" and date.operator in (None, "between")
    assert float(date.formula1) == thai.excel_serial(thai.fiscal_year_start(2564))
    assert float(date.formula2) == thai.excel_serial(thai.fiscal_year_end(2564))
    assert "ปีงบประมาณ 2564" in date.error
    percent = book["KPI-10"]  # value_kind percent
    q2_cell = _names(percent)["q2_value"]
    q2 = _validation_at(percent, q2_cell)
    # A custom rule over the one normalisation, so "๘๕" typed as text passes like 85 (and 120 does not)
    assert q2.type == "custom" and q2.errorStyle in (None, "stop")
    assert q2.formula1 == f"ABS({scoring.excel_number(q2_cell)}-50)<=50"
    assert q2.prompt == SPEC.fields["q2_value"].prompt_th and "ร้อยละ" in q2.error
    count = book["KPI-03"]  # value_kind count
    q1_cell = _names(count)["q1_value"]
    q1 = _validation_at(count, q1_cell)
    assert q1.type == "custom" and q1.formula1 == f'AND({scoring.excel_number(q1_cell)}>=0,ISERR(FIND(".",{q1_cell})))'
    for sheet in book.worksheets:  # Excel refuses a validation formula longer than 255 characters
        for dv in sheet.data_validations.dataValidation:
            assert len(dv.formula1 or "") <= 255, (sheet.title, dv.sqref, dv.formula1)
    text = _validation_at(ws, _names(ws)["q1_report"])
    assert text.prompt == SPEC.fields["q1_report"].prompt_th
    cover = book[SPEC.sheets["cover"]]
    rq = _validation_at(cover, SPEC.workbook_names["report_quarter"].cell)
    assert rq.type == "list" and rq.formula1 == '"1,2,3,4"'


def test_required_inputs_highlighted_by_reporting_quarter(sample_catalog: Catalog, chatuchak_workbook: Path) -> None:
    ws = openpyxl.load_workbook(chatuchak_workbook)["KPI-10"]
    names = _names(ws)
    rules = {str(cf.sqref).split(":")[0]: rule.formula[0] for cf in ws.conditional_formatting for rule in cf.rules}
    for field in SPEC.fields_for("thresholds"):
        cell = names[field.name]
        if field.required_from is None:
            assert cell not in rules, field.name
        else:
            col, row = re.match(r"([A-Z]+)(\d+)", cell).groups()
            assert rules[cell] == f"AND(LEN(${col}${row})=0,report_quarter>={field.required_from})"


def test_print_setup_and_fonts(chatuchak_workbook: Path) -> None:
    book = openpyxl.load_workbook(chatuchak_workbook)
    for ws in [book["KPI-05"], book[SPEC.sheets["summary"]], book[SPEC.sheets["cover"]]]:
        landscape = ws.title == SPEC.sheets["summary"]  # its 8 columns are wider than portrait at 60 %
        assert ws.page_setup.paperSize == 9 and ws.page_setup.orientation == ("landscape" if landscape else "portrait")
        # a fixed 60 % (16 pt prints at 9.6 pt), never fit-to-page (that printed 7-8.5 pt): tests/test_print.py
        assert not (ws.sheet_properties.pageSetUpPr and ws.sheet_properties.pageSetUpPr.fitToPage)
        assert ws.page_setup.scale == template.PRINT_SCALE == 60
        assert "หน้า &P / &N" in ws.oddFooter.right.text and "สำนักงานเขตจตุจักร" in ws.oddFooter.left.text
        assert ws.page_margins.left > ws.page_margins.right
    ws = book["KPI-05"]
    assert ws.print_area == f"'KPI-05'!$A$1:${SPEC.print_area_last_col}${len(SPEC.rows)}"
    assert ws.print_title_rows == "$1:$2"
    label = ws["A3"]
    assert (label.font.name, label.font.sz, label.font.b) == ("TH Sarabun New", 16, True)
    definition_row = next(r for r, row in enumerate(SPEC.rows) if any(c.source == "definition" for c in row.cells)) + 1
    assert ws.row_dimensions[definition_row].height > 2 * template.LINE_HEIGHT  # the paragraph shows
    date_cell = ws[_names(ws)["signed_date"]]
    assert date_cell.number_format == thai.BE_DATE_FORMAT


def test_xlwings_conf_sheet(sample_catalog: Catalog, chatuchak_workbook: Path, tmp_path: Path) -> None:
    ws = openpyxl.load_workbook(chatuchak_workbook)[SPEC.sheets["conf"]]
    keys = [ws.cell(r, 1).value for r in range(1, ws.max_row + 1)]
    assert None not in keys, "xlwings reads keys from A1 down until the first gap"
    conf = {ws.cell(r, 1).value: ws.cell(r, 2).value for r in range(1, ws.max_row + 1)}
    assert conf["Interpreter_Win"] == template.DEFAULT_INTERPRETER
    assert conf["Show Console"] is False and conf["Use UDF Server"] is False
    assert {"UDF Modules", "PYTHONPATH"} <= set(conf)
    other = template.build_workbook(sample_catalog, 1030, tmp_path, interpreter=r"C:\Python311\pythonw.exe")
    ws = openpyxl.load_workbook(other)[SPEC.sheets["conf"]]
    assert ws["B1"].value == r"C:\Python311\pythonw.exe"


# ---------------------------------------------------------------------------------------------
# VBA project and buttons


def test_olevba_lists_xlwings_and_kpi_modules(chatuchak_workbook: Path) -> None:
    modules = _vba_modules(chatuchak_workbook)
    assert "xlwings" in modules and "Public Function RunPython" in modules["xlwings"]
    assert RUN_VALIDATE in modules["KpiMacros"] and RUN_CLEAR in modules["KpiMacros"]
    assert {"ThisWorkbook", "Sheet1"} <= set(modules)


def test_vba_project_header_is_the_version_independent_one_xlwings_ships(chatuchak_workbook: Path) -> None:
    """MS-OVBA 2.3.4.1: version 0xFFFF, no performance cache — byte for byte what xlwings' own
    quickstart_standalone.xlsm (in the installed package) carries, so every Excel recompiles."""
    import io

    import olefile
    import xlwings

    from kpi_xl import vba

    def header(project: bytes) -> bytes:
        with olefile.OleFileIO(io.BytesIO(project)) as ole:
            return ole.openstream("VBA/_VBA_PROJECT").read()

    shipped = Path(xlwings.__file__).parent / "quickstart_standalone.xlsm"
    with zipfile.ZipFile(shipped) as package:
        reference = header(package.read(vba.VBA_ENTRY))
    ours = header(_members(chatuchak_workbook)[vba.VBA_ENTRY])
    assert ours == reference == vba.VBA_PROJECT_STREAM
    assert int.from_bytes(ours[2:4], "little") == 0xFFFF and len(ours) == 7


def test_conf_sheet_carries_the_embedded_vba_module_version(chatuchak_workbook: Path) -> None:
    """The button compares this row with the PC's xlwings: it must be the module actually embedded."""
    from kpi_xl import xlcompat

    ws = openpyxl.load_workbook(chatuchak_workbook)[SPEC.sheets["conf"]]
    conf = {ws.cell(r, 1).value: ws.cell(r, 2).value for r in range(1, ws.max_row + 1)}
    embedded = xlcompat.vba_module_version(_vba_modules(chatuchak_workbook)["xlwings"])
    assert conf[xlcompat.VBA_VERSION_KEY] == embedded == xlcompat.PINNED


def test_pyopenvba_checks_the_file(chatuchak_workbook: Path) -> None:
    from pyopenvba import ExcelFile
    from pyopenvba.integrity import check_file

    report = check_file(chatuchak_workbook)
    assert report.ok, report.issues
    with ExcelFile(chatuchak_workbook) as excel:
        assert {"xlwings", "KpiMacros"} <= set(excel.vba_modules())


def test_buttons_link_to_the_macros(sample_catalog: Catalog, chatuchak_workbook: Path) -> None:
    members = _members(chatuchak_workbook)
    assert "xl/vbaProject.bin" in members
    assert b"application/vnd.ms-excel.sheet.macroEnabled.main+xml" in members["[Content_Types].xml"]
    book = openpyxl.load_workbook(chatuchak_workbook)
    expected = {i.code for i in sample_catalog.for_district(1030)} | {SPEC.sheets["summary"]}
    with_buttons = set()
    for index, ws in enumerate(book.worksheets, start=1):
        rels = members.get(f"xl/worksheets/_rels/sheet{index}.xml.rels", b"").decode()
        vml = re.search(r'Target="\.\./drawings/(vmlDrawing\d+\.vml)"', rels)
        if vml:
            text = members[f"xl/drawings/{vml.group(1)}"].decode()
            assert "<x:FmlaMacro>[0]!KpiValidate</x:FmlaMacro>" in text
            assert "<x:FmlaMacro>[0]!KpiClearMarks</x:FmlaMacro>" in text
            assert template.VALIDATE_CAPTION in text and template.CLEAR_CAPTION in text
            with_buttons.add(ws.title)
    assert with_buttons == expected


def test_vba_project_is_shared_by_equal_sheet_counts(built_workbooks: dict[int, Path]) -> None:
    projects = {code: _members(path)["xl/vbaProject.bin"] for code, path in built_workbooks.items()}
    assert projects[1001] == projects[1003]  # both have one partial indicator: same sheet count
    assert projects[1030] != projects[1001]  # one sheet fewer: one document module fewer


# ---------------------------------------------------------------------------------------------
# Files: variants, reproducibility, overwriting, all-or-nothing


def test_no_macros_gives_a_plain_xlsx(built_xlsx_dir: Path) -> None:
    files = sorted(built_xlsx_dir.glob("*"))
    assert files and all(f.suffix == ".xlsx" for f in files)
    for path in files:
        members = _members(path)
        assert "xl/vbaProject.bin" not in members
        assert not any(name.endswith(".vml") for name in members)
        assert b"macroEnabled" not in members["[Content_Types].xml"]
        book = openpyxl.load_workbook(path)
        assert "report_quarter" in book.defined_names


def test_builds_are_reproducible(sample_catalog: Catalog, tmp_path: Path) -> None:
    first = template.build_workbook(sample_catalog, 1030, tmp_path / "a")
    second = template.build_workbook(sample_catalog, 1030, tmp_path / "b")
    a, b = _members(first), _members(second)
    assert a.keys() == b.keys()
    for name in a:
        assert a[name] == b[name], name
    assert first.read_bytes() == second.read_bytes()
    later = template.build_workbook(sample_catalog, 1030, tmp_path / "c", build_time=dt.datetime(2021, 1, 5, 9, 0))
    changed = {name for name, data in _members(later).items() if a[name] != data}
    assert "docProps/core.xml" in changed and "xl/vbaProject.bin" not in changed


def test_existing_output_not_overwritten_without_force(sample_catalog: Catalog, tmp_path: Path) -> None:
    path = template.build_workbook(sample_catalog, 1030, tmp_path)
    path.write_bytes(b"a clerk's work")
    with pytest.raises(FileExistsError) as error:
        template.build_workbook(sample_catalog, 1030, tmp_path)
    assert "มีไฟล์" in str(error.value) and "already exists" in str(error.value)
    with pytest.raises(FileExistsError):
        template.build_all(sample_catalog, tmp_path, districts=[1001, 1030])
    assert path.read_bytes() == b"a clerk's work"
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name], "nothing else written either"
    template.build_workbook(sample_catalog, 1030, tmp_path, force=True)
    assert zipfile.is_zipfile(path)


def test_build_all_in_parallel_equals_serial(sample_catalog: Catalog, tmp_path: Path) -> None:
    codes = [1001, 1002, 1003, 1010, 1030, 1046]
    parallel = template.build_all(sample_catalog, tmp_path / "p", districts=codes, jobs=2)
    serial = template.build_all(sample_catalog, tmp_path / "s", districts=codes, jobs=1)
    assert [p.name for p in parallel] == [s.name for s in serial]
    assert [p.name for p in parallel][0] == "2564_1001_Phra_Nakhon.xlsm"
    for p, s in zip(parallel, serial, strict=True):
        assert p.read_bytes() == s.read_bytes()
    assert sorted(x.name for x in (tmp_path / "p").iterdir()) == sorted(p.name for p in parallel)


def test_build_all_writes_nothing_when_one_workbook_fails(sample_catalog: Catalog, tmp_path: Path) -> None:
    # A catalog that slipped past validation with a sheet name Excel refuses, used by district 1003 only:
    # the other districts build fine, and still nothing may be left behind.
    broken = [i.model_copy(update={"code": "KPI:09"}) if i.code == "KPI-09" else i for i in sample_catalog.indicators]
    catalog = sample_catalog.model_copy(update={"indicators": broken})
    out = tmp_path / "out"
    with pytest.raises(Exception, match="KPI:09|character"):
        template.build_all(catalog, out, districts=[1001, 1002, 1003, 1004, 1010, 1030], jobs=2)
    assert not out.exists() or list(out.iterdir()) == []


def test_unknown_district_is_refused_before_writing(sample_catalog: Catalog, tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        template.build_all(sample_catalog, tmp_path / "out", districts=[1030, 9999])
    assert not (tmp_path / "out").exists()


def test_output_names(sample_catalog: Catalog) -> None:
    assert template.output_name(sample_catalog, 1030) == "2564_1030_Chatuchak.xlsm"
    assert template.output_name(sample_catalog, 1030, macros=False) == "2564_1030_Chatuchak.xlsx"
    assert template.output_name(sample_catalog, 1001) == "2564_1001_Phra_Nakhon.xlsm"


# ---------------------------------------------------------------------------------------------
# LibreOffice: the real client


@pytest.mark.libreoffice
def test_libreoffice_opens_every_built_workbook(built_workbooks: dict[int, Path], built_xlsx_dir: Path,
                                                tmp_path: Path) -> None:
    for path in [*built_workbooks.values(), *sorted(built_xlsx_dir.glob("*.xlsx"))]:
        pdf = libreoffice.convert(path, "pdf", tmp_path / path.suffix.lstrip("."))
        assert pdf.read_bytes().startswith(b"%PDF")


@pytest.mark.libreoffice
def test_libreoffice_keeps_modules_and_buttons(chatuchak_workbook: Path, tmp_path: Path) -> None:
    saved = libreoffice.convert(chatuchak_workbook, "xlsm", tmp_path)
    members = _members(saved)
    assert "xl/vbaProject.bin" in members
    modules = _vba_modules(saved)
    assert RUN_VALIDATE in modules["KpiMacros"] and "xlwings" in modules
    vml = "".join(data.decode() for name, data in members.items() if name.endswith(".vml"))
    assert "KpiValidate</x:FmlaMacro>" in vml and template.VALIDATE_CAPTION in vml


@pytest.mark.libreoffice
def test_names_follow_rows_inserted_by_libreoffice(seed_filled_workbook: Path, tmp_path: Path) -> None:
    row = SPEC.addresses["q1_report"][0] + 1  # insert above the quarter-1 narrative, as a clerk would
    moved = libreoffice.insert_rows(seed_filled_workbook, tmp_path / seed_filled_workbook.name, "KPI-05", row, 2)
    before = openpyxl.load_workbook(seed_filled_workbook)["KPI-05"]
    after_book = openpyxl.load_workbook(moved, keep_vba=True)
    after = after_book["KPI-05"]
    old, new = _names(before), _names(after)
    assert old.keys() == new.keys()
    for name, cell in old.items():
        r = int(re.sub(r"[A-Z]+", "", cell))
        shift = 2 if r >= row else 0
        assert new[name] == re.sub(r"\d+", str(r + shift), cell), name
        if name not in ("score", "target_met", "year_value"):
            assert after[new[name]].value == before[cell].value, name
    assert after[new["q1_report"]].value == fill.SEED_Q1
    # the names still lead a fill to the moved cells, and the formulas still score them
    refilled = fill.fill_workbook(moved, tmp_path / "refilled.xlsm", values={"KPI-05": {"q1_report": "แก้ไขแล้ว"}})
    assert openpyxl.load_workbook(refilled)["KPI-05"][new["q1_report"]].value == "แก้ไขแล้ว"
    values = libreoffice.recalculated_values(refilled)["KPI-05"]
    assert values["score"] == 5 and values["target_met"] == "ผ่าน"
    assert "xl/vbaProject.bin" in _members(moved)


@pytest.mark.libreoffice
def test_libreoffice_recalculates_the_seed_score(seed_filled_workbook: Path) -> None:
    values = libreoffice.recalculated_values(seed_filled_workbook)
    assert values["KPI-05"]["score"] == 5 and values["KPI-05"]["target_met"] == "ผ่าน"
    assert values["KPI-08"]["score"] == 0 and values["KPI-08"]["target_met"] == "ไม่ผ่าน"


def _base(text: str) -> str:
    """Text as pdftotext can be trusted to give it: no spaces, no Thai marks (it moves them around)."""
    import unicodedata

    return "".join(ch for ch in text if not ch.isspace() and unicodedata.category(ch) != "Mn")


@pytest.mark.libreoffice
def test_seed_page_prints_like_the_paper_form(seed_filled_workbook: Path, tmp_path: Path) -> None:
    pictures = _pictures_module()
    pdf = libreoffice.convert(seed_filled_workbook, "pdf", tmp_path)
    pages = pictures.sheet_pages(pdf, "KPI-05")
    assert pages
    info = subprocess.run(["pdfinfo", "-f", str(pages[0]), "-l", str(pages[-1]), str(pdf)], capture_output=True,
                          text=True, check=True).stdout
    sizes = re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+) pts", info)
    assert sizes and all(abs(float(w) - 595.3) < 1 and abs(float(h) - 841.9) < 1 for w, h in sizes), "A4 portrait"

    def text(mode: str) -> str:
        return "".join(subprocess.run(["pdftotext", mode, "-f", str(p), "-l", str(p), str(pdf), "-"],
                                      capture_output=True, text=True, check=True).stdout for p in pages)

    raw, layout = _base(text("-raw")), _base(text("-layout"))
    seed = fill.seed_values()
    expected = [
        SPEC.title.strip("* ").strip(),
        "1. ชื่อตัวชี้วัด :", "ระดับความสำเร็จของการสร้างเครือข่ายประชาสังคมเพื่อร่วมผลักดันการพัฒนาพื้นที่",
        "2. ระดับความสำเร็จ :", "ผลผลิต (Output)", "ผลลัพธ์ (Outcome)",
        "** สนับสนุนแผนพัฒนา กทม. ระยะ 20 ปี (ยุทธศาสตร์-ประเด็นยุทธศาสตร์-กลยุทธ์ตามแผนฯ /ตัวชี้วัด)",
        "ประเด็นยุทธฯ :", "ด้านที่ ๕ - มหานครประชาธิปไตย : Bangkok as a Democratic City",
        "----- ย่อย :", "เป้าประสงค์ที่ :",
        "3. คำนิยาม :", "เครือข่ายประชาสังคม หมายถึง เครือข่ายประชาสังคมในระดับเขตที่",
        "4. วิธีการคำนวณ :", "นับจำนวนเครือข่ายประชาสังคมเขตที่มีการจัดตั้งในพื้นที่เขต",
        "5. เป้าหมาย :", ": ผลงานที่ทำได้ =", "5.00",
        "6. รายงานผลการดำเนินงาน (รายไตรมาส) :",
        "(6.1) ไตรมาสที่ 1 :", seed["q1_report"],
        "(6.2) ไตรมาสที่ 2 :", seed["q2_report"],
        "(6.3) ไตรมาสที่ 3 :", seed["q3_report"],
        "(6.4) ไตรมาสที่ 4 :", seed["q4_report"],
        "(6.5) สรุปผลการดำเนินงาน (ปลายปีงบประมาณ) :",
        "7. ปัจจัยสนับสนุนการดำเนินงาน :", seed["support_factors"],
        "8. อุปสรรคต่อการดำเนินงาน :",
        "9. หลักฐานอ้างอิง :", "เอกสารการดำเนินงาน",
        "ลงชื่อ", seed["signer_name"], "(ผู้รับผิดชอบโครงการ)", "ตำแหน่ง", seed["signer_position"],
        "วันที่", "30 กันยายน 2564",
    ]
    at = -1
    for item in expected:
        assert _base(item) in raw, f"wording: {item!r}"
        prefix = _base(item)[:6]
        found = layout.find(prefix, at + 1)
        assert found > at, f"order: {item!r} should come after the previous item"
        at = found


@pytest.mark.libreoffice
def test_docs_picture_is_made_from_the_real_workbook(tmp_path: Path) -> None:
    png = _pictures_module().indicator_sheet_picture(tmp_path / "indicator_sheet_filled.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000


def _pictures_module():
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "docs" / "make_pictures.py"
    spec = importlib.util.spec_from_file_location("make_pictures", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module
