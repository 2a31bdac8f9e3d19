"""A filled workbook → :class:`~kpi_xl.model.RawWorkbook`, fast, by the workbook's own defined names.

Why this shape:

* **Names, not addresses.** Every contract cell is found through the defined names stored in the
  workbook itself (``xl/workbook.xml``), so a clerk who inserts a row above an input breaks nothing:
  Excel and LibreOffice move the names with the cells.
* **One read of the file, one parse.** The bytes are read once; the package's members are listed
  from its central directory (by :func:`_central_directory` for a plain archive, ``zipfile`` for
  any other), and every part needed is inflated once, straight from those bytes, bounded (the
  size limits need that anyway). The named cells' values are then taken from those same inflated
  bytes by :mod:`kpi_xl.sheetcells`: one regular expression per sheet, one pass over its
  ``sheetData``, stops at the named cells, typed as calamine types them (numbers, shared/inline
  strings, booleans, dates of date-formatted cells) and with error values (``#DIV/0!``) as their
  text, and at any cell it could not place (then calamine reads the workbook).
  Handing the sheets to python-calamine instead inflated and parsed each whole sheet a second
  time, into Python lists, for ~23 cells a sheet (2.3× calamine's own time on the same sheets,
  see ``bench/bench_read.py``). A workbook with anything that parser does not copy calamine on
  (cells without ``r``, prefixed cells, comments in ``sheetData``, 1904 dates, time formats, a bad
  CRC…) is read
  by python-calamine as before: far cells cut first, then the XML of sheets where a named cell
  came back empty searched for error values, which calamine reads as empty. The defined names
  are split by one regular expression (twice as fast as ElementTree for ~700 names) and cached
  on their text, which the workbooks of one catalog share.
* **Cached formula values are raw data only.** ``score`` and ``target_met`` come back as whatever
  the last client cached; the validator recomputes them.
* **Bad input is a located problem, never a traceback**: :class:`ReadError` carries exactly one
  problem (KPI-E100 unreadable, E101 old ``.xls``, E102 password-protected, E103 not a kpi-xl
  workbook). The input is opened read-only and never modified.
* **Light imports.** This runs inside the Excel button's time budget: no pandas, no openpyxl;
  olefile is imported only when an OLE2 file turns up.
"""

from __future__ import annotations

import datetime as dt
import gc
import io
import re
import struct
import zipfile
import zlib
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

import python_calamine

from . import limits
from .form import load_spec
from .model import RawWorkbook
from .names import ContractName, contract_names
from .problems import KpiError, Location, Problem, problem
from .sheetcells import (
    MARKUP_DECLARATION,
    Fallback,
    SharedStrings,
    cell_values,
    check_crc,
    date_styles,
    meta_values,
)

__all__ = ["ReadError", "read_workbook", "parse_reference"]

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
KPI_CODE = "kpi_code"
META_KEY_COLUMN, META_VALUE_COLUMN = 0, 1  # key in column A, value in column B (see form_spec.yaml)
META_VALUE_LETTER = "B"


class ReadError(KpiError):
    """The file could not be read as a kpi-xl workbook; ``problems`` holds exactly one problem."""

    def __init__(self, item: Problem):
        super().__init__([item])

    @property
    def problem(self) -> Problem:
        return self.problems[0]

    @property
    def code(self) -> str:
        return self.problems[0].code


# --- package XML, read with regular expressions (the parts are machine-written and small) --------

