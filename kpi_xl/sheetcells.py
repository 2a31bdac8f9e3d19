"""The named cells' values straight from sheet XML the reader has already inflated (one parse).

Why: the reader must inflate every sheet it reads anyway (bounded, for the size and far-cell
limits). Handing the same sheets to python-calamine then inflated and parsed them a second time and
turned each whole grid into Python lists, when ~23 cells per sheet are needed; and formula errors,
which calamine reads as empty, cost a third pass (a regex rescan). Here one regular expression per
sheet (built once per set of addresses: the workbooks of one catalog share it) jumps to exactly the
named cells, and each cell's type, style and value come from its own few bytes: numbers, shared and
inline strings (shared strings split once per workbook, decoded only for the indices asked),
booleans, error values (``#DIV/0!``) and dates from date-formatted numbers, as calamine types them.

The parser copies calamine only where the real producers' files are plain (Excel, LibreOffice,
openpyxl, XlsxWriter, kpi-xl's own writer). Anything else — a cell without ``r``, prefixed tags,
duplicate addresses, comments or CDATA, phonetic runs, ``_xHHHH_`` escapes, carriage returns,
1904 dates, time or duration formats, fractional or pre-1900-03-01 serials, a part that does not
end as XML must, a CRC that does not match — raises :class:`Fallback`, and the reader reads that
workbook with calamine as before, so odd files read exactly as they always did.
"""

from __future__ import annotations

import datetime as dt
import re
import zlib
from functools import lru_cache
from typing import Any

__all__ = ["Fallback", "SharedStrings", "cell_values", "check_crc", "column_values", "date_styles", "plain_sheet"]


class Fallback(Exception):  # noqa: N818 - a signal, not an error: "read this one with calamine"
    """This workbook holds something the fast path does not copy calamine on."""


