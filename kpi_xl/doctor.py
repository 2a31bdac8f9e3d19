"""``kpi-xl doctor``: what the Excel button needs on this PC, and what is missing.

Run by the offline installer as its self-check and by IT when a clerk reports that the button
"does nothing". Every check says, in Thai with English beside, what it found and what to do.
Each check is *required* (the button cannot work without it: the exit code is non-zero) or
*advice* (the button works, but something deserves a look). Nothing here needs Excel.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

# What the button imports when pressed (kpi_xl.excel and what it imports lazily).
BUTTON_MODULES = ("kpi_xl.excel", "kpi_xl.form", "kpi_xl.validate", "kpi_xl.marks", "kpi_xl.model",
                  "pydantic", "yaml")
SUPPORTED = ((3, 11), (3, 13))


@dataclass(frozen=True, slots=True)
class Check:
    """One finding: ``ok`` False on a required check means the button cannot work here."""

    name: str
    ok: bool
    th: str
    en: str
    required: bool = True

    @property
    def mark(self) -> str:
        return "OK " if self.ok else ("ขาด" if self.required else "ดู ")


def _python() -> Check:
    version = sys.version_info[:2]
    low, high = SUPPORTED
    ok = low <= version <= high
    text = f"{version[0]}.{version[1]} ({sys.executable})"
    if ok:
        return Check("python", True, f"Python {text}", f"Python {text}")
    return Check("python", False, f"Python {text} ไม่ใช่รุ่น 3.11–3.13 ที่รองรับ: ติดตั้ง Python 3.11–3.13 แล้วติดตั้ง kpi-xl ใหม่",
                 f"Python {text} is not 3.11-3.13: install a supported Python and reinstall kpi-xl")


def _imports() -> Check:
    failed = []
    for module in BUTTON_MODULES:
        try:
            importlib.import_module(module)
        except Exception as exc:  # noqa: BLE001 - any import failure is the finding itself
            failed.append(f"{module} ({type(exc).__name__}: {exc})")
    if not failed:
        from . import __version__

        return Check("imports", True, f"kpi-xl {__version__} และโมดูลที่ปุ่มใช้ นำเข้าได้ครบ",
                     f"kpi-xl {__version__} and the modules the button uses import")
    return Check("imports", False, "นำเข้าโมดูลไม่ได้: " + "; ".join(failed) + " — ติดตั้งชุดติดตั้ง kpi-xl ใหม่",
                 "cannot import: " + "; ".join(failed) + " — reinstall the kpi-xl bundle")


def _xlwings() -> list[Check]:
    from .xlcompat import MINIMUM, PINNED, fallbacks_in_use, missing_members, version_tuple

    try:
        import xlwings as xw
    except Exception as exc:  # noqa: BLE001
        return [Check("xlwings", False, f"ไม่พบ xlwings ({exc}): ติดตั้งชุดติดตั้ง kpi-xl ใหม่",
                      f"xlwings missing ({exc}): reinstall the kpi-xl bundle")]
    version = xw.__version__
    out = []
    if version_tuple(version) < version_tuple(MINIMUM):
        out.append(Check("xlwings", False, f"xlwings {version} เก่ากว่า {MINIMUM} ที่ปุ่มต้องใช้",
                         f"xlwings {version} is older than {MINIMUM}, which the button needs"))
    elif version != PINNED:
        out.append(Check("xlwings", True, f"xlwings {version} (รุ่นที่ทดสอบแล้วคือ {PINNED}; แฟ้มที่สร้างด้วย {PINNED} จะแจ้งเตือนเมื่อกดปุ่ม)",
                         f"xlwings {version} (tested: {PINNED}; workbooks built with {PINNED} will warn)",
                         required=False))
    else:
        out.append(Check("xlwings", True, f"xlwings {version} ตรงกับรุ่นที่ทดสอบ", f"xlwings {version}, the tested release"))
    missing = missing_members(xw)
    out.append(Check("xlwings-api", not missing,
                     "ปุ่มเรียกใช้ xlwings ได้ครบ" if not missing else "xlwings ขาดคำสั่งที่ปุ่มใช้: " + ", ".join(missing),
                     "every xlwings member the button uses exists" if not missing
                     else "xlwings lacks: " + ", ".join(missing)))
    for fallback in fallbacks_in_use(xw):
        out.append(Check("xlwings-fallback", True, f"ใช้ทางสำรองผ่าน COM: {fallback}",
                         f"COM fallback in use: {fallback}", required=False))
    return out


def _pywin32() -> Check:
    if not sys.platform.startswith("win"):
        return Check("pywin32", True, "ไม่ใช่ Windows: ไม่ต้องใช้ pywin32", "not Windows: pywin32 not needed", required=False)
    try:
        importlib.import_module("pywintypes")
        importlib.import_module("win32com.client")
    except Exception as exc:  # noqa: BLE001
        return Check("pywin32", False, f"pywin32 ใช้ไม่ได้ ({exc}): ติดตั้งชุดติดตั้ง kpi-xl ใหม่",
                     f"pywin32 broken ({exc}): reinstall the kpi-xl bundle")
    return Check("pywin32", True, "pywin32 ใช้ได้ (xlwings คุยกับ Excel ผ่าน COM)", "pywin32 works (xlwings' COM link)")


def _interpreter() -> Check:
    """Whether the Python the workbooks name by default exists (advice: IT may build with another)."""
    from .template import DEFAULT_INTERPRETER

    if not sys.platform.startswith("win"):
        return Check("interpreter", True, f"แฟ้มที่สร้างโดยปริยายเรียก {DEFAULT_INTERPRETER} (บน Windows)",
                     f"workbooks start {DEFAULT_INTERPRETER} by default (on Windows)", required=False)
    path = Path(os.path.expandvars(DEFAULT_INTERPRETER))
    if path.is_file():
        return Check("interpreter", True, f"พบ {path} ที่แฟ้มรายงานเรียกใช้", f"found {path}, the workbooks' interpreter",
                     required=False)
    return Check("interpreter", False,
                 f"ไม่พบ {path}: แฟ้มที่สร้างโดยปริยายจะหา Python ไม่เจอ ให้ติดตั้งด้วย install.cmd หรือสร้างแฟ้มด้วย --interpreter {sys.executable}",
                 f"{path} not found: default workbooks will not find Python; run install.cmd or build with "
                 f"--interpreter {sys.executable}", required=False)


def _addin() -> Check:
    """The workbooks carry their own xlwings.conf sheet and VBA module: no add-in is needed, and a
    user-level config could only confuse (the sheet wins, but IT should know it is there)."""
    conf = Path.home() / ".xlwings" / "xlwings.conf"
    if conf.is_file():
        return Check("addin", True, f"พบ {conf} (ค่าในแผ่นงาน xlwings.conf ของแฟ้มมีผลก่อน)",
                     f"{conf} exists (the workbook's xlwings.conf sheet takes precedence)", required=False)
    return Check("addin", True, "ไม่ต้องติดตั้ง add-in ของ xlwings: แฟ้มมีโมดูล VBA และแผ่นงาน xlwings.conf ในตัว",
                 "no xlwings add-in needed: each workbook carries its VBA module and xlwings.conf sheet",
                 required=False)


def _logs() -> Check:
    from .excel import _log_file

    path = _log_file()
    return Check("logs", True, f"บันทึกการทำงานของปุ่มอยู่ที่ {path.parent}", f"button logs go to {path.parent}",
                 required=False)


def checks() -> list[Check]:
    """Every check, in the order a person would fix them."""
    out = [_python(), _imports(), *_xlwings(), _pywin32(), _interpreter(), _addin()]
    try:
        out.append(_logs())
    except Exception as exc:  # noqa: BLE001
        out.append(Check("logs", False, f"เขียนบันทึกไม่ได้ ({exc})", f"cannot write logs ({exc})", required=False))
    return out


def ok(found: list[Check]) -> bool:
    return all(c.ok for c in found if c.required)


def render(found: list[Check]) -> str:
    lines = ["kpi-xl doctor: สิ่งที่ปุ่ม ตรวจสอบข้อมูล ต้องใช้ในเครื่องนี้ / what the button needs on this PC", ""]
    for c in found:
        lines.append(f"[{c.mark}] {c.name}: {c.th}")
        lines.append(f"      {c.en}")
    lines.append("")
    if ok(found):
        lines.append("พร้อมใช้งาน / Ready.")
    else:
        missing = ", ".join(c.name for c in found if c.required and not c.ok)
        lines.append(f"ยังขาด: {missing} — แก้ตามข้อความด้านบน / Missing: {missing} — fix as said above.")
    return "\n".join(lines)