_DEFINED_NAME = re.compile(
    r"""<(?:\w+:)?definedName\b([^>]*)>
        (?:=?(?:'((?:[^'<&]|'')+)'|([^'!:<&\[\]]+))!\$?([A-Za-z]{1,3})\$?([0-9]{1,7})(:\$?[A-Za-z]{1,3}\$?[0-9]{1,7})?(?=<)
          |([^<]*))
        </(?:\w+:)?definedName>""",
    re.X,
)
_NAME_ATTR = re.compile(r"""\bname\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_SCOPE_ATTR = re.compile(r"""localSheetId\s*=\s*["']([0-9]+)["']""")
_SHEET = re.compile(r"<(?:\w+:)?sheet\b([^>]*?)/?>")
_RELATIONSHIP = re.compile(r"<(?:\w+:)?Relationship\b([^>]*?)/?>")
_ATTR = re.compile(r"""([\w:]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_MODIFIED = re.compile(rb"<dcterms:modified\b[^>]*>([^<]+)</dcterms:modified>")
_ERROR_CELL = re.compile(rb"<(?:\w+:)?c\b([^>]*\bt=[\"']e[\"'][^>]*)>(.*?)</(?:\w+:)?c>", re.S)
_VALUE = re.compile(rb"<(?:\w+:)?v>([^<]*)</(?:\w+:)?v>")
_ENTITY = re.compile(r"&(#x[0-9A-Fa-f]+|#[0-9]+|amp|lt|gt|quot|apos);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_REFERENCE = re.compile(
    r"""^=?\s*(?:'((?:[^']|'')+)'|([^'!:\[\]]+))!      # sheet, quoted or bare
        \$?([A-Za-z]{1,3})\$?([0-9]{1,7})              # first cell
        (?::\$?[A-Za-z]{1,3}\$?[0-9]{1,7})?\s*$        # optional range end (top-left is used)
    """,
    re.X,
)
_CELL = re.compile(r"^([A-Z]{1,3})([0-9]{1,7})$")
_OPENING = {tag: re.compile(rf"<(?:\w+:)?{tag}\b[^>]*>") for tag in ("sheets", "definedNames")}


def _unescape(text: str) -> str:
    if "&" not in text:
        return text

    def one(match: re.Match[str]) -> str:
        entity = match.group(1)
        if entity.startswith("#x"):
            return chr(int(entity[2:], 16))
        if entity.startswith("#"):
            return chr(int(entity[1:]))
        return _ENTITIES[entity]

    return _ENTITY.sub(one, text)


def _attrs(raw: str) -> dict[str, str]:
    """Attributes of one tag, namespace prefix dropped (``r:id`` → ``id``)."""
    return {key.rsplit(":", 1)[-1]: _unescape(double or single) for key, double, single in _ATTR.findall(raw)}


def parse_reference(text: str) -> tuple[str, str] | None:
    """``'KPI-05'!$B$3`` → (``KPI-05``, ``B3``); the top-left cell of a range; None when the name
    is not a plain cell reference (``#REF!``, a constant, a formula, several areas, another file)."""
    match = _REFERENCE.match(text)
    if match is None:
        return None
    quoted, bare, col, row = match.groups()
    sheet = quoted.replace("''", "'") if quoted is not None else bare.strip()
    if int(row) == 0:
        return None
    return sheet, f"{col.upper()}{int(row)}"


def _rc(a1: str) -> tuple[int, int]:
    """``B21`` → (20, 1), 0-based."""
    found = _RC_CACHE.get(a1)
    if found is not None:
        return found
    match = _CELL.match(a1)
    if match is None:  # pragma: no cover - parse_reference only returns well-formed addresses
        raise ValueError(a1)
    letters, digits = match.groups()
    col = 0
    for ch in letters:
        col = col * 26 + ord(ch) - 64
    found = _RC_CACHE[a1] = (int(digits) - 1, col - 1)
    return found


_RC_CACHE: dict[str, tuple[int, int]] = {}  # the same few hundred addresses recur in every workbook


_Name = ContractName  # one defined name as found (see kpi_xl/names.py)


# --- the zip package -------------------------------------------------------------------------------


class _Info(NamedTuple):
    """The fields of a ``zipfile.ZipInfo`` the reader uses."""

    filename: str
    compress_type: int
    flag_bits: int
    header_offset: int
    compress_size: int
    file_size: int
    CRC: int  # noqa: N815 - zipfile's spelling


_CENTRAL = struct.Struct("<4s6H3L5H2L")  # one central directory header, 46 bytes
_END = struct.Struct("<4s4H2LH")  # the end of central directory record, 22 bytes
_NO_ZIP64 = 0xFFFFFFFF
_MAX_EXTRACT_VERSION = 63  # zipfile's: later versions are its NotImplementedError


class _Package:
    """The few ``zipfile.ZipFile`` methods the reader uses, over a central directory parsed by
    :func:`_central_directory`. ``ZipFile`` built a ``ZipInfo`` per member (~140 in a workbook):
    0.3 ms, a tenth of a whole read. Only a plain archive is read this way (no comment, no zip64,
    nothing before the first member); ``read`` and every other archive go through ``zipfile``."""

    def __init__(self, data: bytes, infos: list[_Info]):
        self._data = data
        self._infos = infos
        self._by_name = {info.filename: info for info in infos}  # the last of a name, as zipfile
        self._zipfile: zipfile.ZipFile | None = None

    def infolist(self) -> list[_Info]:
        return self._infos

    def namelist(self) -> list[str]:
        return [info.filename for info in self._infos]

    def getinfo(self, name: str) -> _Info:
        return self._by_name[name]  # KeyError for a missing member, as zipfile

    def read(self, name: str) -> bytes:
        if self._zipfile is None:
            self._zipfile = zipfile.ZipFile(io.BytesIO(self._data))
        return self._zipfile.read(name)

    def __enter__(self) -> _Package:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._zipfile is not None:
            self._zipfile.close()


Archive = zipfile.ZipFile | _Package


def _open_zip(data: bytes) -> Archive:
    infos = _central_directory(data)
    return zipfile.ZipFile(io.BytesIO(data)) if infos is None else _Package(data, infos)


def _central_directory(data: bytes) -> list[_Info] | None:
    """Every member as the central directory lists it, or None when the archive is anything but
    plain (then ``zipfile`` reads it, and raises for it, exactly as before): the same fields
    ``zipfile`` reads, with its checks (signatures, extract version, extra fields' lengths)."""
    at = len(data) - _END.size
    if at < 0 or not data.startswith(b"PK\x05\x06\x00\x00", at):
        return None  # an archive comment, or no zip at all
    _, disk, cd_disk, _, _, cd_size, cd_offset, comment = _END.unpack_from(data, at)
    if disk or cd_disk or comment or cd_offset + cd_size != at or cd_offset == _NO_ZIP64 or \
            data.startswith(b"PK\x06\x07", at - 20):
        return None  # multi-disk, zip64 (or what zipfile would take for its locator), data before
    infos: list[_Info] = []
    pos = cd_offset
    while pos < at:
        if pos + _CENTRAL.size > at:
            return None
        (signature, _, version, flags, method, _, _, crc, compressed, size, name_len, extra_len,
         comment_len, _, _, _, header) = _CENTRAL.unpack_from(data, pos)
        start = pos + _CENTRAL.size
        pos = start + name_len + extra_len + comment_len
        if signature != b"PK\x01\x02" or version > _MAX_EXTRACT_VERSION or pos > at or \
                _NO_ZIP64 in (compressed, size, header):
            return None
        raw_name = data[start:start + name_len]
        extra = start + name_len
        while extra + 4 <= start + name_len + extra_len:  # zipfile's walk over the extra fields
            kind, length = struct.unpack_from("<HH", data, extra)
            if kind == 0x0001 or extra + 4 + length > start + name_len + extra_len:
                return None  # zip64, or a corrupt extra field (zipfile's BadZipFile)
            extra += 4 + length
        if b"\x00" in raw_name:
            return None
        try:
            name = raw_name.decode("utf-8" if flags & 0x800 else "cp437")
        except UnicodeDecodeError:
            return None
        infos.append(_Info(name, method, flags, header, compressed, size, crc))
    return infos


def _checked(zf: Archive, data: bytes, name: str, file: str) -> bytes:
    """:func:`_member` with its CRC checked, for a part calamine does not read (zipfile checked
    it when the reader read them with ``ZipFile.read``: a bad one is a damaged file, KPI-E100)."""
    body = _member(zf, data, name, file)
    if zlib.crc32(body) != zf.getinfo(name).CRC:
        raise zipfile.BadZipFile(f"Bad CRC-32 for file {name!r}")
    return body


def _workbook_part(zf: Archive, data: bytes, file: str, members: set[str]) -> str | None:
    """Where the workbook part is: the package's officeDocument relationship, else the usual path."""
    if "xl/workbook.xml" in members:
        return "xl/workbook.xml"
    if "_rels/.rels" in members:
        for rel in _RELATIONSHIP.findall(_checked(zf, data, "_rels/.rels", file).decode("utf-8")):
            attrs = _attrs(rel)
            if attrs.get("Type", "").endswith("/officeDocument"):
                target = attrs.get("Target", "").lstrip("/")
                if target in members:
                    return target
    return None


def _sheet_parts(zf: Archive, data: bytes, file: str, members: set[str], workbook_part: str,
                 sheets: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Sheet name → zip member of its XML, through the workbook's relationships."""
    base = PurePosixPath(workbook_part).parent
    rels_part = str(base / "_rels" / (PurePosixPath(workbook_part).name + ".rels"))
    if rels_part not in members:
        return {}
    targets = _cached(_targets, _checked(zf, data, rels_part, file).decode("utf-8"), str(base))
    return {name: targets[rid] for name, rid in sheets if targets.get(rid) in members}


@lru_cache(maxsize=64)
def _targets(rels: str, base: str) -> dict[str, str]:
    """Relationship id → target part. Cached on the relationships' text, which the workbooks of
    one catalog share (0.2 ms a workbook parsed afresh); callers only read the dict."""
    targets: dict[str, str] = {}
    for rel in _RELATIONSHIP.findall(rels):
        attrs = _attrs(rel)
        target = attrs.get("Target", "")
        path = target.lstrip("/") if target.startswith("/") else _normalise(f"{base}/{target}")
        targets[attrs.get("Id", "")] = path
    return targets


def _normalise(path: str) -> str:
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)


def _section(xml: str, tag: str) -> str:
    """The ``<tag>…</tag>`` part of the workbook XML (empty when absent). Found with ``str.find``:
    a lazy regular expression over the 60 kB of names took 0.8 ms."""
    opening = _OPENING[tag].search(xml)  # <definedNames>, <x:definedNames …>
    if opening is None or opening.group(0).endswith("/>"):
        return ""
    end = xml.find(f"{tag}>", opening.end())  # </definedNames> or </x:definedNames>
    return xml[opening.start():end + len(tag) + 1] if end >= 0 else ""


def _cached(function: Any, xml: str, *args: Any) -> Any:
    """``function(xml, …)`` through its cache only when ``xml`` is of a real workbook's size: the
    cache keeps its keys alive, and 64 hostile 30 MB parts must not stay in memory."""
    if len(xml) <= limits.CACHED_XML_CHARS:
        return function(xml, *args)
    return function.__wrapped__(xml, *args)


@lru_cache(maxsize=64)
def _sheets(xml: str) -> tuple[tuple[str, str], ...]:
    """(sheet name, relationship id) in workbook order."""
    return tuple((attrs.get("name", ""), attrs.get("id", "")) for attrs in map(_attrs, _SHEET.findall(xml)))


@lru_cache(maxsize=64)
def _defined_names(xml: str, sheet_names: tuple[str, ...]) -> tuple[_Name, ...]:
    """Every defined name, built-ins excluded; ``target`` says when it is not one plain cell of
    this workbook (a range, another workbook, ``#REF!``) so that a contract name pointing there is
    reported, never read (KPI-E115).

    A workbook of 30 indicators has ~750 names; one regular expression splits each into its
    attributes and, for the usual plain reference, sheet/column/row, so the loop stays short.
    Cached on the ``<definedNames>`` text: at head office most workbooks of one catalog carry
    identical names (same indicators, no inserted rows), and the result is immutable."""
    out: list[_Name] = []
    sheets = set(sheet_names)
    count = len(sheet_names)
    if "&apos;" in xml:  # LibreOffice escapes the quotes around sheet names; attributes use "…"
        xml = xml.replace("&apos;", "'")
    for attrs, quoted, bare, col, row, end, other in _DEFINED_NAME.findall(xml):
        if attrs.startswith(' name="'):
            name = attrs[7:attrs.find('"', 7)]
        else:
            match = _NAME_ATTR.search(attrs)
            if match is None:
                continue
            name = match.group(1) or match.group(2) or ""
        if "&" in name:
            name = _unescape(name)
        if not name or name[:3].lower() == "_xl":
            continue  # _xlnm.Print_Area, _xlnm._FilterDatabase, _xlfn.* …
        scope: str | None = None
        at = attrs.find("localSheetId")
        if at >= 0:
            match = _SCOPE_ATTR.match(attrs, at)
            if match is None or int(match.group(1)) >= count:
                continue
            scope = sheet_names[int(match.group(1))]
        target = ""
        if col:
            sheet = quoted.replace("''", "'") if quoted else bare.strip()
            if row[0] == "0":
                row = row.lstrip("0") or "0"
            cell = col.upper() + row
            if end or row == "0":  # a range, or row 0 (which does not exist)
                target = f"'{sheet}'!{cell}{end.replace('$', '').upper()}"
        else:
            text = _unescape(other).strip()
            ref = parse_reference(text)  # e.g. a reference written with entities
            if ref is None or ":" in text or "[" in text:
                sheet, cell, target = "", "", (text.lstrip("=") or "(ว่าง / empty)")[:80]
            else:
                sheet, cell = ref
        if sheet not in sheets and not target:
            target = f"'{sheet}'!{cell}"  # a sheet this workbook does not have
        out.append(_Name(name, scope, sheet, cell, target))
    return tuple(out)


def _modified(zf: Archive, data: bytes, file: str, members: set[str]) -> dt.datetime | None:
    if "docProps/core.xml" not in members:
        return None
    match = _MODIFIED.search(_checked(zf, data, "docProps/core.xml", file))
    if match is None:
        return None
    text = match.group(1).decode("ascii", "replace").strip()
    try:
        stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.astimezone(dt.UTC)


def _member(zf: Archive, data: bytes, name: str, file: str) -> bytes:
    """A member's bytes, inflated straight from the buffer (twice as fast as ``ZipFile.read`` for
    the many small sheet parts) and bounded: never more than the size the central directory
    declares (checked against the limits before), since a lying header must not cost more.
    (No CRC check: calamine reads the same parts and checks them.)"""
    info = zf.getinfo(name)
    if info.compress_type == zipfile.ZIP_DEFLATED and not info.flag_bits & 0x1:
        offset = info.header_offset
        if data[offset:offset + 4] == b"PK\x03\x04":
            name_len, extra_len = struct.unpack_from("<HH", data, offset + 26)
            start = offset + 30 + name_len + extra_len
            inflater = zlib.decompressobj(-15)
            out = inflater.decompress(data[start:start + info.compress_size], info.file_size + 1)
            if len(out) > info.file_size:
                raise _too_large(file, f"{name} (ขนาดจริงเกินที่ระบุในแฟ้ม / inflates beyond its declared size)",
                                 f"> {_mib(info.file_size)}", _mib(info.file_size))
            return out
    return zf.read(name)  # zipfile never returns more than the declared size


def _error_cells(xml: bytes) -> dict[str, str]:
    """A1 → error text (``#DIV/0!``) of every cell holding an error value."""
    if b't="e"' not in xml and b"t='e'" not in xml:  # plain searches: 15× faster than a regex here
        return {}
    out: dict[str, str] = {}
    for raw_attrs, body in _ERROR_CELL.findall(xml):
        ref = _attrs(raw_attrs.decode("utf-8", "replace")).get("r")
        value = _VALUE.search(body)
        if ref and value:
            out[ref.upper()] = _unescape(value.group(1).decode("utf-8"))
    return out


# --- values ----------------------------------------------------------------------------------------

Grid = list[list[Any]]


def _value(grid: Grid, a1: str) -> Any:
    row, col = _rc(a1)
    if row >= len(grid):
        return None
    line = grid[row]
    if col >= len(line):
        return None
    value = line[col]
    return None if value == "" else value


CellData = dict[str, Any]  # a Cell's fields, validated into Cells by one RawWorkbook validation


def _cell(name: str, sheet: str, a1: str, raw: Any) -> CellData:
    # Plain dicts, made Cells by pydantic-core in the one RawWorkbook.model_validate call: 700
    # Cell(...) constructors cost 1.5 ms per 30-indicator workbook, the one call 1.0 ms.
    return {"name": name, "sheet": sheet, "cell": a1, "raw": raw}


# --- entry point -----------------------------------------------------------------------------------


def read_workbook(path: str | Path) -> RawWorkbook:
    """Read every contract cell of a workbook by its defined names; raise :class:`ReadError`."""
    path = Path(path)
    file = str(path)
    meta_sheet = load_spec().meta_sheet
    data = _read_bytes(path, file)
    _check_container(data, file)
    # The cyclic garbage collector paused for the read: it makes ~1,500 container objects (the
    # Cells above all) and no reference cycle, and the collections they triggered — older
    # generations rescanned every few reads — were 6 % of a read. Left as the caller had it
    # (never switched on if it was off); collected as usual once the read is done.
    collecting = gc.isenabled()
    if collecting:
        gc.disable()
    try:
        return _read_package(data, file, meta_sheet)
    except ReadError:
        raise
    except _DAMAGED as exc:
        raise _unreadable(file, f"แฟ้มเสียหาย / damaged file ({type(exc).__name__}: {_short(exc)})") from exc
    except BaseException as exc:
        if type(exc).__name__ == "PanicException":  # a Rust panic inside calamine on a malformed part
            raise _unreadable(file, f"แฟ้มเสียหาย / damaged file ({_short(exc)})") from exc
        raise
    finally:
        if collecting:
            gc.enable()


# What a damaged package can raise while it is unzipped and parsed. Programming errors (TypeError,
# AttributeError…) are deliberately not here: tests must see them.
_DAMAGED: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError, IndexError, ValueError,
    NotImplementedError, RuntimeError, OverflowError, python_calamine.CalamineError,
)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def _unreadable(file: str, detail: str) -> ReadError:
    return ReadError(problem("KPI-E100", Location(file=file), detail=detail))