_ENTITY = re.compile(r"&(#x[0-9A-Fa-f]+|#[0-9]+|amp|lt|gt|quot|apos);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


def _entity(match: re.Match[str]) -> str:
    entity = match.group(1)
    if entity[:2] == "#x":
        return chr(int(entity[2:], 16))
    if entity[0] == "#":
        return chr(int(entity[1:]))
    return _ENTITIES[entity]


def _text(raw: bytes) -> str:
    text = raw.decode("utf-8")
    if "&" in text:
        text = _ENTITY.sub(_entity, text)
    if "\r" in text or "_x" in text:  # XML line-end handling and Excel's _xHHHH_ escapes: calamine's call
        raise Fallback("escapes")
    return text


# --- sheets --------------------------------------------------------------------------------------

# One pass finds what the fast path leaves to calamine: a cell or row whose ``r`` is not written
# first as ` r="` (or is absent: its place follows the previous one), ``<!`` (a comment, CDATA, a
# DTD), prefixed cell tags (``<x:c>``). One regular expression: substring searches for each took
# ~30 µs per sheet apiece, this one ~30 µs in all.
_IRREGULAR = re.compile(rb'<(?:c(?! r=")[\s>/]|row(?! r=")[\s>/]|!|\w+:(?:c|row|v|is|t)[\s>/])')
_T_ATTR = re.compile(rb'\st="([^"]*)"')
_S_ATTR = re.compile(rb'\ss="([0-9]+)"')
_V = re.compile(rb"<v(?:\s[^>]*)?(?:/>|>([^<]*)</v>)")
_T = re.compile(rb"<t\b[^>]*?(?:/>|>([^<]*)</t>)")


def plain_sheet(xml: bytes) -> bool:
    """Whether every cell is found by its ``r`` (written first, double-quoted, unprefixed tags),
    nothing hides text from a plain search (comments, CDATA), and the part ends as XML must (a
    truncated part is calamine's to refuse)."""
    return _IRREGULAR.search(xml) is None and xml.rstrip().endswith(b"</worksheet>")


# A named cell as the real producers write it, in one match: its address, style, type, and a
# number's or text's value (a formula before it skipped). Everything after the address is
# optional as a whole, so a cell written any other way still matches by its address, without
# ``end``, and is parsed by :func:`_cell`.
_SHAPE = (rb'(?:(?: s="([0-9]+)")?(?: t="([a-zA-Z]+)")?'
          rb'(/>|>(?:<f\b[^>]*/>|<f\b[^>]*>[^<]*</f>)?(?:<v>([^<]*)</v>|<v ?/>)?'
          rb'(?:<is><t(?: xml:space="preserve")?>([^<]*)</t></is>)?</c>))?')


@lru_cache(maxsize=256)
def _finder(refs: tuple[str, ...]) -> re.Pattern[bytes]:
    """The cells' addresses grouped by column (``B(?:21|3)|D(?:9)``): ``re`` tries alternatives
    one by one at each cell, so ~4 groups beat ~23 addresses."""
    by_column: dict[str, set[str]] = {}
    for ref in refs:
        column = ref.rstrip("0123456789")
        by_column.setdefault(column, set()).add(ref[len(column):])
    alternatives = "|".join(f"{column}(?:{'|'.join(sorted(rows, key=len, reverse=True))})"
                            for column, rows in sorted(by_column.items()))
    return re.compile(rb'<c r="(' + alternatives.encode("ascii") + rb')"' + _SHAPE)


class SharedStrings:
    """``xl/sharedStrings.xml``, split into its ``<si>`` items on first use; an item is decoded
    only when a named cell refers to it."""

    def __init__(self, xml: bytes | None):
        self._xml = xml
        self._items: list[bytes] | None = None

    def get(self, index: int) -> str:
        if self._items is None:
            xml = self._xml
            if xml is None or not xml.rstrip().endswith(b"</sst>") or b"<!--" in xml or b"<![CDATA[" in xml:
                raise Fallback("shared strings")
            if b":si" in xml or b"<si " in xml:
                raise Fallback("shared strings markup")
            self._items = xml.split(b"<si>")[1:]
        if not 0 <= index < len(self._items):
            raise Fallback("shared string index")
        return _rich(self._items[index].split(b"</si>", 1)[0])


def _rich(item: bytes) -> str:
    """The text of a string item: its ``<t>`` runs, in order (rich text runs included)."""
    if b"<rPh" in item:  # phonetic runs: calamine's choice what to keep
        raise Fallback("phonetic")
    return "".join(_text(part) for part in _T.findall(item))


def _cell(xml: bytes, start: int, strings: SharedStrings, styles: tuple[int, ...] | None) -> Any:
    end = xml.find(b">", start)
    if end < 0:
        raise Fallback("truncated")
    attrs = xml[start:end]
    if b"'" in attrs:
        raise Fallback("quotes")
    if attrs.endswith(b"/"):
        body = b""
    else:
        close = xml.find(b"</c>", end)
        if close < 0:
            raise Fallback("truncated")
        body = xml[end + 1:close]
    found = _T_ATTR.search(attrs)
    kind = found.group(1) if found is not None else b"n"
    if kind == b"inlineStr":
        at = body.find(b"<is>")
        if at < 0:
            raise Fallback("inline string")
        text = _rich(body[at:body.find(b"</is>", at)])
        return text or None
    v = _V.search(body)
    raw = v.group(1) if v is not None else None
    if not raw:
        return None
    if kind == b"n":
        number = float(raw)
        style = _S_ATTR.search(attrs)
        if style is not None:
            return _styled(number, int(style.group(1)), styles)
        return number
    if kind == b"s":
        return strings.get(int(raw)) or None
    if kind in (b"str", b"e"):  # a formula's text, an error value's text (#DIV/0!)
        return _text(raw) or None
    if kind == b"b" and raw in (b"0", b"1"):
        return raw == b"1"
    raise Fallback(f"cell type {kind!r}")


_EPOCH = dt.date(1899, 12, 30)


def _styled(number: float, style: int, styles: tuple[int, ...] | None) -> Any:
    if styles is None or style >= len(styles):
        raise Fallback("style")
    kind = styles[style]
    if kind == 0:
        return number
    if kind == 1 and number.is_integer() and 61 <= number < 2958466:
        return _EPOCH + dt.timedelta(days=int(number))
    raise Fallback("date or time value")


def _shaped(match: re.Match[bytes], xml: bytes, strings: SharedStrings, styles: tuple[int, ...] | None) -> Any:
    """A cell's value from its one match; the general :func:`_cell` when it is written otherwise."""
    _, style, kind, end, raw, inline = match.groups()
    if end is None:
        return _cell(xml, match.end(1) + 1, strings, styles)
    if kind == b"inlineStr":
        if inline is None:
            return _cell(xml, match.end(1) + 1, strings, styles)
        return _text(inline) or None
    if not raw:
        return None
    if kind is None or kind == b"n":
        return float(raw) if style is None else _styled(float(raw), int(style), styles)
    if kind == b"s":
        return strings.get(int(raw)) or None
    if kind == b"str" or kind == b"e":
        return _text(raw) or None
    return _cell(xml, match.end(1) + 1, strings, styles)


def cell_values(xml: bytes, refs: tuple[str, ...], strings: SharedStrings,
                styles: tuple[int, ...] | None) -> dict[str, Any]:
    """A1 → value of each of ``refs`` present in the sheet (a missing cell is absent)."""
    out: dict[str, Any] = {}
    for match in _finder(refs).finditer(xml):
        ref = match.group(1).decode("ascii")
        if ref in out:
            raise Fallback("duplicate cell")
        out[ref] = _shaped(match, xml, strings, styles)
    return out


def column_values(xml: bytes, columns: tuple[str, ...], max_row: int, strings: SharedStrings,
                  styles: tuple[int, ...] | None) -> dict[int, dict[str, Any]]:
    """Row (1-based, ≤ ``max_row``) → column letter → value, for single-letter ``columns``."""
    rows: dict[int, dict[str, Any]] = {}
    pattern = re.compile(rb'<c r="([' + "".join(columns).encode() + rb'])([0-9]+)"')
    for match in pattern.finditer(xml):
        row = int(match.group(2))
        if row > max_row or row == 0:
            continue
        line = rows.setdefault(row, {})
        letter = match.group(1).decode("ascii")
        if letter in line:
            raise Fallback("duplicate cell")
        line[letter] = _cell(xml, match.end(), strings, styles)
    return rows


def check_crc(data: bytes, crc: int) -> None:
    """calamine checked each part's CRC; the fast path must refuse what calamine refused."""
    if zlib.crc32(data) != crc:
        raise Fallback("crc")


# --- styles --------------------------------------------------------------------------------------

_NUMFMT = re.compile(rb"<numFmt\b([^>]*)>")
_XF = re.compile(rb"<xf\b([^>]*?)/?>")
_ID = re.compile(rb'\bnumFmtId="([0-9]+)"')
_CODE = re.compile(rb'\bformatCode="([^"]*)"')
_BUILTIN_DATES = frozenset({14, 15, 16, 17, 18, 19, 20, 21, 22, 45, 47})
_AMBIGUOUS = frozenset({46, *range(27, 37), *range(50, 59)})  # a duration; locale dates (calamine's call)


@lru_cache(maxsize=16)
def date_styles(xml: bytes | None) -> tuple[int, ...]:
    """Per cell style (``cellXfs`` index): 0 a number, 1 a date (calamine gives a date), 2 a time,
    duration or ambiguous format (the fast path falls back)."""
    if xml is None:
        return ()
    if not xml.rstrip().endswith(b"styleSheet>"):
        raise Fallback("styles")
    start, end = xml.find(b"<cellXfs"), xml.find(b"</cellXfs>")
    if start < 0 or end < 0:
        if b"cellXfs" in xml:
            raise Fallback("styles markup")
        return ()
    formats: dict[int, int] = {}
    head = xml[:start]
    for attrs in _NUMFMT.findall(head):
        ident, code = _ID.search(attrs), _CODE.search(attrs)
        if ident is None or code is None:
            raise Fallback("number format")
        formats[int(ident.group(1))] = _custom_kind(_text(code.group(1)))
    kinds: list[int] = []
    for attrs in _XF.findall(xml, start, end):
        ident = _ID.search(attrs)
        fmt = int(ident.group(1)) if ident is not None else 0
        if fmt in formats:
            kinds.append(formats[fmt])
        elif fmt in _BUILTIN_DATES:
            kinds.append(1)
        elif fmt in _AMBIGUOUS:
            kinds.append(2)
        else:
            kinds.append(0)
    return tuple(kinds)


def _custom_kind(code: str) -> int:
    """calamine's reading of a custom number format (first section only): 1 a date/time, 2 a
    duration (``[h]``), 0 anything else. Times and date-times are both 1 here; a non-whole serial
    falls back anyway, and a whole one is a date in either."""
    escaped = quoted = ap = hms = False
    brackets = 0
    prev = " "
    for ch in code:
        if escaped:
            escaped = False
        elif ch in "_\\":
            escaped = True
        elif quoted:
            if ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == ";":
            return 0
        elif ch == "[":
            brackets += 1
        elif ch == "]" and brackets == 1 and hms:
            return 2
        elif ch == "]":
            brackets = max(0, brackets - 1)
        elif ch in "aA" and not ap and brackets == 0:
            ap = True
        elif ch in "pm/PM" and ap and brackets == 0:
            return 2  # an AM/PM time: calamine's call
        elif ch in "dmhysDMHYS" and not ap and brackets == 0:
            return 2 if ch in "hsHS" else 1
        elif hms and ch.lower() == prev.lower():
            pass
        else:
            hms = prev == "[" and ch in "mhsMHS"
        prev = ch
    return 0
