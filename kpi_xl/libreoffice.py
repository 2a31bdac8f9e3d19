"""LibreOffice headless as the real spreadsheet client: convert, recalculate, print, insert rows.

Tests, docs pictures and benchmarks use it to check what kpi-xl writes the way a person's office
suite would read it. Every run gets its own throw-away user profile (``-env:UserInstallation``),
so parallel runs never share a lock, and the profile is told to recalculate every formula on load
(LibreOffice's default for .xlsx is to trust cached values, which openpyxl drops).

Row insertion goes through UNO, as a person's "Insert Rows Above" does, so that defined names and
references move the way they would in the office. UNO lives in the *system* Python
(``/usr/bin/python3`` with Debian's python3-uno), so a small script runs there in a subprocess.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any

from .files import atomic_path

UNO_PYTHON = os.environ.get("KPI_XL_UNO_PYTHON", "/usr/bin/python3")
DEFAULT_TIMEOUT = 180
FILTERS = {
    "pdf": "pdf:calc_pdf_Export",
    "xlsx": 'xlsx:Calc MS Excel 2007 XML',
    "xlsm": 'xlsm:Calc MS Excel 2007 VBA XML',
    "ods": "ods:calc8",
}
STORE_FILTERS = {".xlsm": "Calc MS Excel 2007 VBA XML", ".xlsx": "Calc MS Excel 2007 XML", ".ods": "calc8"}

# Always recalculate on load (0 = always, 1 = never, 2 = ask) for OOXML and ODF files.
_REGISTRY = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Misc"><prop oor:name="FirstRun" oor:op="fuse"><value>false</value></prop></item>
</oor:items>
"""


class LibreOfficeError(RuntimeError):
    """LibreOffice failed or timed out; the message carries its output."""


def soffice_path() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def soffice_available() -> bool:
    return soffice_path() is not None


def uno_available() -> bool:
    """Whether row insertion (UNO through the system Python) can run here."""
    if not soffice_available() or not Path(UNO_PYTHON).exists():
        return False
    done = subprocess.run([UNO_PYTHON, "-c", "import uno"], capture_output=True, timeout=30)
    return done.returncode == 0


def _profile(folder: Path) -> str:
    user = folder / "user"
    user.mkdir(parents=True, exist_ok=True)
    (user / "registrymodifications.xcu").write_text(_REGISTRY, encoding="utf-8")
    return folder.as_uri()


def _soffice() -> str:
    found = soffice_path()
    if found is None:
        raise LibreOfficeError("ไม่พบ LibreOffice (soffice) / LibreOffice (soffice) is not installed")
    return found


def convert(path: str | Path, to: str = "pdf", outdir: str | Path | None = None, *,
            timeout: float = DEFAULT_TIMEOUT) -> Path:
    """Open ``path`` in LibreOffice (formulas recalculated) and save it as ``to``; returns the new file.

    ``to`` is ``pdf``, ``xlsx``, ``xlsm`` or ``ods``. The output lands in ``outdir`` (default: beside
    the input) under the input's stem; an input is never overwritten.
    """
    src = Path(path).resolve()
    out = Path(outdir).resolve() if outdir is not None else src.parent
    return convert_many([src], to, out, timeout=timeout)[0]


def convert_many(paths: list[Path], to: str, outdir: str | Path, *, timeout: float = DEFAULT_TIMEOUT) -> list[Path]:
    """:func:`convert` for many files in one LibreOffice start (starting it costs seconds, a workbook
    far less), all into ``outdir``; stems must differ. Returns the new files in the order given."""
    sources = [Path(p).resolve() for p in paths]
    for src in sources:
        if not src.is_file():
            raise FileNotFoundError(src)
    if len({s.stem for s in sources}) != len(sources):
        raise ValueError("convert_many: two inputs share a name, their outputs would collide")
    out = Path(outdir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    targets = [out / f"{src.stem}.{to}" for src in sources]
    for src, target in zip(sources, targets, strict=True):
        if target == src:
            raise ValueError(f"จะไม่เขียนทับไฟล์ต้นฉบับ {src} / refusing to overwrite the input {src}")
    with tempfile.TemporaryDirectory(prefix="kpi-lo-") as folder:
        work = Path(folder)
        staging = work / "out"
        command = [_soffice(), f"-env:UserInstallation={_profile(work / 'profile')}", "--headless",
                   "--norestore", "--nologo", "--convert-to", FILTERS.get(to, to), "--outdir", str(staging),
                   *map(str, sources)]
        names = ", ".join(s.name for s in sources)
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout * len(sources))
        except subprocess.TimeoutExpired as exc:
            raise LibreOfficeError(f"LibreOffice timed out after {timeout * len(sources):.0f} s converting {names}") from exc
        for src, target in zip(sources, targets, strict=True):
            produced = staging / f"{src.stem}.{to}"
            if done.returncode != 0 or not produced.exists():
                raise LibreOfficeError(f"LibreOffice could not convert {src.name} to {to}:\n{done.stdout}\n{done.stderr}")
            with atomic_path(target) as tmp:
                shutil.move(str(produced), tmp)
    return targets


def recalc(path: str | Path, outdir: str | Path) -> Path:
    """An .xlsx saved by LibreOffice after recalculating: read its cached values with openpyxl ``data_only``."""
    return convert(path, "xlsx", outdir)