def _read_bytes(path: Path, file: str) -> bytes:
    try:
        with open(path, "rb") as handle:  # read-only, once
            return handle.read()
    except FileNotFoundError as exc:
        raise _unreadable(file, "ไม่พบแฟ้ม / file not found") from exc
    except IsADirectoryError as exc:
        raise _unreadable(file, "เป็นโฟลเดอร์ ไม่ใช่แฟ้ม / a folder, not a file") from exc
    except PermissionError as exc:
        raise _unreadable(file, "ไม่มีสิทธิ์อ่านแฟ้ม / permission denied") from exc
    except OSError as exc:
        raise _unreadable(file, f"อ่านแฟ้มไม่ได้ / cannot read the file ({_short(exc)})") from exc


def _check_container(data: bytes, file: str) -> None:
    """Empty files, OLE2 containers (old .xls, or an encrypted OOXML package) and non-zips."""
    if not data:
        raise _unreadable(file, "แฟ้มว่างเปล่า (0 ไบต์) / the file is empty (0 bytes)")
    if data.startswith(OLE2_MAGIC):
        if _is_encrypted_ooxml(data):
            raise ReadError(problem("KPI-E102", Location(file=file),
                                    detail="encrypted OOXML (EncryptionInfo stream)"))
        raise ReadError(problem("KPI-E101", Location(file=file), detail="OLE2 compound file (BIFF .xls)"))
    if not data.startswith(b"PK"):
        raise _unreadable(file, "ไม่ใช่แฟ้ม Excel (.xlsx/.xlsm) / not an Excel workbook (.xlsx/.xlsm)")


