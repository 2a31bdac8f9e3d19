"""The workbook's VBA project: xlwings' standalone module plus our macros, made without Excel.

XlsxWriter can embed a ``vbaProject.bin`` but cannot make one; pyOpenVBA can make one (the way
Excel does for a first macro: ``ThisWorkbook`` and one document module per sheet) but leaves the
package typed as ``.xlsx``. So the project is made once on a throw-away skeleton workbook with the
same number of sheets (the document modules' code names are ``Sheet1``…``SheetN`` by position in
both libraries), and its bytes are handed to XlsxWriter's ``add_vba_project(..., is_stream=True)``
for the real workbook. The bytes depend only on the sheet count and the module sources, so they
are cached: 50 district workbooks need at most a couple of projects.

The ``VBA/_VBA_PROJECT`` stream is then replaced by its version-independent form (MS-OVBA 2.3.4.1:
"Version (2 bytes): ... MUST be 0xFFFF" on write, no PerformanceCache), the 7 bytes xlwings' own
``quickstart_standalone.xlsm`` ships. pyOpenVBA writes version 0x00B5 followed by a zeroed cache;
an Excel whose VBA version is 0xB5 could take that cache as its own and read garbage, whereas with
0xFFFF every Excel ignores the cache and compiles the source, which is all the project carries.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import zipfile
from functools import cache
from importlib import resources
from importlib import util as importlib_util
from pathlib import Path

MACROS_DIR = Path(str(resources.files("kpi_xl.macros")))  # the repo's macros/, shipped as package data
XLWINGS_MODULE = "xlwings"
VBA_ENTRY = "xl/vbaProject.bin"
# MS-OVBA 2.3.4.1 and its example 3.1.1: Reserved1 0x61CC, Version 0xFFFF, Reserved2 0x00,
# Reserved3 0x0001 (little-endian), then no PerformanceCache.
VBA_PROJECT_STREAM = bytes.fromhex("cc61ffff000100")


def xlwings_bas_path() -> Path:
    """The standalone module shipped inside the installed xlwings package (same version as Python's)."""
    spec = importlib_util.find_spec("xlwings")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("xlwings is not installed / ไม่พบแพ็กเกจ xlwings")
    path = Path(spec.origin).parent / "xlwings.bas"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found / ไม่พบไฟล์ {path}")
    return path


@cache
def xlwings_vba_version() -> str:
    """The version on the ``'Version:`` line of the ``xlwings.bas`` that goes into the workbook."""
    from .xlcompat import vba_module_version

    version = vba_module_version(xlwings_bas_path().read_text(encoding="ascii"))
    if version is None:
        raise ValueError(f"no 'Version: line in {xlwings_bas_path()} / ไม่พบบรรทัดรุ่นในโมดูล xlwings")
    return version


def _crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def _module_name(source: str, fallback: str) -> str:
    for line in source.splitlines():
        if line.startswith("Attribute VB_Name"):
            return line.split("=", 1)[1].strip().strip('"')
    return fallback


def module_sources() -> dict[str, str]:
    """Module name → source (CRLF, ASCII): xlwings first, then ``macros/*.bas`` in name order."""
    sources: dict[str, str] = {}
    text = xlwings_bas_path().read_text(encoding="ascii")
    sources[_module_name(text, XLWINGS_MODULE)] = _crlf(text)
    for path in sorted(MACROS_DIR.glob("*.bas")):
        text = path.read_text(encoding="ascii")  # UnicodeDecodeError here = Thai text crept into VBA
        sources[_module_name(text, path.stem)] = _crlf(text)
    return sources


def sources_digest(sources: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for name, text in sources.items():
        digest.update(f"{name}\x1f{text}\x1e".encode("ascii"))
    return digest.hexdigest()


def code_names(sheet_count: int) -> list[str]:
    """Code names of the sheets, as both XlsxWriter and pyOpenVBA assign them by position."""
    return [f"Sheet{i}" for i in range(1, sheet_count + 1)]


def project_bytes(sheet_count: int) -> bytes:
    """``vbaProject.bin`` for a workbook of ``sheet_count`` sheets with our modules (cached)."""
    sources = module_sources()
    return _project_bytes(sheet_count, sources_digest(sources), tuple(sources.items()))


@cache
def _project_bytes(sheet_count: int, digest: str, sources: tuple[tuple[str, str], ...]) -> bytes:
    import xlsxwriter
    from pyopenvba import ExcelFile

    with tempfile.TemporaryDirectory(prefix="kpi-vba-") as folder:
        skeleton = Path(folder) / "skeleton.xlsm"
        out = Path(folder) / "project.xlsm"
        buffer = io.BytesIO()
        book = xlsxwriter.Workbook(buffer, {"in_memory": True})
        for i in range(sheet_count):
            book.add_worksheet(f"S{i + 1}")
        book.close()
        skeleton.write_bytes(buffer.getvalue())
        with ExcelFile(skeleton) as excel:
            project = excel.add_vba_project()
            for name, text in sources:
                project.add_module(name, text)
            excel.save(out)
        with zipfile.ZipFile(out) as package:
            return version_independent(package.read(VBA_ENTRY))


def version_independent(project: bytes) -> bytes:
    """``project`` with its ``VBA/_VBA_PROJECT`` stream in the form MS-OVBA prescribes for writers.

    pyOpenVBA's CFB writer rebuilds the compound file, so the stream may shrink (2,544 → 7 bytes);
    every other stream is carried over byte for byte.
    """
    from pyopenvba.cfb import CFB

    cfb = CFB.from_bytes(project)
    if cfb.get_stream_in_storage("VBA", "_VBA_PROJECT") == VBA_PROJECT_STREAM:
        return project
    cfb.write_stream_in_storage("VBA", "_VBA_PROJECT", VBA_PROJECT_STREAM)
    return cfb.to_bytes()
