"""``kpi-xl validate --annotate``: a marked copy that stays a working macro workbook.

Real files only: workbooks built by ``kpi_xl.template``, filled wrongly, annotated, then unzipped
(the VBA project and the buttons' VML compared part by part), read back with openpyxl, and opened
by LibreOffice headless as the real client.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

import openpyxl
import pytest
from openpyxl.comments import Comment
from openpyxl.styles import PatternFill

from kpi_xl import catalog as cat_mod
from kpi_xl import fill, libreoffice, scoring, template
from kpi_xl.annotate import annotate, clear_workbook, save_keeping_vba
from kpi_xl.form import load_spec
from kpi_xl.marks import ERROR_FILL, MARKS_SHEET, plan_marks
from kpi_xl.validate import validate_file

ROOT = Path(__file__).resolve().parents[1]
CATALOG = cat_mod.load(ROOT / "workbook_templates" / "catalog_2564.yaml")
SPEC = load_spec()
RESULTS = SPEC.sheets["results"]
DISTRICT = 1030
WRONG = {
    "KPI-01": {"q1_value": "สิบ", "q1_report": "ร่างแผน", "q2_value": 100, "q2_report": "แผนเสร็จ"},
    "KPI-03": {"q1_value": 700, "q2_value": 650, "q1_report": "กิจกรรม", "q2_report": "กิจกรรม"},
    "KPI-05": {"level_1": 1, "level_3": 2, "q1_report": "ประชุม 23 มีนาคม 2564", "q2_report": "สำรวจ"},
    "KPI-12": {"q1_value": 80, "q1_report": "สำรวจ", "q2_report": "สำรวจ"},  # sheet 11: vmlDrawing10
}
Q1 = SPEC.a1("q1_value")


def fill_keeping_buttons(src: Path, dst: Path, values: dict[str, dict[str, Any]], quarter: int) -> Path:
    """Fill through the defined names, like a clerk; saved so that every button survives
    (``kpi_xl.fill`` saves with plain openpyxl, which drops ``vmlDrawing10.vml`` onwards)."""
    book = openpyxl.load_workbook(src, keep_vba=True)
    for sheet, named in values.items():
        for name, value in named.items():
            (target, ref), = book[sheet].defined_names[name].destinations
            book[target][ref.replace("$", "")].value = value
    (target, ref), = book.defined_names["report_quarter"].destinations
    book[target][ref.replace("$", "")].value = quarter
    save_keeping_vba(book, dst)
    return dst


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def buttons(path: Path) -> dict[str, list[str]]:
    """Sheet name → the macros its Form buttons call, found through the sheet's relationships."""
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        book = z.read("xl/workbook.xml").decode()
        rels = z.read("xl/_rels/workbook.xml.rels").decode()
        targets = dict(re.findall(r'Id="(rId\d+)"[^>]*?Target="([^"]+)"', rels)) | {
            i: t for t, i in re.findall(r'Target="([^"]+)"[^>]*?Id="(rId\d+)"', rels)}
        out: dict[str, list[str]] = {}
        for name, rid in re.findall(r'<sheet [^>]*?name="([^"]+)"[^>]*?r:id="(rId\d+)"', book):
            part = "xl/" + targets[rid].lstrip("/").removeprefix("xl/")
            rel_part = str(PurePosixPath(part).parent / "_rels" / (PurePosixPath(part).name + ".rels"))
            if rel_part not in names:
                continue
            for target in re.findall(r'Target="([^"]+\.vml)"', z.read(rel_part).decode()):
                vml = target.lstrip("/") if target.startswith("/") else str(
                    PurePosixPath(part).parent.joinpath(target)).replace("worksheets/../", "")
                assert vml in names, f"{name} points at a missing drawing {vml}"
                macros = re.findall(r"<(?:\w+:)?FmlaMacro>([^<]*)</", z.read(vml).decode())
                if macros:
                    out[name] = macros
        return out