def _is_encrypted_ooxml(data: bytes) -> bool:
    """An OOXML package encrypted with a password is stored in an OLE2 container with an
    ``EncryptionInfo`` stream (MS-OFFCRYPTO); an old .xls has a ``Workbook``/``Book`` stream."""
    try:
        import olefile  # only for OLE2 files: keeps the common path's imports light

        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            return bool(ole.exists("EncryptionInfo"))
    except Exception:  # noqa: BLE001 - olefile missing or a damaged container: look at the bytes
        # A directory entry stores its name in UTF-16LE.
        return "EncryptionInfo".encode("utf-16-le") in data


def _read_package(data: bytes, file: str, meta_sheet: str) -> RawWorkbook:
    try:
        zf = _open_zip(data)
    except zipfile.BadZipFile as exc:
        raise _unreadable(file, f"แฟ้ม zip เสียหาย / corrupt zip package ({_short(exc)})") from exc
    with zf:
        _check_members(zf.infolist(), file)
        members = set(zf.namelist())
        workbook_part = _workbook_part(zf, data, file, members)
        if workbook_part is None:
            if "xl/workbook.bin" in members:
                detail = "แฟ้ม .xlsb ใช้ไม่ได้ / binary .xlsb workbooks are not supported"
            else:
                detail = "ไม่ใช่แฟ้ม Excel (.xlsx/.xlsm) / not an Excel workbook (.xlsx/.xlsm)"
            raise _unreadable(file, detail)
        workbook_xml = _text(_member(zf, data, workbook_part, file), workbook_part, file)
        sheet_rids = _cached(_sheets, _section(workbook_xml, "sheets"))
        if len(sheet_rids) > limits.MAX_SHEETS:
            raise _too_large(file, f"{workbook_part} (แผ่นงาน / sheets)", len(sheet_rids), limits.MAX_SHEETS)
        sheet_names = [name for name, _ in sheet_rids]
        names = _cached(_defined_names, _section(workbook_xml, "definedNames"), tuple(sheet_names))

        indicator_sheets = [n.scope for n in names if n.name == KPI_CODE and n.scope is not None]
        if meta_sheet not in sheet_names and not indicator_sheets:
            raise ReadError(problem("KPI-E103", Location(file=file),
                                    detail="no _kpi_meta sheet and no kpi_code names"))

        wanted_scopes = set(indicator_sheets)
        used, misdirected = contract_names(names, wanted_scopes, set(sheet_names), file)
        needed = _ordered({n.sheet for n in used} | ({meta_sheet} & set(sheet_names)), sheet_names)

        modified = _modified(zf, data, file, members)
        parts = _sheet_parts(zf, data, file, members, workbook_part, sheet_rids)
        # Every part calamine will inflate is inflated here first, bounded: its declared size may lie.
        xml: dict[str, bytes] = {}
        for sheet in needed:
            if sheet in parts:
                xml[sheet] = _no_dtd(_member(zf, data, parts[sheet], file), parts[sheet], file)
        extra = {part: _no_dtd(_member(zf, data, part, file), part, file) for part in _calamine_parts(members)}
        try:
            values, meta_lines = _fast_values(zf, workbook_part, workbook_xml, parts, xml, extra, used, meta_sheet)
        except Fallback:
            values, meta_lines = _calamine_values(zf, data, file, parts, needed, xml, used, meta_sheet, sheet_names)

    workbook_cells: dict[str, CellData] = {}
    sheets: dict[str, dict[str, CellData]] = {sheet: {} for sheet in _ordered(wanted_scopes, sheet_names)}
    for (name, scope, sheet, a1, _), raw in zip(used, values, strict=True):  # ~700 names: _cell inlined
        cell = {"name": name, "sheet": sheet, "cell": a1, "raw": raw}
        if scope is None:
            workbook_cells[name] = cell
        else:
            sheets[scope][name] = cell

    meta: dict[str, CellData] = {}
    for r, key, raw in meta_lines:
        meta[key] = _cell(key, meta_sheet, f"{META_VALUE_LETTER}{r + 1}", raw)
    _check_meta_counts(meta, file, meta_sheet)

    return RawWorkbook.model_validate({
        "file": file,
        "sheet_names": sheet_names,
        "meta": meta,
        "workbook_cells": workbook_cells,
        "sheets": sheets,
        "modified": modified,
        "problems": misdirected,
    })


