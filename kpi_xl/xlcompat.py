"""The xlwings API by version: what the button calls, since when it exists, and the fallbacks.

The package allows ``xlwings>=0.33`` (a district PC may keep whatever IT installed last year), but
the button was written against the version pinned in the ``windows`` extra (:data:`PINNED`). One
method it uses is younger than the floor: ``Range.add_note`` first appears in 0.37.5 (checked in the
released wheels: 0.33.0, 0.36.17, 0.37.0, 0.37.2 and 0.37.4 have ``Range.note`` and ``Note.delete``
but no way to add a note; 0.37.5, 0.37.6 and 0.37.8 have it). Without a fallback the
first faulty cell would be coloured and the button would then fail on exactly the workbooks it must
mark. So every call that is not in every allowed version goes through a function here that detects
the method and otherwise uses Excel's own COM object model (``Range.AddComment``), which desktop
Excel has had since Excel 97.

:data:`USED` lists every xlwings member the button touches; ``tests/test_xlwings_versions.py``
checks it against the real packages of the oldest allowed release, the last release without
``add_note`` and the pinned one, so a new call cannot slip in unchecked. The same list drives
``kpi-xl doctor`` and the offline installer's self-check.

The workbook carries its VBA module's version (the ``'Version:`` line of the ``xlwings.bas`` it was
built with) in a row of its ``xlwings.conf`` sheet (:data:`VBA_VERSION_KEY`), because reading the
VBA project itself from Python needs "Trust access to the VBA project object model", which is off
on government PCs. The button compares it with the PC's xlwings before doing anything.
"""

from __future__ import annotations

import re
from typing import Any

# The version tested end to end (remote engine) and pinned in pyproject's `windows` extra.
PINNED = "0.37.8"
MINIMUM = "0.33.0"
ADD_NOTE_SINCE = "0.37.5"
VBA_VERSION_KEY = "kpi_xlwings_vba"  # row of the xlwings.conf sheet: the embedded xlwings.bas version

# Every xlwings member the button (kpi_xl.excel) uses, by class. Properties and methods alike.
USED: dict[str, tuple[str, ...]] = {
    "Book": ("caller", "sheets", "names", "app", "fullname"),
    "App": ("alert", "engine"),
    "Sheet": ("name", "range", "used_range", "clear", "visible", "activate", "autofit", "api"),
    "Sheets": ("add", "active"),
    "Range": ("options", "value", "color", "note", "formula", "wrap_text", "api", "add_hyperlink",
              "last_cell", "row", "column"),
    "Name": ("name", "refers_to"),
    "Note": ("delete", "api"),
}
# Members with a fallback (member → what is used instead), so their absence is not fatal.
WITH_FALLBACK: dict[str, dict[str, str]] = {
    "Range": {"add_note": "Range.api.AddComment(text) (COM, Excel 97+)"},
}

_VBA_VERSION = re.compile(r"^'Version:\s*([0-9][0-9A-Za-z.+-]*)\s*$", re.MULTILINE)


def version_tuple(version: str) -> tuple[int, ...]:
    """``0.37.8`` → (0, 37, 8); a dev/rc suffix is ignored (enough to order releases)."""
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def vba_module_version(bas_text: str) -> str | None:
    """The version xlwings writes on the third line of ``xlwings.bas`` (``'Version: 0.37.8``)."""
    match = _VBA_VERSION.search(bas_text)
    return match.group(1) if match else None


def _class(xw: Any, name: str) -> Any:
    """An xlwings API class by name: the top level exports some, ``xlwings.main`` holds them all."""
    return getattr(xw, name, None) or getattr(getattr(xw, "main", None), name, None)


def missing_members(xw: Any) -> list[str]:
    """``Class.member`` names from :data:`USED` that this xlwings module does not have."""
    out = []
    for cls_name, members in USED.items():
        cls = _class(xw, cls_name)
        for member in members:
            if cls is None or not hasattr(cls, member):
                out.append(f"{cls_name}.{member}")
    return out


def fallbacks_in_use(xw: Any) -> list[str]:
    """``Class.member → fallback`` for each member this xlwings lacks and the button works around."""
    out = []
    for cls_name, members in WITH_FALLBACK.items():
        cls = _class(xw, cls_name)
        for member, fallback in members.items():
            if cls is None or not hasattr(cls, member):
                out.append(f"{cls_name}.{member} → {fallback}")
    return out


def has_add_note(rng: Any) -> bool:
    """Whether this xlwings' Range can add a note itself (0.37.5 and later)."""
    return callable(getattr(type(rng), "add_note", None))


def add_note(rng: Any, text: str) -> Any:
    """Add a note to one cell: ``Range.add_note`` when xlwings has it, else Excel's COM call.

    Returns the xlwings ``Note`` (new xlwings) or ``None`` (COM fallback; the caller only needs the
    note object to grow its box, which is cosmetic)."""
    if has_add_note(rng):
        return rng.add_note(text)
    add_comment_com(rng, text)
    return None


def add_comment_com(rng: Any, text: str) -> None:
    """The fallback: ``Range.AddComment`` on the COM object behind an xlwings Range (desktop Excel).

    Only desktop Excel has a COM object; xlwings' remote engine exposes ``Range.api`` as the cells'
    values, so there this raises :class:`NotImplementedError` naming what is missing instead of an
    ``AttributeError`` on a tuple."""
    api = rng.api
    add_comment = getattr(api, "AddComment", None)
    if add_comment is None:
        raise NotImplementedError(
            f"Range.AddComment is not available on {type(api).__name__} (engine without COM); "
            f"xlwings {ADD_NOTE_SINCE}+ adds notes itself"
        )
    add_comment(text)


def version_message(pc_version: str, vba_version: str | None) -> tuple[str, str] | None:
    """Thai and English text when the PC's xlwings is not the workbook's VBA module version.

    ``None`` when they match or the workbook does not say (older builds): nothing to tell."""
    if not vba_version or pc_version == vba_version:
        return None
    th = (
        f"คำเตือน: เครื่องนี้ติดตั้ง xlwings รุ่น {pc_version} แต่แฟ้มนี้สร้างด้วย xlwings รุ่น {vba_version}\n"
        "ปุ่มจะตรวจสอบต่อไปตามปกติ แต่ถ้าทำงานผิดพลาด ให้เจ้าหน้าที่ไอทีติดตั้งชุดติดตั้ง kpi-xl ล่าสุด "
        f"(xlwings {vba_version}) หรือขอแฟ้มที่สร้างใหม่จากส่วนกลาง"
    )
    en = (
        f"Warning: this PC has xlwings {pc_version} but this workbook was built with xlwings {vba_version}. "
        "The check continues; if it fails, ask IT to install the current kpi-xl bundle or head office "
        "for a rebuilt workbook."
    )
    return th, en
