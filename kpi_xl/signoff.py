"""District sign-off (ยืนยันส่งรายงาน): what a district declared final, and whether it still is.

The stamp's format and head office's reading of it; below :mod:`kpi_xl.validate`, which reads the
state of every workbook it checks. The signing engine shared by the button and the command is
:mod:`kpi_xl.submit` (it runs the full check, so it sits above the validator):

* :func:`kpi_xl.submit.sign` runs the full check for the chosen quarter on a :class:`~kpi_xl.model.RawWorkbook`
  and, when no error is left (or the catalog's ``submit_with_errors`` allows it) and every indicator
  sheet's signature block (name, position, date) is filled, returns the rows to stamp into the
  hidden metadata sheet: the quarter, the signer, the time in Bangkok and a content hash of every
  contract input cell, with one short digest per cell so head office can *name* the cells changed
  later. The caller writes the rows (xlwings in Excel, openpyxl for the command).
* :func:`state_of` compares a workbook's cells with its stamp: signed and unchanged since,
  changed after signing (which cells), or not signed.

The district has no secret key (head office's HMAC key never leaves head office), so the stamp is
plain SHA-256 and has its own checksum row, ``signoff_checksum``: like ``meta_checksum`` without a
key, it reveals an accidental edit of the hidden rows, not a deliberate forgery. The per-cell
digests are what matters: a value typed after signing no longer matches its digest, whoever did it.

Stdlib only at import time: the button imports this module on every press.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import TYPE_CHECKING, Any

from .names import cell_rc

if TYPE_CHECKING:  # pragma: no cover
    from .form import FormSpec
    from .model import Cell, RawWorkbook, SignoffState

BANGKOK = dt.timezone(dt.timedelta(hours=7), "ICT")
PREFIX = "signoff_"
CHUNK = 30000
DIGEST_CHARS = 12
SIGNATURE = ("signer_name", "signer_position", "signed_date")
SHOWN_ERRORS = 15  # errors listed in the refusal message; the results sheet lists them all


# ---------------------------------------------------------------------------------------------
# What is hashed: every input contract cell, by sheet and A1 address, with its value as read.


def canonical(value: Any) -> str:
    """One text per value, the same whichever reader fetched it (calamine, xlwings, openpyxl)."""
    if type(value) is str:  # the usual case, decided first (~500 a workbook, hashed per sheet)
        return f"s:{value}" if value.strip() else ""
    if value is None or (isinstance(value, str) and not value.strip()):
        return ""
    if isinstance(value, bool):
        return f"b:{int(value)}"
    if isinstance(value, (int, float)):
        return f"n:{float(value)!r}"
    if isinstance(value, dt.datetime):
        return f"d:{value.date().isoformat()}" if value.time() == dt.time(0) else f"t:{value.isoformat()}"
    if isinstance(value, dt.date):
        return f"d:{value.isoformat()}"
    return f"s:{value}"


def contract_cells(raw: RawWorkbook, spec: FormSpec | None = None) -> dict[str, tuple[Cell, str]]:
    """``"KPI-05!E21"`` → (cell, canonical value) for every input cell the district fills: the
    indicator sheets' input names and the cover's workbook names (not the metadata sheet). Computed
    cells are left out: their values are Excel's to recalculate, not the district's to declare."""
    if spec is None:
        from .form import load_spec

        spec = load_spec()
    out: dict[str, tuple[Cell, str]] = {}
    for cells in raw.sheets.values():
        for name, cell in cells.items():
            fs = spec.fields.get(name)
            if fs is not None and fs.is_input and cell.cell:
                out[f"{cell.sheet}!{cell.cell}"] = (cell, canonical(cell.raw))
    for cell in raw.workbook_cells.values():
        if cell.sheet != spec.meta_sheet and cell.cell:
            out[f"{cell.sheet}!{cell.cell}"] = (cell, canonical(cell.raw))
    return out


def _digest(key: str, value: str) -> str:
    return hashlib.sha256(f"{key}\x1f{value}".encode()).hexdigest()[:DIGEST_CHARS]


def sheet_hash(cells: dict[str, Cell], spec: FormSpec) -> str:
    """SHA-256 of one indicator sheet's input cells (by name): what head office compares to tell
    whether a district changed an item it sent back (kept per indicator in the history)."""
    inputs = _input_names(spec)
    payload = "".join(f"{name}\x1f{canonical(cells[name].raw)}\x1e" for name in sorted(inputs.intersection(cells)))
    return hashlib.sha256(payload.encode()).hexdigest()


_INPUT_NAMES: dict[int, tuple[FormSpec, frozenset[str]]] = {}


def _input_names(spec: FormSpec) -> frozenset[str]:
    """The form's input field names, once per spec (the spec kept alongside so its id stays its
    own): validation hashes 30 sheets a workbook, and asking each field whether it is an input
    for every cell of each was a seventh of the validation's time."""
    found = _INPUT_NAMES.get(id(spec))
    if found is None or found[0] is not spec:
        found = _INPUT_NAMES[id(spec)] = (spec, frozenset(name for name, f in spec.fields.items() if f.is_input))
    return found[1]