MetaLine = tuple[int, str, Any]  # (0-based row, key, raw value) of the metadata sheet


def _meta_key(key: Any) -> str | None:
    """Column A's key as text; None for an empty row (a whole number typed as a key reads as one)."""
    if key == "" or key is None:
        return None
    if isinstance(key, float) and key.is_integer():
        key = int(key)
    return str(key)


def _fast_values(zf: Archive, workbook_part: str, workbook_xml: str, parts: dict[str, str],
                 xml: dict[str, bytes], extra: dict[str, bytes], used: list[_Name],
                 meta_sheet: str) -> tuple[list[Any], list[MetaLine]]:
    """Every used name's value and the metadata rows, parsed once from the sheet XML already
    inflated (see :mod:`kpi_xl.sheetcells`); raises :class:`Fallback` for what only calamine
    reads the way it always did."""
    if workbook_part != "xl/workbook.xml" or "date1904" in workbook_xml or \
            not workbook_xml.rstrip().endswith("workbook>"):
        raise Fallback("workbook")
    for sheet, body in xml.items():
        check_crc(body, zf.getinfo(parts[sheet]).CRC)
    for part in ("xl/sharedStrings.xml", "xl/styles.xml"):
        if part in extra:
            check_crc(extra[part], zf.getinfo(part).CRC)
    strings = SharedStrings(extra.get("xl/sharedStrings.xml"))
    styles = _cached_bytes(date_styles, extra.get("xl/styles.xml"))
    refs: dict[str, list[str]] = {}
    for _, _, sheet, a1, _ in used:
        if sheet in refs:
            refs[sheet].append(a1)
        else:
            refs[sheet] = [a1]
    if any(sheet not in xml for sheet in refs):
        raise Fallback("sheet part missing")  # calamine's error, as before
    found = {sheet: cell_values(xml[sheet], tuple(cells), strings, styles) for sheet, cells in refs.items()}
    values = [found[sheet].get(a1) for _, _, sheet, a1, _ in used]
    meta_lines: list[MetaLine] = []
    if meta_sheet in xml:
        rows = meta_values(xml[meta_sheet], limits.MAX_META_ROWS, strings, styles)
        for row in sorted(rows):
            key = _meta_key(rows[row].get("A"))
            if key is not None:
                meta_lines.append((row - 1, key, rows[row].get("B")))
    return values, meta_lines


