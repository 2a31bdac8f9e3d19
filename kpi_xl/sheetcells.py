"""The named cells' values straight from sheet XML the reader has already inflated (one parse).

Why: the reader must inflate every sheet it reads anyway (bounded, for the size and far-cell
limits). Handing the same sheets to python-calamine then inflated and parsed them a second time and
turned each whole grid into Python lists, when ~23 cells per sheet are needed; and formula errors,
which calamine reads as empty, cost a third pass (a regex rescan). Here one regular expression per
sheet (built once per set of addresses: the workbooks of one catalog share it) makes one pass over
the sheet's ``sheetData`` only (the only place calamine reads cells from), stopping at exactly the
named cells and at any cell it could not place; each named cell's type, style and value come from
its own few bytes: numbers, shared and
inline strings (shared strings split once per workbook, decoded only for the indices asked),
booleans, error values (``#DIV/0!``) and dates from date-formatted numbers, as calamine types them.

The parser copies calamine only where the real producers' files are plain (Excel, LibreOffice,
openpyxl, XlsxWriter, kpi-xl's own writer). Anything else — a cell without ``r`` (or not written
first), prefixed cell tags, prefixed tags in a named cell, duplicate addresses, comments or CDATA, phonetic runs, ``_xHHHH_`` escapes, carriage returns,
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

__all__ = ["MARKUP_DECLARATION", "Fallback", "SharedStrings", "cell_values", "check_crc", "date_styles",
           "meta_values"]


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
    """A text node's string. The checks run on the bytes (``memchr`` for one byte) before the one
    decode: on the str after it they were three more passes over every narrative."""
    if b"&" in raw:
        text = _ENTITY.sub(_entity, raw.decode("utf-8"))
        if "\r" in text or "_x" in text:  # an entity can spell either
            raise Fallback("escapes")
        return text
    if b"\r" in raw or (b"_" in raw and b"x" in raw and _ESCAPE.search(raw) is not None):
        raise Fallback("escapes")  # XML line-end handling and Excel's _xHHHH_ escapes: calamine's call
    return raw.decode("utf-8")


# ``bytes.find`` takes ~1 ns a byte for a two-byte needle (60 µs over the metadata sheet's catalog
# JSON); ``re`` skips to each ``_`` faster, and ``memchr`` for ``_`` and ``x`` alone usually decides.
_ESCAPE = re.compile(rb"_x")


# --- sheets --------------------------------------------------------------------------------------

# calamine reads the cells of a sheet's first ``sheetData`` element only (cells before or after it,
# or in a second one, are ignored), and places a cell by its ``r`` whatever row it sits in. So
# only that element is searched, and only what could change a named cell's value sends the
# workbook to calamine: a cell whose ``r`` is not written first as ` r="` (or is absent: its place
# follows the previous cell), a prefixed cell tag (``<x:c>``, calamine reads it by its local
# name), ``<!`` (a comment or CDATA hiding or faking cells). A row without ``r`` moves no cell
# that has one, and is left alone.
#
# The finder's pattern starts with the single literal ``c``: ``re`` then skips to each ``c`` with
# its fastest loop and tries the pattern only there (~250 times in a 20 kB sheetData), where a
# pattern starting ``<c`` took its slower multi-byte prefix search and a separate scan for the
# irregular cases cost as much again (two passes over the whole part: 60 µs a sheet; this one
# pass over ``sheetData``: ~20 µs).
_T_ATTR = re.compile(rb'\st="([^"]*)"')
_S_ATTR = re.compile(rb'\ss="([0-9]+)"')
_V = re.compile(rb"<v(?:\s[^>]*)?(?:/>|>([^<]*)</v>)")
_T = re.compile(rb"<t\b[^>]*?(?:/>|>([^<]*)</t>)")
_PREFIXED = re.compile(rb"</?[A-Za-z_][\w.-]*:")  # <x:v>: calamine reads it by its local name
# ``<!`` (comment, CDATA, DTD). Looked for only when a ``memchr`` found a ``!`` (formulas across
# sheets, error values); ``re`` finds it 2.5× faster than ``bytes.find`` for a two-byte needle.
MARKUP_DECLARATION = re.compile(rb"<!")
_COLON = 0x3A  # b":"
_LT = 0x3C  # b"<"

# A named cell as the real producers write it, in one match: its style, type, and a number's or
# text's value (a formula before it skipped). Everything after the address is optional as a
# whole, so a cell written any other way still matches by its address, without ``end``, and is
# parsed by :func:`_cell`. (openpyxl writes an empty cell as ``<c r="B12" s="24" t="n" />``.)
_SHAPE = (rb'(?:(?: s="([0-9]+)")?(?: t="([a-zA-Z]+)")?'
          rb'( ?/>|>(?:<f\b[^>]*/>|<f\b[^>]*>[^<]*</f>)?(?:<v>([^<]*)</v>|<v ?/>)?'
          rb'(?:<is><t(?: xml:space="preserve")?>([^<]*)</t></is>)?</c>))?')
# What follows ``<c`` (or ``<x:c``) in a cell that is not named: an address written first, in
# double quotes, upper case, no leading zero: anything else may be a named cell in disguise.
_IRREGULAR_CELL = rb'|(?! r="[A-Z]+[1-9])[\s>/]'  # calamine reads r="d8" and r="D08" as D8


@lru_cache(maxsize=256)
def _finder(refs: tuple[str, ...]) -> tuple[re.Pattern[bytes], dict[bytes, str]]:
    """The cells' addresses grouped by column (``B(?:21|3)|D(?:9)``): ``re`` tries alternatives
    one by one at each cell, so ~4 groups beat ~23 addresses. A match without an address (group
    1) is a cell the fast path cannot place: a prefixed one, or one whose address is not written
    as the pattern expects. With it, each address's bytes → its text (a lookup, not a decode per
    cell: ~700 a workbook)."""
    by_column: dict[str, set[str]] = {}
    for ref in refs:
        column = ref.rstrip("0123456789")
        by_column.setdefault(column, set()).add(ref[len(column):])
    alternatives = "|".join(f"{column}(?:{'|'.join(sorted(rows, key=len, reverse=True))})"
                            for column, rows in sorted(by_column.items()))
    pattern = re.compile(rb'c(?<=[<:]c)(?:(?<=<c) r="(' + alternatives.encode("ascii") + rb')"' + _SHAPE
                         + rb'|(?:(?<=:c)|(?! r="[A-Z]+[1-9]))[\s>/])')
    return pattern, {ref.encode("ascii"): ref for ref in refs}


# A column A or B cell of the metadata sheet: column (group 1), row (2), style (3), type (4), and
# when it is an inline string as every producer writes it, the tags before its text (5). The text
# itself (the catalog JSON: 30,000 characters a cell) is then skipped with one ``memchr`` for the
# ``<`` that ends it, where consuming it in the pattern took ~1 ns a byte.
_META_CELL = re.compile(rb'c(?<=[<:]c)(?: r="([AB])([1-9][0-9]{0,6})"(?: s="([0-9]+)")?(?: t="([a-zA-Z]+)")?'
                        rb'(><is><t(?: xml:space="preserve")?>)?' + _IRREGULAR_CELL + rb')')
_INLINE_END = b"</t></is></c>"


def _sheet_data(xml: bytes) -> tuple[int, int]:
    """Where the first ``sheetData`` element's content is, checked to be searchable: nothing
    before its end is ``<!`` (one ``memchr`` for ``!``: none in a usual sheet), and the part
    ends as XML must (a truncated part is calamine's to refuse)."""
    start = xml.find(b"sheetData")
    if start < 1 or xml[start - 1] != _LT:  # <x:sheetData>, or the word in an attribute first
        raise Fallback("sheetData")
    # Its end searched for backwards from the part's end (2× faster than forwards over sheetData,
    # 4× with the short tail) and the one sheetData between: a second one is calamine's to skip.
    end = xml.rfind(b"</sheetData>", start)
    if end < 0:
        if not xml.startswith(b"sheetData/>", start):
            raise Fallback("sheetData end")
        end = start
    elif xml.rfind(b"sheetData", start + 9, end) >= 0:
        raise Fallback("two sheetData")
    if xml.find(b"!", 0, end) >= 0 and MARKUP_DECLARATION.search(xml, 0, end) is not None:
        raise Fallback("comment, CDATA or DTD")
    if not xml[-256:].rstrip().endswith(b"</worksheet>"):
        raise Fallback("truncated")
    return start, end


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
    if b":" in item and _PREFIXED.search(item):
        raise Fallback("prefixed tag")
    return "".join(_text(part) for part in _T.findall(item))


def _cell(xml: bytes, start: int, strings: SharedStrings, styles: tuple[int, ...] | None) -> Any:
    """A named cell written otherwise than :data:`_SHAPE` expects, from its attributes (``start``
    just after its address) and body."""
    end = xml.find(b">", start)
    if end < 0:
        raise Fallback("truncated")
    attrs = xml[start:end]
    if b"'" in attrs or b":" in attrs:
        raise Fallback("quotes or prefixed attributes")
    if attrs.endswith(b"/"):
        body = b""
    else:
        close = xml.find(b"</c>", end)
        if close < 0:
            raise Fallback("truncated")
        body = xml[end + 1:close]
        if b":" in body and _PREFIXED.search(body):
            raise Fallback("prefixed tag")
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


def cell_values(xml: bytes, refs: tuple[str, ...], strings: SharedStrings,
                styles: tuple[int, ...] | None) -> dict[str, Any]:
    """A1 → value of each of ``refs`` present in the sheet (a missing cell is absent), in one
    pass over its ``sheetData``; :class:`Fallback` for a sheet only calamine reads right.

    ``findall``'s tuples, not match objects, and the usual cell types decided here rather than in
    a call per cell: ~700 named cells a workbook make this loop as costly as the search."""
    start, end = _sheet_data(xml)
    out: dict[str, Any] = {}
    texts: list[bytes] = []  # inline strings, decoded together below
    text_keys: list[str] = []
    pattern, names = _finder(refs)
    for ref, style, kind, shaped, raw, inline in pattern.findall(xml, start, end):
        if not ref:
            raise Fallback("irregular or prefixed cell")
        key = names[ref]
        if key in out:
            raise Fallback("duplicate cell")
        if not shaped:
            value = _cell(xml, _after(xml, ref, start, end), strings, styles)
        elif kind == b"inlineStr" and inline:
            texts.append(inline)
            text_keys.append(key)
            value = None  # until decoded, below
        elif kind == b"inlineStr":
            value = _cell(xml, _after(xml, ref, start, end), strings, styles)
        elif not raw:
            value = None
        elif not kind or kind == b"n":
            value = float(raw) if not style else _styled(float(raw), int(style), styles)
        elif kind == b"s":
            value = strings.get(int(raw)) or None
        elif kind == b"str" or kind == b"e":  # a formula's text, an error value's text (#DIV/0!)
            value = _text(raw) or None
        else:
            value = _cell(xml, _after(xml, ref, start, end), strings, styles)
        out[key] = value
    if texts:
        out.update(zip(text_keys, _texts(texts), strict=True))
    return out


def _texts(raws: list[bytes]) -> list[str | None]:
    """:func:`_text` of each (``None`` for empty), as one join, one set of checks and one decode:
    a sheet's dozen narratives cost a call and four searches each. ``<`` joins them, as no text
    captured by the pattern holds one."""
    joined = b"<".join(raws)
    if b"&" in joined or b"\r" in joined or (b"_" in joined and _ESCAPE.search(joined) is not None):
        return [_text(raw) or None for raw in raws]
    return [text or None for text in joined.decode("utf-8").split("<")]


def _after(xml: bytes, ref: bytes, start: int, end: int) -> int:
    """Just after the address of the (first, so far the only) cell ``ref``, for :func:`_cell`."""
    return xml.find(b'<c r="' + ref + b'"', start, end) + len(ref) + 7


def meta_values(xml: bytes, max_row: int, strings: SharedStrings,
                styles: tuple[int, ...] | None) -> dict[int, dict[str, Any]]:
    """Row (1-based, ≤ ``max_row``) → ``"A"``/``"B"`` → value: the metadata sheet's key and value
    columns, in one pass over its ``sheetData`` as in :func:`cell_values`."""
    start, end = _sheet_data(xml)
    rows: dict[int, dict[str, Any]] = {}
    pos = start
    while (match := _META_CELL.search(xml, pos, end)) is not None:
        letter, row_text, _, kind, inline = match.groups()
        if letter is None or xml[match.start() - 1] == _COLON:
            raise Fallback("irregular or prefixed cell")
        pos = match.end()
        row = int(row_text)
        if row > max_row:
            continue
        close = xml.find(b"<", pos, end) if inline is not None and kind == b"inlineStr" else -1
        if close >= 0 and xml.startswith(_INLINE_END, close):
            value = _text(xml[pos:close]) or None
            pos = close + len(_INLINE_END)
        else:
            value = _cell(xml, match.end(2) + 1, strings, styles)
        line = rows.setdefault(row, {})
        key = "A" if letter == b"A" else "B"
        if key in line:
            raise Fallback("duplicate cell")
        line[key] = value
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
