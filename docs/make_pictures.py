"""Re-make the pictures in docs/ from the real thing: workbooks kpi-xl builds, printed by LibreOffice.

    python docs/make_pictures.py            # writes docs/img/*.png
    python docs/make_pictures.py --only cycle   # only the review and feedback pictures

Needs LibreOffice (soffice) and poppler-utils (pdftoppm, pdftotext). Each picture is a page of a
PDF that LibreOffice printed from a workbook built from the sample catalog, so the pictures show
exactly what a district office prints.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

from kpi_xl import catalog, fill, libreoffice, template

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
SAMPLE = REPO / "workbook_templates" / "catalog_2564.yaml"
CHATUCHAK = 1030
RESOLUTION = 80


def pdf_pages(pdf: Path) -> list[str]:
    """Text of each page, in page order."""
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return text.split("\f")[:-1] if text.endswith("\f") else text.split("\f")


def sheet_pages(pdf: Path, sheet: str) -> list[int]:
    """1-based pages printed from ``sheet``: its name is in each page's footer."""
    return [n for n, page in enumerate(pdf_pages(pdf), start=1) if f"· {sheet}" in page]


def page_png(pdf: Path, page: int, out: Path, resolution: int = RESOLUTION) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    stem = out.with_suffix("")
    subprocess.run(["pdftoppm", "-r", str(resolution), "-png", "-singlefile", "-f", str(page), "-l", str(page),
                    str(pdf), str(stem)], check=True)
    return out


def seed_pdf(workdir: Path) -> Path:
    """Chatuchak's workbook with the seed page in KPI-05 (quarter 4), printed to PDF by LibreOffice."""
    cat = catalog.load(SAMPLE)
    built = template.build_workbook(cat, CHATUCHAK, workdir / "built", force=True)
    filled = fill.fill_workbook(built, workdir / "filled" / built.name, values={fill.SEED_SHEET: fill.seed_values()},
                                report_quarter=fill.SEED_QUARTER)
    return libreoffice.convert(filled, "pdf", workdir / "pdf")


def indicator_sheet_picture(out: Path | None = None) -> Path:
    """docs/img/indicator_sheet_filled.png: the first printed page of the filled KPI-05 sheet."""
    out = out or DOCS / "img" / "indicator_sheet_filled.png"
    with tempfile.TemporaryDirectory(prefix="kpi-pictures-") as folder:
        pdf = seed_pdf(Path(folder))
        pages = sheet_pages(pdf, fill.SEED_SHEET)
        if not pages:
            raise RuntimeError(f"no page of {fill.SEED_SHEET} found in {pdf}")
        return page_png(pdf, pages[0], out)


def marked_values() -> dict[str, object]:
    """The seed page with three typical slips: level 2 left blank (error), a quarter-2 narrative
    naming a May date (warning: quarter 3) and no signer (error)."""
    values = dict(fill.seed_values())
    values["level_2"] = None
    values["q2_report"] = values["q2_report"] + " ประชุมติดตามผลเมื่อวันที่ 14 พฤษภาคม 2564"
    values["signer_name"] = None
    return values


def marked_pictures(out_dir: Path) -> list[Path]:
    """docs/img/indicator_sheet_marked.png and results_sheet.png: the seed page after validation
    (kpi-xl validate --annotate, the same marks the button leaves), printed by LibreOffice."""
    from kpi_xl.annotate import annotate
    from kpi_xl.validate import validate_file

    with tempfile.TemporaryDirectory(prefix="kpi-pictures-") as folder:
        work = Path(folder)
        cat = catalog.load(SAMPLE)
        built = template.build_workbook(cat, CHATUCHAK, work / "built", force=True)
        filled = fill.fill_workbook(built, work / "filled" / built.name, values={fill.SEED_SHEET: marked_values()},
                                    report_quarter=fill.SEED_QUARTER)
        report = validate_file(filled, catalog=cat, quarter=fill.SEED_QUARTER)
        marked = annotate(filled, work / "marked" / built.name, report)
        pdf = libreoffice.convert(marked, "pdf", work / "pdf")
        sheet = sheet_pages(pdf, fill.SEED_SHEET)
        results = sheet_pages(pdf, "ผลการตรวจสอบ")
        if not sheet or not results:
            raise RuntimeError(f"pages of {fill.SEED_SHEET} or ผลการตรวจสอบ not found in {pdf}")
        return [
            page_png(pdf, sheet[0], out_dir / "indicator_sheet_marked.png"),
            page_png(pdf, results[0], out_dir / "results_sheet.png"),
            page_png(pdf, 1, out_dir / "cover_sheet.png"),  # the cover is always the first sheet
        ]