def _cached_bytes(function: Any, xml: bytes | None) -> Any:
    """Like :func:`_cached`, for a part kept as bytes."""
    if xml is None or len(xml) <= limits.CACHED_XML_CHARS:
        return function(xml)
    return function.__wrapped__(xml)


def _calamine_values(zf: Archive, data: bytes, file: str, parts: dict[str, str], needed: list[str],
                     xml: dict[str, bytes], used: list[_Name], meta_sheet: str,
                     sheet_names: list[str]) -> tuple[list[Any], list[MetaLine]]:
    """The same through python-calamine, for files the fast path leaves alone: far cells cut
    first, then error values found in the XML of sheets where a named cell came back empty."""
    trimmed = _trim_far_cells(xml, used, meta_sheet)
    source = data if not trimmed else _calamine_package(zf, data, file, parts, needed, trimmed)
    grids = _grids(source, needed)
    # calamine reads an error value (#DIV/0!) as an empty cell. Only a sheet where a named cell
    # came back empty can hide one, so only those sheets' XML is searched.
    values = [_value(grids[n.sheet], n.cell) for n in used]
    suspects = {n.sheet for n, raw in zip(used, values, strict=True) if raw is None}
    errors = {sheet: _error_cells(xml[sheet]) for sheet in _ordered(suspects, sheet_names) if sheet in xml}
    for i, (n, raw) in enumerate(zip(used, values, strict=True)):
        if raw is None and n.sheet in errors:
            values[i] = errors[n.sheet].get(n.cell)
    meta_lines: list[MetaLine] = []
    for r, line in enumerate(grids.get(meta_sheet, ())):
        if r >= limits.MAX_META_ROWS:
            break
        key = _meta_key(line[META_KEY_COLUMN] if line else "")
        if key is None:
            continue
        raw = line[META_VALUE_COLUMN] if len(line) > META_VALUE_COLUMN else ""
        meta_lines.append((r, key, None if raw == "" else raw))
    return values, meta_lines