def dangling(path: Path) -> list[str]:
    """Relationship targets that are not in the package."""
    missing = []
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        for rel in [n for n in names if n.endswith(".rels")]:
            base = PurePosixPath(rel).parent.parent
            for target, mode in re.findall(r'Target="([^"]+)"(?:[^>]*TargetMode="(\w+)")?', z.read(rel).decode()):
                if mode == "External" or target.startswith(("http", "#")):
                    continue
                path_in = target.lstrip("/") if target.startswith("/") else str(base / target)
                parts: list[str] = []
                for p in path_in.split("/"):
                    if p == "..":
                        parts.pop()
                    elif p not in ("", "."):
                        parts.append(p)
                if "/".join(parts) not in names:
                    missing.append(f"{rel} → {target}")
    return missing


@pytest.fixture(scope="module")
def built(chatuchak_workbook: Path) -> Path:
    """Chatuchak's workbook as kpi_xl.template builds it (once per session; never modified)."""
    return chatuchak_workbook


@pytest.fixture(scope="module")
def wrong(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fill_keeping_buttons(built, tmp_path_factory.mktemp("annotate") / "wrong.xlsm", WRONG, 2)


def test_copy_keeps_the_vba_project_and_every_button(built: Path, wrong: Path, tmp_path: Path) -> None:
    before = sha(wrong)
    out = annotate(wrong, tmp_path / "checked.xlsm", validate_file(wrong))
    assert sha(wrong) == before  # the input is never modified
    with zipfile.ZipFile(built) as a, zipfile.ZipFile(out) as b:
        assert b.read("xl/vbaProject.bin") == a.read("xl/vbaProject.bin")
        assert "macroEnabled" in b.read("[Content_Types].xml").decode()
    expected = buttons(built)
    assert len(expected) == len(CATALOG.for_district(DISTRICT)) + 1  # every indicator sheet + the summary
    assert set(next(iter(expected.values()))) == {"[0]!KpiValidate", "[0]!KpiClearMarks", "[0]!KpiSubmit"}
    assert buttons(out) == expected  # the sheets with notes too: their VML was rewritten around the buttons
    assert dangling(out) == []


def test_note_shapes_do_not_reuse_the_buttons_ids(wrong: Path, tmp_path: Path) -> None:
    out = annotate(wrong, tmp_path / "checked.xlsm", validate_file(wrong))
    with zipfile.ZipFile(out) as z:
        for name in [n for n in z.namelist() if n.endswith(".vml")]:
            text = z.read(name).decode()
            ids = re.findall(r'<v:shape [^>]*?id="([^"]+)"|<v:shape id="([^"]+)"', text)
            flat = [a or b for a, b in ids]
            assert len(flat) == len(set(flat)), name
            assert text.count("<o:shapelayout") == 1, name


def test_marks_in_the_copy(wrong: Path, tmp_path: Path) -> None:
    report = validate_file(wrong)
    plan = plan_marks(report)
    out = annotate(wrong, tmp_path / "checked.xlsm", report)
    book = openpyxl.load_workbook(out)
    for mark in plan.marks:
        cell = book[mark.sheet][mark.cell]
        assert cell.fill.fill_type == "solid" and "#" + cell.fill.fgColor.rgb[-6:] == mark.fill
        assert cell.comment is not None and cell.comment.author == "kpi-xl" and cell.comment.text == mark.note
    assert book["KPI-01"][Q1].fill.fgColor.rgb.endswith(ERROR_FILL[1:])
    for ind in report.indicators:
        assert book[ind.sheet][SPEC.a1("score")].value == (None if ind.score is None else round(ind.score, 2))
    rows = list(book[RESULTS].iter_rows(values_only=True))
    header = next(i for i, r in enumerate(rows) if r[0] == "ลำดับ")
    assert [(r[2], r[3], r[4]) for r in rows[header + 1:]] == [
        (p.code, p.location.sheet or None, p.location.cell or None) for p in report.problems]
    assert book[MARKS_SHEET].sheet_state == "hidden"
    # The results sheet comes with the template; only the hidden undo list is added, at the end.
    assert book.sheetnames == [*openpyxl.load_workbook(wrong).sheetnames, MARKS_SHEET]


def test_refuses_to_write_over_its_input(wrong: Path) -> None:
    before = sha(wrong)
    with pytest.raises(ValueError, match="refusing"):
        annotate(wrong, wrong, validate_file(wrong))
    with pytest.raises(ValueError, match="refusing"):
        annotate(wrong, wrong.parent / "." / wrong.name, validate_file(wrong))
    assert sha(wrong) == before


def test_clerks_own_formatting_stays_and_runs_do_not_stack(wrong: Path, tmp_path: Path) -> None:
    # The clerk coloured a cell green that validation will mark, another one blue that it will not,
    # and wrote a note of their own on a third, faulty cell.
    book = openpyxl.load_workbook(wrong, keep_vba=True)
    green, blue = PatternFill("solid", fgColor="FF00B050"), PatternFill("solid", fgColor="FF0070C0")
    book["KPI-01"][Q1].fill = green
    book["KPI-01"][SPEC.a1("support_factors")].fill = blue
    own = ("KPI-05", SPEC.a1("level_3"))
    own_fill = book[own[0]][own[1]].fill.fgColor.rgb  # the template's light-blue input box
    book[own[0]][own[1]].comment = Comment("ระดับ 3 ต้องถามหัวหน้า", "สมศรี")
    mine = tmp_path / "mine.xlsm"
    save_keeping_vba(book, mine)

    first = annotate(mine, tmp_path / "first.xlsm", validate_file(mine))
    marked = openpyxl.load_workbook(first)
    assert marked["KPI-01"][Q1].fill.fgColor.rgb.endswith(ERROR_FILL[1:])
    assert marked["KPI-01"][SPEC.a1("support_factors")].fill.fgColor.rgb == "FF0070C0"
    assert marked[own[0]][own[1]].fill.fgColor.rgb.endswith(ERROR_FILL[1:])
    assert (marked[own[0]][own[1]].comment.author, marked[own[0]][own[1]].comment.text) == ("สมศรี", "ระดับ 3 ต้องถามหัวหน้า")
    rows_first = marked[MARKS_SHEET].max_row

    # Annotating the annotated copy again (head office re-runs): nothing stacks.
    second = annotate(first, tmp_path / "second.xlsm", validate_file(first))
    again = openpyxl.load_workbook(second)
    assert again[MARKS_SHEET].max_row == rows_first
    assert [list(r) for r in again[MARKS_SHEET].iter_rows(values_only=True)] == \
        [list(r) for r in marked[MARKS_SHEET].iter_rows(values_only=True)]
    assert again["KPI-01"][Q1].comment.text == marked["KPI-01"][Q1].comment.text

    # Clearing gives back exactly the clerk's workbook: their fills, their note, the formulas.
    book = openpyxl.load_workbook(second, keep_vba=True)
    clear_workbook(book)
    assert book["KPI-01"][Q1].fill.fgColor.rgb == "FF00B050"
    assert book["KPI-01"][SPEC.a1("support_factors")].fill.fgColor.rgb == "FF0070C0"
    assert book[own[0]][own[1]].fill.fgColor.rgb == own_fill == "FF" + template.INPUT_FILL[1:]
    assert book[own[0]][own[1]].comment.text == "ระดับ 3 ต้องถามหัวหน้า"
    assert book["KPI-03"][SPEC.a1("q1_value")].comment is None
    assert book["KPI-03"][SPEC.a1("score")].value == scoring.excel_score(CATALOG.indicator("KPI-03"))
    assert book[RESULTS].max_row == 1 and book[RESULTS]["A1"].value is None


def test_a_copy_damaged_by_plain_openpyxl_is_repaired_not_crashed(built: Path, tmp_path: Path) -> None:
    """A copy saved with plain openpyxl (e.g. by another tool): sheets 10+ point at VML parts that are gone."""
    filled = fill.fill_workbook(built, tmp_path / "filled.xlsm", values=WRONG, report_quarter=2)
    damaged = tmp_path / "damaged.xlsm"
    openpyxl.load_workbook(filled, keep_vba=True).save(damaged)
    assert dangling(damaged)  # the openpyxl bug kpi_xl.keep_vba works around
    out = annotate(damaged, tmp_path / "checked.xlsm", validate_file(damaged))
    assert dangling(out) == []
    assert buttons(out)["KPI-01"] == ["[0]!KpiValidate", "[0]!KpiClearMarks", "[0]!KpiSubmit"]


def test_filled_copies_keep_every_button(built: Path, tmp_path: Path) -> None:
    filled = fill.fill_workbook(built, tmp_path / "filled.xlsm", values=WRONG, report_quarter=2)
    assert dangling(filled) == []
    assert buttons(filled) == buttons(built)


def test_xlsx_variant_stays_without_macros(built_xlsx_dir: Path, tmp_path: Path) -> None:
    plain = built_xlsx_dir / template.output_name(CATALOG, DISTRICT, macros=False)
    filled = fill.fill_workbook(plain, tmp_path / "wrong.xlsx", values=WRONG, report_quarter=2)
    out = annotate(filled, tmp_path / "checked.xlsx", validate_file(filled))
    with zipfile.ZipFile(out) as z:
        assert "xl/vbaProject.bin" not in z.namelist()
        assert "macroEnabled" not in z.read("[Content_Types].xml").decode()
    assert openpyxl.load_workbook(out)["KPI-01"][Q1].comment.author == "kpi-xl"


@pytest.mark.libreoffice
def test_libreoffice_sees_notes_fills_links_and_buttons(wrong: Path, tmp_path: Path) -> None:
    report = validate_file(wrong)
    plan = plan_marks(report)
    out = annotate(wrong, tmp_path / "checked.xlsm", report)
    ods = libreoffice.convert(out, "ods", tmp_path / "ods")
    with zipfile.ZipFile(ods) as z:
        content = z.read("content.xml").decode()
    assert content.count("<office:annotation") == len(plan.marks)
    for mark in plan.marks[:5]:
        assert mark.note.splitlines()[0].replace('"', "&quot;") in content
    events = re.findall(r'xlink:href="vnd\.sun\.star\.script:VBAProject\.KpiMacros\.(\w+)\?', content)
    sheets_with_buttons = len(CATALOG.for_district(DISTRICT)) + 1
    assert events.count("KpiValidate") == events.count("KpiClearMarks") == sheets_with_buttons
    assert events.count("KpiSubmit") == sheets_with_buttons
    assert content.lower().count("#ffc7ce") >= 1  # the light-red cell style
    assert f'xlink:href="#&apos;KPI-01&apos;.{Q1}"' in content  # LibreOffice writes Sheet.A1 for Sheet!A1


@pytest.mark.parametrize("text", ["=cmd|' /C calc'!A0", "+1+cmd", "@SUM(A1)", "-2+3", "ก\x01ข\x1fค"])
def test_strings_are_written_as_text_never_as_formulas(tmp_path: Path, text: str) -> None:
    """openpyxl stores a string starting with "=" as a formula; annotate's writer forces text
    and drops the control bytes XML 1.0 cannot carry (openpyxl would refuse to save them)."""
    from kpi_xl.annotate import _text

    book = openpyxl.Workbook()
    cell = _text(book.active["B2"], text)
    path = tmp_path / "t.xlsx"
    book.save(path)
    with zipfile.ZipFile(path) as z:
        xml = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml
    back = openpyxl.load_workbook(path).active["B2"]
    assert back.data_type == "s" and cell.data_type == "s"
    assert back.value == re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "", text)
