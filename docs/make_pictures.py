"""Re-make the pictures in docs/ from the real thing: workbooks kpi-xl builds, printed by LibreOffice.

    python docs/make_pictures.py            # writes docs/img/*.png

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DOCS / "img", help="folder for the pictures")
    args = parser.parse_args()
    print(indicator_sheet_picture(args.out / "indicator_sheet_filled.png"))


if __name__ == "__main__":
    main()