# --- limits ------------------------------------------------------------------------------------


def _too_large(file: str, part: str, value: int | str, limit: int | str,
               location: Location | None = None) -> ReadError:
    return ReadError(problem("KPI-E114", location or Location(file=file), part=part, value=value, limit=limit))


def _mib(size: int) -> str:
    return f"{size / limits.MiB:,.1f} MiB" if size >= limits.MiB else f"{size:,} bytes"


def _check_members(infos: list[zipfile.ZipInfo] | list[_Info], file: str) -> None:
    """Bounds read from the zip central directory, before anything is inflated: member count,
    duplicate names, each member's size and compression ratio, the whole package's size."""
    if len(infos) > limits.MAX_MEMBERS:
        raise _too_large(file, "zip (จำนวนส่วน / members)", len(infos), limits.MAX_MEMBERS)
    seen: set[str] = set()
    total = 0
    for info in infos:
        name = info.filename
        if name in seen:
            raise _unreadable(file, f"แฟ้ม zip เสียหาย: มีส่วนชื่อ {name} ซ้ำสองส่วน / corrupt zip package: "
                                    f"two members are named {name}")
        seen.add(name)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _unreadable(file, f"ส่วน {name} ใช้วิธีบีบอัดที่ Excel ไม่ใช้ / part {name} uses a compression "
                                    f"Excel does not write (method {info.compress_type})")
        if info.file_size > limits.MAX_MEMBER_BYTES:
            raise _too_large(file, name, _mib(info.file_size), _mib(limits.MAX_MEMBER_BYTES))
        if info.file_size > limits.RATIO_MIN_BYTES and \
                info.file_size > limits.MAX_COMPRESSION_RATIO * max(1, info.compress_size):
            raise _too_large(file, name, f"{info.file_size // max(1, info.compress_size):,}:1 "
                             f"(บีบอัด / compression ratio)", f"{limits.MAX_COMPRESSION_RATIO}:1")
        total += info.file_size
    if total > limits.MAX_PACKAGE_BYTES:
        raise _too_large(file, "zip (ทั้งแฟ้ม / whole package)", _mib(total), _mib(limits.MAX_PACKAGE_BYTES))


def _check_meta_counts(meta: dict[str, CellData], file: str, meta_sheet: str) -> None:
    """``catalog_parts`` decides how many rows are gathered: a hand-edited 10**9 is refused here."""
    cell = meta.get("catalog_parts")
    if cell is None or cell["raw"] is None:
        return
    raw, a1 = cell["raw"], cell["cell"]
    try:
        parts = int(float(str(raw).strip()))
    except (ValueError, OverflowError):
        return  # not a number: the checksum (KPI-E104) reports the edited sheet
    if not 0 <= parts <= limits.MAX_CATALOG_PARTS:
        raise _too_large(file, f"{meta_sheet}!{a1} (catalog_parts)", str(raw)[:40],
                         limits.MAX_CATALOG_PARTS, Location(file=file, sheet=meta_sheet, cell=a1))


def _no_dtd(xml: bytes, part: str, file: str) -> bytes:
    """Excel never writes a DTD; one in a part is at best useless, at worst an entity bomb or an
    external entity (XXE) for whichever XML parser reads the part next (annotate's openpyxl).
    The usual part has no ``!`` at all, which one ``memchr`` tells; a search for ``<!`` took as
    long as finding the named cells."""
    if b"!" in xml and MARKUP_DECLARATION.search(xml) is not None and (b"<!DOCTYPE" in xml or b"<!ENTITY" in xml):
        raise ReadError(problem("KPI-E116", Location(file=file), part=part))
    return xml


def _text(xml: bytes, part: str, file: str) -> str:
    return _no_dtd(xml, part, file).decode("utf-8")


def _calamine_parts(members: set[str]) -> list[str]:
    """Parts calamine inflates besides the sheets: shared strings, styles, relationships."""
    return sorted(m for m in members if m.endswith(("sharedStrings.xml", "styles.xml", "workbook.xml.rels")))


# --- names -------------------------------------------------------------------------------------


# --- far cells ---------------------------------------------------------------------------------