def summary_pictures(out_dir: Path) -> list[Path]:
    """docs/img/summary_*.png: printed pages of the demo's summary, as head office's guide shows them.

    summary_overview.png (the counts, page 1), summary_chart.png (the ranking chart, a page of its own),
    summary_ranking.png (a later page of the ranking: its header repeated), summary_scores.png (the first
    page of the scores matrix) and summary_data.png (the data sheet, which prints only its note)."""
    from kpi_xl import printout
    from kpi_xl.demo import run_demo
    from kpi_xl.summary import SHEETS

    with tempfile.TemporaryDirectory(prefix="kpi-pictures-") as folder:
        made = run_demo(Path(folder) / "demo", web=False)
        pdf = libreoffice.convert(made["summary"], "pdf", Path(folder) / "pdf")
        pages = printout.read_pages(pdf)

        def of(sheet: str) -> list[int]:
            return [p.number for p in pages if sheet in p.footer_text.replace(" ", "")]

        overview = of(SHEETS["overview"])
        ranking = [n for n in overview if "ranking:" in pages[n - 1].text()][0]
        return [
            page_png(pdf, overview[0], out_dir / "summary_overview.png"),
            page_png(pdf, overview[1], out_dir / "summary_chart.png"),
            page_png(pdf, ranking + 1, out_dir / "summary_ranking.png"),
            page_png(pdf, of(SHEETS["scores"])[0], out_dir / "summary_scores.png"),
            page_png(pdf, of(SHEETS["data"])[0], out_dir / "summary_data.png"),
        ]


def cycle_pictures(out_dir: Path) -> list[Path]:
    """docs/img/review_workbook.png, feedback_sheet.png and feedback_box.png: the year's cycle on
    real files: Chatuchak and Phra Nakhon sign off (kpi-xl submit), head office consolidates, a
    reviewer fills the review workbook (one item sent back), kpi-xl review apply writes the
    feedback workbooks; LibreOffice prints the review workbook and Chatuchak's feedback copy."""
    import datetime as dt

    import openpyxl

    from kpi_xl.consolidate import consolidate
    from kpi_xl.headoffice import review
    from kpi_xl.headoffice.apply import apply_review
    from kpi_xl.submit import submit_file

    sys_path_tests()
    from test_consolidate import clean_values

    with tempfile.TemporaryDirectory(prefix="kpi-pictures-") as folder:
        work = Path(folder)
        cat = catalog.load(SAMPLE)
        inbox, out = work / "inbox", work / "out"
        inbox.mkdir()
        out.mkdir()
        for code in (CHATUCHAK, 1001):
            built = template.build_workbook(cat, code, work / "built", force=True, macros=False)
            values = clean_values(cat, code, 2, code)
            for named in values.values():
                named.update({"signer_name": "นางสาวสุภาพร ใจดี", "signer_position": "หัวหน้าฝ่ายปกครอง",
                              "signed_date": dt.date(2021, 3, 31)})
            filled = fill.fill_workbook(built, work / "filled" / built.name, values=values, report_quarter=2)
            submit_file(filled, 2, out=inbox / built.name)
        result = consolidate(inbox, cat, 2, out=out / "summary.xlsx")
        path = result.paths["review"]
        wb = openpyxl.load_workbook(path)
        ws = wb[review.SHEET]
        col = {k: i + 1 for k, i in review.COL.items()}
        for r in range(2, ws.max_row + 1):
            code, ind = int(ws.cell(r, col["district_code"]).value), ws.cell(r, col["indicator_code"]).value
            if code != CHATUCHAK:
                continue
            back = ind == "KPI-03"
            ws.cell(r, col["hq_score"]).value = 2 if back else 4
            ws.cell(r, col["decision"]).value = review.RETURN if back else review.ACCEPT
            ws.cell(r, col["reviewer"]).value = "นายตรวจ ละเอียด"
            if back:
                ws.cell(r, col["hq_comment"]).value = "ผลไตรมาสที่ 2 ไม่ตรงกับหลักฐานที่แนบ กรุณาตรวจสอบและแก้ไข"
        wb.save(path)
        applied = apply_review(path)
        review_pdf = libreoffice.convert(path, "pdf", work / "pdf_review")
        copy = applied.feedback[CHATUCHAK]
        feedback_pdf = libreoffice.convert(copy, "pdf", work / "pdf_feedback")
        pages = pdf_pages(feedback_pdf)
        box = [n for n, page in enumerate(pages, start=1) if "Head office's review" in page and "· KPI-03" in page]
        if not box:
            raise RuntimeError(f"the review box on KPI-03 was not found in {feedback_pdf}")
        return [
            page_png(review_pdf, 1, out_dir / "review_workbook.png"),
            page_png(feedback_pdf, len(pages), out_dir / "feedback_sheet.png"),  # the feedback sheet is the last
            page_png(feedback_pdf, box[-1], out_dir / "feedback_box.png"),
        ]


def sys_path_tests() -> None:
    """The pictures reuse the tests' clean sample values (tests/test_consolidate.py)."""
    import sys

    tests = str(REPO / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DOCS / "img", help="folder for the pictures")
    parser.add_argument("--only", choices=["cycle"], help="only the review and feedback pictures")
    args = parser.parse_args()
    if args.only == "cycle":
        for path in cycle_pictures(args.out):
            print(path)
        return
    print(indicator_sheet_picture(args.out / "indicator_sheet_filled.png"))
    for path in marked_pictures(args.out):
        print(path)
    for path in summary_pictures(args.out):
        print(path)
    for path in cycle_pictures(args.out):
        print(path)


if __name__ == "__main__":
    main()