def content_hash(cells: dict[str, tuple[Cell, str]]) -> str:
    payload = "".join(f"{k}\x1f{v}\x1e" for k, (_, v) in sorted(cells.items()))
    return hashlib.sha256(payload.encode()).hexdigest()


def digests(cells: dict[str, tuple[Cell, str]]) -> dict[str, str]:
    return {k: _digest(k, v) for k, (_, v) in sorted(cells.items())}


def stamp_checksum(rows: list[tuple[str, str]]) -> str:
    payload = b"".join(f"{k}\x1f{v}\x1e".encode() for k, v in rows)
    return hashlib.sha256(payload).hexdigest()


def bangkok_text(when: dt.datetime) -> str:
    """``30/09/2564 14:05:07 น. (UTC+7)``: Thai-readable, and never ISO-8601 text (which xlwings'
    remote engine would turn into a date)."""
    local = when.astimezone(BANGKOK)
    return f"{local:%d/%m}/{local.year + 543} {local:%H:%M:%S} น. (UTC+7)"


# ---------------------------------------------------------------------------------------------
# Signing: the rows' place on the metadata sheet


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        from .thai import format_thai_date

        return format_thai_date(value)
    return "" if value is None else str(value).strip()


def placement(meta: dict[str, Cell], rows: list[tuple[str, str]]) -> tuple[int, int]:
    """(first row, rows to blank after the stamp) on the metadata sheet: a new stamp replaces the
    old one in place, else goes below the last metadata row."""
    numbers = {key: cell_rc(cell.cell)[0] for key, cell in meta.items() if cell.cell}
    old = sorted(r for k, r in numbers.items() if k.startswith(PREFIX))
    if old:
        first = old[0]
        return first, max(0, old[-1] - first + 1 - len(rows))
    return (max(numbers.values(), default=0) + 1), 0


# ---------------------------------------------------------------------------------------------
# Head office: is the workbook still what was signed?


def state_of(raw: RawWorkbook, spec: FormSpec | None = None) -> SignoffState:
    from .model import SignoffState

    meta = raw.meta
    if f"{PREFIX}checksum" not in meta:
        return SignoffState(state="unsigned")

    def text(key: str) -> str:
        cell = meta.get(key)
        return "" if cell is None else _text(cell.raw)

    keys = [k for k in meta if k.startswith(PREFIX) and k != f"{PREFIX}checksum"]
    rows = [(k, text(k)) for k in keys]
    quarter_text = text(f"{PREFIX}quarter")
    base = {"quarter": int(quarter_text) if quarter_text.isdigit() else None, "signer": text(f"{PREFIX}signer"),
            "time": text(f"{PREFIX}time")}
    if stamp_checksum(rows) != text(f"{PREFIX}checksum"):
        return SignoffState(state="damaged", **base)
    try:
        parts = int(text(f"{PREFIX}cells_parts") or 0)
        stamped: dict[str, str] = json.loads("".join(text(f"{PREFIX}cells_{i}") for i in range(1, parts + 1)))
    except ValueError:
        return SignoffState(state="damaged", **base)
    now = digests(contract_cells(raw, spec))
    changed = sorted((k for k in set(stamped) | set(now) if stamped.get(k) != now.get(k)), key=_order)
    return SignoffState(state="changed" if changed else "signed", changed=changed, **base)


def _order(key: str) -> tuple[str, int, int]:
    sheet, _, a1 = key.rpartition("!")
    try:
        row, col = cell_rc(a1)
    except ValueError:
        row, col = 0, 0
    return sheet, row, col


def describe(state: SignoffState, quarter: int | None = None) -> tuple[str, str]:
    """Thai and English words for the summary's status column."""
    if state.state == "unsigned":
        return "ยังไม่ยืนยันส่ง", "not signed"
    q = state.quarter
    other = quarter is not None and q is not None and q != quarter
    note_th = f" (ไม่ใช่ไตรมาสที่รวบรวม {quarter})" if other else ""
    note_en = f" (not the quarter consolidated, {quarter})" if other else ""
    if state.state == "signed":
        return (f"ยืนยันส่งไตรมาส {q} แล้ว ไม่มีการแก้ไขหลังยืนยัน{note_th}",
                f"signed for Q{q}, unchanged since{note_en}")
    if state.state == "changed":
        cells = ", ".join(state.changed[:10]) + (f" และอีก {len(state.changed) - 10} ช่อง" if len(state.changed) > 10 else "")
        return (f"ยืนยันส่งไตรมาส {q} แล้ว แต่แก้ไขหลังยืนยัน {len(state.changed)} ช่อง: {cells}{note_th}",
                f"signed for Q{q}, changed after signing in {len(state.changed)} cell(s): {cells}{note_en}")
    return ("ข้อมูลการยืนยันส่งในแผ่นงานซ่อนถูกแก้ไข ตรวจสอบไม่ได้", "sign-off stamp damaged: cannot be verified")
