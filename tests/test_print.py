"""The printouts on paper (issue 15, item 7): the demo's summary and a district workbook, printed by LibreOffice.

One LibreOffice start prints both workbooks and a calibration cell of known size; sizes are read back from
pdftotext's word boxes (``kpi_xl.printout``), so what is checked is what a printer gets, not the settings.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import openpyxl
import pytest

from kpi_xl import libreoffice, printout
from kpi_xl.summary import DATA_NOTE, SHEETS, text_width

pytestmark = [pytest.mark.libreoffice, pytest.mark.slow]
MIN_PT = 9.0


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    from kpi_xl.demo import run_demo

    work = tmp_path_factory.mktemp("print")
    made = run_demo(work / "demo", web=False)
    district = next(Path(made["inbox"]).glob("*_1030_*.xls*"))
    calibration = printout.calibration_workbook(work / "calibration.xlsx")
    pdfs = libreoffice.convert_many([made["summary"], district, calibration, made["marked_copy"]], "pdf", work / "pdf")
    ratio = printout.points_per_height(pdfs[2])
    return {"summary": made["summary"], "summary_pages": printout.read_pages(pdfs[0]),
            "district_pages": printout.read_pages(pdfs[1]), "ratio": ratio,
            "checked_pages": printout.read_pages(pdfs[3])}


def _sheet(page: printout.Page) -> str:
    return page.footer_text.replace(" ", "")


def test_calibration_is_sane(printed: dict) -> None:
    """pdftotext's box for LibreOffice's TH Sarabun New substitute is ~1.3 × the font size."""
    assert 0.6 < printed["ratio"] < 0.95


def test_summary_text_at_least_9pt(printed: dict) -> None:
    ratio = printed["ratio"]
    small = {}
    for page in printed["summary_pages"]:
        sizes = printout.sizes(page, ratio)
        assert sizes, f"page {page.number} is empty"
        tiny = [(w.text, round(w.height * ratio, 1)) for w in page.body if w.height * ratio < MIN_PT]
        if tiny:
            small[page.number] = tiny[:5]
        # cells (16 pt) and charts (12 pt) print at the 90 % scale, not shrunk to fit a page wide (was 3.7-7)
        assert statistics.median(sizes) >= 10.5, (page.number, _sheet(page), statistics.median(sizes))
    assert not small, small


def test_ranking_header_repeats_on_every_page(printed: dict) -> None:
    """The ranking is the overview's last section; from the page it starts on, every page opens with its
    header (before: it broke after rank 27 with no header on the next page)."""
    pages = [p for p in printed["summary_pages"] if SHEETS["overview"] in _sheet(p)]
    start = next(i for i, p in enumerate(pages) if "ranking:" in p.text())
    ranking = pages[start:]
    assert len(ranking) >= 2, "the demo's 48 ranked districts run over more than one page"
    for page in ranking:
        heads = [{w.text for w in line} for line in page.lines()[:4]]
        assert any({"rank", "district", "score"} <= line for line in heads), (page.number, heads)
    ranks = [int(w.text) for p in ranking for line in p.lines() for w in line[:1] if w.text.isdigit()]
    assert ranks[0] == 1 and ranks == sorted(ranks) and len(ranks) >= 40


def test_data_sheet_prints_only_its_note(printed: dict) -> None:
    pages = [p for p in printed["summary_pages"] if SHEETS["data"] in _sheet(p)]
    assert len(pages) == 1
    assert "For filtering on screen, not for printing: print the other sheets, or filter and print a selection." \
        in pages[0].text()
    assert "บนจอ" in pages[0].text() and DATA_NOTE.split("\n")[1] in pages[0].text()


def test_header_columns_as_wide_as_their_headers(printed: dict) -> None:
    """Every line of a header cell fits its column (before: "ระดับ 3" in a 3.7-unit column)."""
    book = openpyxl.load_workbook(printed["summary"])
    narrow = []
    for ws in book.worksheets:
        if ws.title == SHEETS["data"]:
            continue
        for row in ws.iter_rows():
            for cell in row:
                fill = cell.fill.fgColor.rgb if cell.fill and cell.fill.fgColor else None
                if not isinstance(cell.value, str) or fill not in ("FF1F4E78",):
                    continue
                width = ws.column_dimensions[cell.column_letter].width or 8.43
                need = max(text_width(line) for line in cell.value.split("\n"))
                if need > width:
                    narrow.append((ws.title, cell.coordinate, cell.value, width, need))
    assert not narrow, narrow


def test_district_workbook_text_at_least_9pt(printed: dict) -> None:
    """The district's forms print at a fixed 60 %: 9.6 pt (before: fitted, 8.5 pt, the cover 7 pt); an
    indicator takes two pages, broken before its quarterly reports, the title rows repeated."""
    ratio = printed["ratio"]
    pages = printed["district_pages"]
    for page in pages:
        sizes = printout.sizes(page, ratio)
        if sizes:
            assert min(sizes) >= MIN_PT, (page.number, page.footer_text, min(sizes))
    kpi05 = [p for p in pages if "KPI-05" in p.footer_text]
    assert len(kpi05) == 2
    assert "ไตรมาสที่ 1" not in kpi05[0].text() and "ไตรมาสที่ 1" in kpi05[1].text()
    assert "KPI-05" in " ".join(w.text for w in kpi05[1].body)  # the title rows (code) repeat on page 2


def test_the_list_of_problems_prints_at_least_9pt(printed: dict) -> None:
    """A checked workbook's ผลการตรวจสอบ list (--annotate; the button fills the same sheet) prints at the
    forms' fixed 60 %, its columns as wide as the landscape page: 9.6 pt (fitted one page wide: 8.2 pt)."""
    from kpi_xl.form import load_spec

    name = load_spec().sheets["results"].replace(" ", "")
    pages = [p for p in printed["checked_pages"] if name in _sheet(p)]
    assert pages, "the checked copy printed no ผลการตรวจสอบ page"
    words = " ".join(p.text() for p in pages)
    assert "KPI-E" in words and "ข้อผิดพลาด" in words  # the problems themselves are on paper, not cut off
    for page in pages:
        sizes = printout.sizes(page, printed["ratio"])
        assert sizes and min(sizes) >= MIN_PT, (page.number, min(sizes) if sizes else None)
