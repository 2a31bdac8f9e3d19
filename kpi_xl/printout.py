"""What a printout looks like on paper, read back from a PDF: word boxes, text sizes, which sheet a page is.

kpi-xl's workbooks are printed (district reports are signed on paper, executives read the summary
on paper), so tests and the docs pictures check the PDF LibreOffice prints instead of trusting the
print settings: a sheet squeezed onto one page wide by ``fit_to_pages`` looks fine in the file and
prints 5 pt text. The words come from poppler's ``pdftotext -bbox-layout``; it gives boxes, not
font sizes, so a size is a box height divided by a ratio measured on a cell of known size printed in
the same font (:func:`calibration_workbook`). pdftotext splits Thai words around stacked marks into
zero-width pieces; those are dropped.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

CALIBRATION_SIZE = 11.0
CALIBRATION_TEXT = "ทดสอบขนาดตัวอักษร calibration 0123456789"
FOOTER_PAGE = re.compile(r"หน้า\s*(\d+)\s*/\s*(\d+)")


@dataclass(frozen=True)
class Word:
    text: str
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def height(self) -> float:
        return self.y1 - self.y0


@dataclass
class Page:
    """One printed page; ``footer`` holds the words of the bottom band (sheet name, page number)."""

    number: int
    width: float
    height: float
    words: list[Word] = field(default_factory=list)
    footer_band: float = 40.0  # points from the bottom edge: the footer sits in the bottom margin

    @property
    def body(self) -> list[Word]:
        """Words above the footer, less pdftotext's zero-width pieces and pieces of text turned upright
        (a chart's axis labels: one glyph wider than tall, which no upright glyph is)."""
        return [w for w in self.words if w.y0 < self.height - self.footer_band and w.x1 - w.x0 > 0.5
                and not (_glyphs(w.text) <= 1 and w.x1 - w.x0 > w.height)]

    @property
    def footer(self) -> list[Word]:
        """The footer line: words of the bottom band on the line of its page number ("หน้า"). LibreOffice
        also writes clipped, invisible text of a chart anchored on the next page into the band."""
        band = [w for w in self.words if w.y0 >= self.height - self.footer_band]
        marks = [w.y0 for w in band if w.text == "หน้า"]
        return [w for w in band if abs(w.y0 - marks[-1]) < 2.0] if marks else band

    @property
    def footer_text(self) -> str:
        return " ".join(w.text for w in sorted(self.footer, key=lambda w: (round(w.y0), w.x0)))

    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    def lines(self, tolerance: float = 2.0) -> list[list[Word]]:
        """Body words grouped into printed lines (same top within ``tolerance``), left to right."""
        rows: list[list[Word]] = []
        for w in sorted(self.body, key=lambda w: (w.y0, w.x0)):
            if rows and abs(rows[-1][0].y0 - w.y0) <= tolerance:
                rows[-1].append(w)
            else:
                rows.append([w])
        return [sorted(r, key=lambda w: w.x0) for r in rows]


def _glyphs(text: str) -> int:
    """Characters that take width: Thai vowels above/below and tone marks stack on their consonant."""
    return sum(1 for ch in text if unicodedata.category(ch) not in ("Mn", "Me", "Cf"))


def read_pages(pdf: str | Path) -> list[Page]:
    """Every page of ``pdf`` with its word boxes (points, origin top left)."""
    done = subprocess.run(["pdftotext", "-bbox-layout", str(pdf), "-"], capture_output=True, text=True, check=True)
    xml = re.sub(r"<!DOCTYPE[^>]*>", "", done.stdout)
    root = ET.fromstring(xml)
    ns = {"h": "http://www.w3.org/1999/xhtml"}
    pages = []
    for n, page in enumerate(root.iterfind(".//h:page", ns), start=1):
        words = [Word(w.text or "", float(w.get("xMin", 0)), float(w.get("yMin", 0)), float(w.get("xMax", 0)),
                      float(w.get("yMax", 0))) for w in page.iterfind(".//h:word", ns)]
        pages.append(Page(n, float(page.get("width", 0)), float(page.get("height", 0)), words))
    return pages


def calibration_workbook(path: str | Path, font: str = "TH Sarabun New") -> Path:
    """A one-cell workbook printed at 100 %: ``CALIBRATION_TEXT`` in ``font`` at ``CALIBRATION_SIZE`` pt.

    Printed in the same LibreOffice run as the workbooks under test, its box height per point turns
    every other box height into a font size, whatever font the PDF substitutes for ``font``.
    """
    import xlsxwriter

    path = Path(path)
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("calibration")
    ws.set_paper(9)
    ws.set_print_scale(100)
    ws.set_column(0, 0, 60)
    ws.write_string(0, 0, CALIBRATION_TEXT, wb.add_format({"font_name": font, "font_size": CALIBRATION_SIZE}))
    wb.close()
    return path


def points_per_height(calibration_pdf: str | Path) -> float:
    """Font size in points per point of word-box height, measured on :func:`calibration_workbook`'s PDF."""
    words = [w for w in read_pages(calibration_pdf)[0].body if w.x1 - w.x0 > 0.5]
    if not words:
        raise ValueError(f"no text in the calibration PDF {calibration_pdf}")
    return CALIBRATION_SIZE / statistics.median(w.height for w in words)


def sizes(page: Page, ratio: float) -> list[float]:
    """Estimated font size (points, as printed) of each body word of ``page``."""
    return [round(w.height * ratio, 2) for w in page.body]


def page_numbers(page: Page) -> tuple[int, int] | None:
    """(this page, of pages) from a footer "หน้า P / N", as kpi-xl's footers print it."""
    found = FOOTER_PAGE.search(page.footer_text.replace(" ", ""))
    return (int(found.group(1)), int(found.group(2))) if found else None