def recalculated_values(path: str | Path) -> dict[str, dict[str, Any]]:
    """{sheet: {defined name: value}} of every sheet-scoped name, after LibreOffice recalculated the file."""
    import openpyxl

    with tempfile.TemporaryDirectory(prefix="kpi-recalc-") as folder:
        saved = recalc(path, folder)
        book = openpyxl.load_workbook(saved, data_only=True)
        values: dict[str, dict[str, Any]] = {}
        for ws in book.worksheets:
            for name, defined in ws.defined_names.items():
                for sheet, ref in defined.destinations:
                    values.setdefault(ws.title, {})[name] = book[sheet][ref.replace("$", "").split(":")[0]].value
        return values


# ---------------------------------------------------------------------------------------------
# UNO: operations a person does in the office suite.

_UNO_SCRIPT = r'''
import json, subprocess, sys, time
import uno
from com.sun.star.beans import PropertyValue

def pv(name, value):
    p = PropertyValue(); p.Name = name; p.Value = value; return p

job = json.loads(sys.argv[1])
pipe = job["pipe"]
proc = subprocess.Popen([job["soffice"], "-env:UserInstallation=" + job["profile"], "--headless", "--invisible",
                         "--nologo", "--norestore", "--nodefault", "--accept=pipe,name=%s;urp;" % pipe],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
result = {}
try:
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
    ctx = None
    deadline = time.time() + job["timeout"]
    while ctx is None:
        try:
            ctx = resolver.resolve("uno:pipe,name=%s;urp;StarOffice.ComponentContext" % pipe)
        except Exception:
            if time.time() > deadline or proc.poll() is not None:
                raise
            time.sleep(0.1)
    desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
    doc = desktop.loadComponentFromURL(uno.systemPathToFileUrl(job["src"]), "_blank", 0, (pv("Hidden", True),))
    for op in job["ops"]:
        if op["op"] == "insert_rows":
            sheet = doc.Sheets.getByName(op["sheet"])
            protected = sheet.isProtected()
            if protected:
                sheet.unprotect(op.get("password") or "")
            sheet.Rows.insertByIndex(op["row"] - 1, op["count"])
            if protected:
                sheet.protect(op.get("password") or "")
        elif op["op"] == "optimal_heights":
            sheet = doc.Sheets.getByName(op["sheet"])
            heights = []
            for r in range(op["rows"]):
                row = sheet.Rows.getByIndex(r)
                row.OptimalHeight = True
                heights.append(row.Height / 100.0 / 25.4 * 72.0)  # 1/100 mm -> points
            result[op["sheet"]] = heights
        elif op["op"] == "calculate":
            doc.calculateAll()
    if job.get("dst"):
        doc.storeToURL(uno.systemPathToFileUrl(job["dst"]), (pv("FilterName", job["filter"]),))
    doc.close(True)
    try:
        desktop.terminate()
    except Exception:
        pass
finally:
    try:
        proc.wait(timeout=30)
    except Exception:
        proc.kill()
print(json.dumps(result))
'''


def run_uno(src: str | Path, ops: list[dict[str, Any]], dst: str | Path | None = None, *,
            timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
    """Open ``src`` in LibreOffice over UNO, apply ``ops`` and store to ``dst`` (by its extension)."""
    src_path = Path(src).resolve()
    if not src_path.is_file():
        raise FileNotFoundError(src_path)
    with tempfile.TemporaryDirectory(prefix="kpi-uno-") as folder:
        work = Path(folder)
        script = work / "uno_job.py"
        script.write_text(_UNO_SCRIPT, encoding="utf-8")
        staged = None
        job: dict[str, Any] = {"pipe": f"kpi_xl_{uuid.uuid4().hex}", "soffice": _soffice(),
                               "profile": _profile(work / "profile"), "src": str(src_path), "ops": ops,
                               "timeout": timeout}
        if dst is not None:
            suffix = Path(dst).suffix.lower()
            if suffix not in STORE_FILTERS:
                raise ValueError(f"cannot store {suffix} files; use one of {', '.join(STORE_FILTERS)}")
            staged = work / f"out{suffix}"
            job.update(dst=str(staged), filter=STORE_FILTERS[suffix])
        try:
            done = subprocess.run([UNO_PYTHON, str(script), json.dumps(job)], capture_output=True, text=True,
                                  timeout=timeout + 30)
        except subprocess.TimeoutExpired as exc:
            raise LibreOfficeError(f"LibreOffice (UNO) timed out after {timeout:.0f} s on {src_path.name}") from exc
        if done.returncode != 0 or (staged is not None and not staged.exists()):
            raise LibreOfficeError(f"LibreOffice (UNO) failed on {src_path.name}:\n{done.stdout}\n{done.stderr}")
        if staged is not None and dst is not None:
            if Path(dst).resolve() == src_path:
                raise ValueError(f"จะไม่เขียนทับไฟล์ต้นฉบับ {src_path} / refusing to overwrite the input {src_path}")
            with atomic_path(Path(dst)) as tmp:
                shutil.move(str(staged), tmp)
        lines = done.stdout.strip().splitlines()
        return json.loads(lines[-1]) if lines else {}


def insert_rows(src: str | Path, dst: str | Path, sheet: str, row: int, count: int = 1, *,
                password: str | None = None) -> Path:
    """Insert ``count`` rows above 1-based ``row`` of ``sheet``, as a person would, and save to ``dst``.

    A protected sheet is unprotected for the insertion and protected again (with ``password``).
    .xlsm files keep their VBA project (stored with "Calc MS Excel 2007 VBA XML").
    """
    if row < 1 or count < 1:
        raise ValueError("row and count start at 1")
    run_uno(src, [{"op": "insert_rows", "sheet": sheet, "row": row, "count": count, "password": password}], dst)
    return Path(dst)