# Any cell (or row) reference beyond Z999: one regex pass tells a normal form sheet from one with
# cells far away (``r="XFD1048576"``); only the latter is trimmed. The pattern starts with the
# literal `` r=`` and alternates the quotes so that ``re`` can skip ahead fast (≈ 1 ms for 30
# sheets; ``\sr\s*=`` took 7 ms). Every writer puts ``r="…"`` first on a cell and a row; a cell
# or row without it there (no ``r`` at all: its place follows the previous one; ``r`` later, or
# written ``r = '…'``) escapes that regex, so such a sheet is trimmed too (``_ODD``, 0.6 ms), as is
# one holding a tab or line break (a single-byte search): cutting cells beyond the named area never
# changes what is read.
_FAR = re.compile(rb""" r=(?:"|')(?:[A-Z]{2}|[A-Z]*[0-9]{4})""")
_ODD = re.compile(rb"""<(?:c|row)(?! r=")[\s>/]""")
_TOKEN = re.compile(rb"<(/?)(?:\w+:)?(row|c)\b([^>]*?)(/?)>")
_CELL_END = re.compile(rb"</(?:\w+:)?c\s*>")
_R_ATTR = re.compile(rb"""(?:^|\s)r\s*=\s*["']([A-Z]{1,3})([0-9]{1,7})["']""")
_ROW_ATTR = re.compile(rb"""(?:^|\s)r\s*=\s*["']([0-9]{1,7})["']""")
_EMPTY_SHEET = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData/></worksheet>')


def _maybe_far(xml: bytes) -> bool:
    return (_FAR.search(xml) is not None or _ODD.search(xml) is not None
            or b"\t" in xml or b"\n" in xml or b"\r" in xml)


def _trim_far_cells(xml: dict[str, bytes], used: list[_Name], meta_sheet: str) -> dict[str, bytes]:
    """Sheets with cells beyond the named area, those cells cut: calamine builds a dense grid up
    to the furthest cell, so one stray cell at XFD1048576 would cost 17 billion cells. Cells
    beyond every named cell of their sheet are never read, so cutting them changes nothing."""
    out: dict[str, bytes] = {}
    for sheet, body in xml.items():
        if not _maybe_far(body):
            continue
        if sheet == meta_sheet:
            last_row, last_col = limits.MAX_META_ROWS, META_VALUE_COLUMN + 1
        else:
            cells = [_rc(n.cell) for n in used if n.sheet == sheet]
            last_row = max((r for r, _ in cells), default=0) + 1
            last_col = max((c for _, c in cells), default=0) + 1
        out[sheet] = _cut(body, last_row, last_col)
    return out


def _cut(xml: bytes, last_row: int, last_col: int) -> bytes:
    """``xml`` without the cells beyond row ``last_row`` or column ``last_col`` (1-based). Each
    cell's place is its ``r``, else the one after the previous cell (a row's: after the previous
    row), as calamine places them. Implicit places only grow along a row, so a cut never moves a
    cell that stays."""
    parts: list[bytes] = []
    copied = 0  # xml[:copied] is decided
    row = col = 0
    for token in _TOKEN.finditer(xml):
        if token.start() < copied:
            continue  # inside a cell already cut
        closing, tag, attrs, self_closing = token.groups()
        if closing:
            continue
        if tag == b"row":
            found = _ROW_ATTR.search(attrs)
            row, col = (int(found.group(1)) if found else row + 1), 0
            continue
        ref = _R_ATTR.search(attrs)
        if ref is not None:
            col = 0
            for ch in ref.group(1):
                col = col * 26 + ch - 64
            at_row = int(ref.group(2))
        else:
            col, at_row = col + 1, row
        if at_row <= last_row and col <= last_col:
            continue
        end = token.end()
        if not self_closing:
            close = _CELL_END.search(xml, end)
            end = close.end() if close is not None else len(xml)
        parts.append(xml[copied:token.start()])
        copied = end
    parts.append(xml[copied:])
    return b"".join(parts)


def _calamine_package(zf: Archive, data: bytes, file: str, parts: dict[str, str], needed: list[str],
                      trimmed: dict[str, bytes]) -> bytes:
    """A small stored package for calamine: the trimmed sheets, the other needed sheets as they
    are, every other sheet empty (never read), the XML parts calamine looks at."""
    sheet_parts = set(parts.values())
    wanted = {parts[s]: s for s in needed if s in parts}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as out:
        for info in zf.infolist():
            name = info.filename
            if name in wanted:
                sheet = wanted[name]
                out.writestr(name, trimmed[sheet] if sheet in trimmed else _member(zf, data, name, file))
            elif name in sheet_parts:
                out.writestr(name, _EMPTY_SHEET)
            elif name.endswith((".xml", ".rels")) and not name.startswith(("xl/worksheets/", "docProps/")):
                out.writestr(name, _member(zf, data, name, file))
    return buf.getvalue()


def _ordered(items: Iterable[str], order: list[str]) -> list[str]:
    wanted = set(items)
    return [s for s in order if s in wanted]


def _grids(data: bytes, sheets: list[str]) -> dict[str, Grid]:
    """Cell values of the given sheets; row i, column j of a grid is the cell at A1 + (i, j)."""
    with python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data)) as book:
        # skip_empty_area=False keeps A1 at [0][0] even when the first rows/columns are empty.
        return {sheet: book.get_sheet_by_name(sheet).to_python(skip_empty_area=False) for sheet in sheets}
