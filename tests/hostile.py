"""The hostile corpus, as code: each case makes one broken or hostile workbook from a good one.

Why a generator and not files in the repository: the cases follow the builder (a new form row, a
new sheet) without anyone re-crafting binaries, and the large ones (a sheet inflating to 1.2 GiB)
cost a few MB on disk only while a test runs. ``tests/test_hostile.py`` runs ``validate``,
``validate --annotate`` and ``consolidate`` on every case under an address-space limit;
``bench/bench_hostile.py`` times the worst ones.

Each case is a function ``make(good, dst) -> Path``: ``good`` is a filled, valid workbook (never
modified), ``dst`` the path to write (a case may change its suffix or name). ``Case.expect`` is the
code ``validate`` must report (``None``: the file must validate exactly as the good one, e.g. a
stray far cell), ``Case.readable`` whether ``validate`` reads it (exit 0/1) or not (exit 2).
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

GiB = 1024 ** 3
MiB = 1024 ** 2
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
INDICATOR = "KPI-05"  # the seed-filled indicator sheet of the good workbook
COVER = "คำชี้แจง"
META = "_kpi_meta"
SUMMARY = "สรุป"


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[Path, Path], Path]
    expect: str | None  # the code validate must report; None: validates exactly like the good file
    readable: bool = False  # validate exit 0/1 (True) or 2 (False)
    heavy: bool = False  # writes or reads ≥ 100 MB: one consolidate of its own group


# --- zip helpers ---------------------------------------------------------------------------------


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {info.filename: z.read(info) for info in z.infolist()}


def write_zip(dst: Path, parts: dict[str, bytes] | list[tuple[str, bytes]]) -> Path:
    items = parts.items() if isinstance(parts, dict) else parts
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in items:
            z.writestr(name, body)
    return dst


def sheet_part(parts: dict[str, bytes], sheet: str) -> str:
    """The zip member holding ``sheet``'s XML, through workbook.xml and its relationships."""
    workbook = parts["xl/workbook.xml"].decode()
    for attrs in re.findall(r"<sheet\b([^>]*)/>", workbook):
        if f'name="{sheet}"' in attrs:
            rid = re.search(r'r:id="([^"]+)"', attrs).group(1)  # type: ignore[union-attr]
            rels = parts["xl/_rels/workbook.xml.rels"].decode()
            target = re.search(rf'Id="{rid}"[^>]*Target="([^"]+)"|Target="([^"]+)"[^>]*Id="{rid}"', rels)
            assert target is not None
            path = target.group(1) or target.group(2)
            return path.lstrip("/") if path.startswith("/") else "xl/" + path
    raise KeyError(sheet)


def edit(good: Path, dst: Path, member: str | Callable[[dict[str, bytes]], str],
         change: Callable[[bytes], bytes]) -> Path:
    parts = members(good)
    name = member(parts) if callable(member) else member
    parts[name] = change(parts[name])
    return write_zip(dst, parts)


def on_sheet(sheet: str) -> Callable[[dict[str, bytes]], str]:
    return lambda parts: sheet_part(parts, sheet)


def add_cell(ref: str, value: str = "<v>7</v>") -> Callable[[bytes], bytes]:
    """A stray cell in its own row at the end of sheetData (rows stay in order for far refs)."""
    row = re.match(r"[A-Z]+([0-9]+)", ref).group(1)  # type: ignore[union-attr]

    def change(xml: bytes) -> bytes:
        cell = f'<row r="{row}"><c r="{ref}">{value}</c></row>'.encode()
        return xml.replace(b"</sheetData>", cell + b"</sheetData>", 1)
    return change


def add_cell_in_row(ref: str) -> Callable[[bytes], bytes]:
    """A stray cell at the end of an existing early row (XFD1: far column, first rows)."""
    def change(xml: bytes) -> bytes:
        match = re.search(rb"<row [^>]*>.*?</row>", xml, re.S)
        assert match is not None
        row = re.search(rb'r="([0-9]+)"', match.group(0)).group(1).decode()  # type: ignore[union-attr]
        cell = f'<c r="{ref[:-1]}{row}"><v>7</v></c></row>'.encode()
        return xml[:match.end() - 6] + cell + xml[match.end():]
    return change


def names(change: Callable[[str], str]) -> Callable[[bytes], bytes]:
    return lambda xml: change(xml.decode()).encode()


def redirect(name: str, target: str, sheet: str | None = INDICATOR) -> Callable[[bytes], bytes]:
    """Point the defined name ``name`` (scoped to ``sheet``'s index, or workbook-scoped) at ``target``."""
    def change(xml: str) -> str:
        sheets = re.findall(r'<sheet\b[^>]*name="([^"]+)"', xml)
        scope = f' localSheetId="{sheets.index(sheet)}"' if sheet else ""
        pattern = rf'(<definedName name="{name}"{scope}[^>]*>)[^<]*(</definedName>)'
        out, count = re.subn(pattern, lambda m: m.group(1) + target + m.group(2), xml)
        if count == 0:  # attributes in the other order
            pattern = rf'(<definedName(?=[^>]*name="{name}")(?=[^>]*{scope.strip() or "name"})[^>]*>)[^<]*(</definedName>)'
            out, count = re.subn(pattern, lambda m: m.group(1) + target + m.group(2), xml)
        assert count == 1, (name, sheet, count)
        return out
    return names(change)


def meta_value(key: str, value: str) -> Callable[[bytes], bytes]:
    """Set the metadata row ``key``'s value (column B) to ``value`` as an inline string (the
    filled workbooks keep their strings inline, as ``kpi_xl.fill`` writes them)."""
    def change(xml: bytes) -> bytes:
        text = xml.decode()
        cells = re.findall(r'<c r="A([0-9]+)"[^>]*>(.*?)</c>', text, re.S)
        row = next(r for r, body in cells if f">{key}<" in body)
        pattern = rf'<c r="B{row}"[^>]*>.*?</c>'
        out = re.sub(pattern, f'<c r="B{row}" t="inlineStr"><is><t>{value}</t></is></c>', text, count=1, flags=re.S)
        return out.encode()
    return change


NARRATIVE_CELL = "C20"  # q1_report of KPI-05 in the form spec


def narrative(text: str, ref: str = NARRATIVE_CELL) -> Callable[[bytes], bytes]:
    """The narrative cell ``ref`` holding ``text`` (raw, as a hand-made file may hold it)."""
    def change(xml: bytes) -> bytes:
        cell = f'<c r="{ref}" t="inlineStr"><is><t>'.encode() + text.encode() + b"</t></is></c>"
        match = re.search(rf'<c r="{ref}"(?:[^>]*/>|[^>]*>.*?</c>)'.encode(), xml, re.S)
        if match is not None:
            return xml[:match.start()] + cell + xml[match.end():]
        row = re.search(rf'<row r="{ref[1:]}"[^>]*>'.encode(), xml)
        assert row is not None
        return xml[:row.end()] + cell + xml[row.end():]
    return change


def bytes_file(data: bytes) -> Callable[[Path, Path], Path]:
    def make(good: Path, dst: Path) -> Path:
        dst.write_bytes(data)
        return dst
    return make


def streamed_bomb(dst: Path, member: str, size: int, parts: dict[str, bytes]) -> Path:
    """``parts`` with ``member`` replaced by ``size`` zero bytes, deflated while streamed: 1.2 GiB
    becomes ≈ 1.2 MB on disk without ever being held in memory."""
    zero = bytes(MiB)
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for name, body in parts.items():
            if name != member:
                z.writestr(name, body)
        with z.open(member, "w", force_zip64=True) as out:
            left = size
            while left > 0:
                out.write(zero[:min(MiB, left)])
                left -= MiB
    return dst


def lie_about_size(data: bytes, member: str, declared: int) -> bytes:
    """Patch the central directory and local header so ``member`` claims ``declared`` bytes."""
    body = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        info = z.getinfo(member)
    struct.pack_into("<I", body, info.header_offset + 22, declared)
    name = member.encode()
    at = data.rfind(b"PK\x01\x02", 0, len(data))
    while at >= 0:
        if data[at + 46:at + 46 + len(name)] == name:
            struct.pack_into("<I", body, at + 24, declared)
            break
        at = data.rfind(b"PK\x01\x02", 0, at)
    return bytes(body)


def patch_flag(data: bytes, member: str, flag: int) -> bytes:
    body = bytearray(data)
    name = member.encode()
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        if data[at + 46:at + 46 + len(name)] == name:
            struct.pack_into("<H", body, at + 8, struct.unpack_from("<H", data, at + 8)[0] | flag)
        at = data.find(b"PK\x01\x02", at + 4)
    return bytes(body)


# --- the cases -----------------------------------------------------------------------------------

DTD = '<!DOCTYPE x [<!ENTITY e "boom">]>'
XXE = '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
LAUGHS = ('<!DOCTYPE lolz [<!ENTITY lol "lol">' + "".join(
    f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)) + "]>")


def _after_decl(doc: str) -> Callable[[bytes], bytes]:
    def change(xml: bytes) -> bytes:
        text = xml.decode()
        end = text.find("?>") + 2 if text.startswith("<?xml") else 0
        return (text[:end] + doc + text[end:]).encode()
    return change


def _use_entity(entity: str) -> Callable[[bytes], bytes]:
    def change(xml: bytes) -> bytes:
        return _after_decl(LAUGHS if entity == "lol9" else DTD)(xml).replace(
            b"</sheetData>", f'<row r="999"><c r="A999" t="inlineStr"><is><t>&{entity};</t></is></c></row></sheetData>'.encode(), 1)
    return change


def _truncate(fraction: float) -> Callable[[Path, Path], Path]:
    def make(good: Path, dst: Path) -> Path:
        data = good.read_bytes()
        dst.write_bytes(data[:int(len(data) * fraction)])
        return dst
    return make


def _drop(member: str | Callable[[dict[str, bytes]], str]) -> Callable[[Path, Path], Path]:
    def make(good: Path, dst: Path) -> Path:
        parts = members(good)
        parts.pop(member(parts) if callable(member) else member)
        return write_zip(dst, parts)
    return make


def _duplicate(member: str | Callable[[dict[str, bytes]], str]) -> Callable[[Path, Path], Path]:
    def make(good: Path, dst: Path) -> Path:
        parts = members(good)
        name = member(parts) if callable(member) else member
        items = [*parts.items(), (name, parts[name].replace(b"</sheetData>", b"</sheetData>"))]
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zipfile warns about the duplicate name: the point
            return write_zip(dst, items)
    return make


def _many_members(count: int) -> Callable[[Path, Path], Path]:
    def make(good: Path, dst: Path) -> Path:
        parts = members(good)
        parts.update({f"customXml/item{i}.xml": b"<a/>" for i in range(count)})
        return write_zip(dst, parts)
    return make


def _many_sheets(count: int) -> Callable[[Path, Path], Path]:
    def change(xml: bytes) -> bytes:
        extra = "".join(f'<sheet name="x{i}" sheetId="{1000 + i}" r:id="rIdX{i}"/>' for i in range(count))
        return xml.replace(b"</sheets>", extra.encode() + b"</sheets>", 1)
    return lambda good, dst: edit(good, dst, "xl/workbook.xml", change)


def _many_names(count: int) -> Callable[[Path, Path], Path]:
    def change(xml: bytes) -> bytes:
        extra = "".join(f"<definedName name=\"own_{i}\">'{COVER}'!$A${i % 50 + 1}</definedName>" for i in range(count))
        return xml.replace(b"</definedNames>", extra.encode() + b"</definedNames>", 1)
    return lambda good, dst: edit(good, dst, "xl/workbook.xml", change)


def _many_rows(count: int) -> Callable[[bytes], bytes]:
    def change(xml: bytes) -> bytes:
        rows = "".join(f'<row r="{r}"><c r="A{r}"><v>{r}</v></c></row>' for r in range(200, 200 + count))
        return xml.replace(b"</sheetData>", rows.encode() + b"</sheetData>", 1)
    return change


def _bomb(member: str | Callable[[dict[str, bytes]], str], size: int) -> Callable[[Path, Path], Path]:
    def make(good: Path, dst: Path) -> Path:
        parts = members(good)
        return streamed_bomb(dst, member(parts) if callable(member) else member, size, parts)
    return make


def _lying_bomb(good: Path, dst: Path) -> Path:
    """A sheet of 200 MB of zeros whose headers claim 30 kB: only a bounded inflater notices."""
    parts = members(good)
    name = sheet_part(parts, INDICATOR)
    tmp = dst.with_suffix(".tmp")
    streamed_bomb(tmp, name, 200 * MiB, parts)
    data = tmp.read_bytes()
    tmp.unlink()
    dst.write_bytes(lie_about_size(data, name, 30_000))
    return dst


def _claims_huge(good: Path, dst: Path) -> Path:
    """Central directory claims four 31 MiB parts (ratio unchecked below 1 MiB compressed…)."""
    data = good.read_bytes()
    parts = members(good)
    for i, name in enumerate(n for n in parts if n.startswith("xl/drawings/")):
        if i == 5:
            break
        data = lie_about_size(data, name, 31 * MiB)
    dst.write_bytes(data)
    return dst


def _compression(method: int) -> Callable[[Path, Path], Path]:
    def make(good: Path, dst: Path) -> Path:
        parts = members(good)
        with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
            for name, body in parts.items():
                z.writestr(name, body, compress_type=method if name == "xl/workbook.xml" else zipfile.ZIP_DEFLATED)
        return dst
    return make


def _flag_encrypted(good: Path, dst: Path) -> Path:
    dst.write_bytes(patch_flag(good.read_bytes(), "xl/workbook.xml", 0x1))
    return dst


def _damaged_member(good: Path, dst: Path) -> Path:
    data = bytearray(good.read_bytes())
    parts = members(good)
    name = sheet_part(parts, INDICATOR)
    with zipfile.ZipFile(good) as z:
        info = z.getinfo(name)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + 2, start + min(info.compress_size, 80)):
        data[i] ^= 0x5A
    dst.write_bytes(bytes(data))
    return dst


def _huge_shared_strings(good: Path, dst: Path) -> Path:
    """40 MB of shared strings (≈ 400 kB zipped, ratio < 100): over the per-part limit."""
    parts = members(good)
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for name, body in parts.items():
            if name != "xl/sharedStrings.xml":
                z.writestr(name, body)
        with z.open("xl/sharedStrings.xml", "w", force_zip64=True) as out:
            out.write(b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
            chunk = "".join(f"<si><t>{i:08x}{'ก' * 12}</t></si>" for i in range(20000)).encode()
            written = 0
            while written < 40 * MiB:
                out.write(chunk)
                written += len(chunk)
            out.write(b"</sst>")
    return dst


def _deep_nesting(depth: int) -> Callable[[bytes], bytes]:
    def change(xml: bytes) -> bytes:
        deep = b"<extLst>" + b"<ext>" * depth + b"</ext>" * depth + b"</extLst>"
        return xml.replace(b"</worksheet>", deep + b"</worksheet>", 1)
    return change


def _lock_file(good: Path, dst: Path) -> Path:
    lock = dst.with_name("~$" + dst.name)
    lock.write_bytes(b"\x0bsomeone   " + bytes(150))
    return lock


def _folder(good: Path, dst: Path) -> Path:
    dst.mkdir()
    return dst


def _renamed(suffix: str, data: bytes) -> Callable[[Path, Path], Path]:
    def make(good: Path, dst: Path) -> Path:
        out = dst.with_suffix(suffix) if suffix else dst
        out.write_bytes(data)
        return out
    return make


def _xlsb(good: Path, dst: Path) -> Path:
    return write_zip(dst, {"[Content_Types].xml": b"<Types/>", "xl/workbook.bin": b"\x83\x01\x00"})


def _docx(good: Path, dst: Path) -> Path:
    return write_zip(dst, {"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<document/>"})


def _wrong_content_types(good: Path, dst: Path) -> Path:
    return edit(good, dst, "[Content_Types].xml",
                lambda xml: xml.replace(b"spreadsheetml.sheet.main+xml", b"wordprocessingml.document.main+xml")
                .replace(b"ms-excel.sheet.macroEnabled.main+xml", b"wordprocessingml.document.main+xml"))


def _non_utf8(good: Path, dst: Path) -> Path:
    return edit(good, dst, "xl/workbook.xml", lambda xml: xml.replace(b"<sheets>", b"<sheets>\xff\xfe", 1))


def _gzip(good: Path, dst: Path) -> Path:
    import gzip

    dst.write_bytes(gzip.compress(good.read_bytes()))
    return dst


CASES: list[Case] = [
    # containers that are not workbooks
    Case("empty_0_byte", bytes_file(b""), "KPI-E100"),
    Case("xls_magic", bytes_file(OLE2_MAGIC + bytes(504) + b"Workbook".ljust(64, b"\0")), "KPI-E101"),
    Case("ole2_encrypted", bytes_file(OLE2_MAGIC + bytes(504) + "EncryptionInfo".encode("utf-16-le")), "KPI-E102"),
    Case("csv_renamed", bytes_file(b"district,score\n1030,5\n"), "KPI-E100"),
    Case("html_renamed", bytes_file(b"<html><body><table><tr><td>1</td></tr></table></body></html>"), "KPI-E100"),
    Case("png_renamed", bytes_file(b"\x89PNG\r\n\x1a\n" + bytes(100)), "KPI-E100"),
    Case("pk_then_garbage", bytes_file(b"PK\x03\x04" + bytes(range(256)) * 4), "KPI-E100"),
    Case("gzip_of_workbook", _gzip, "KPI-E100"),
    Case("truncated_half", _truncate(0.5), "KPI-E100"),
    Case("truncated_tail", _truncate(0.98), "KPI-E100"),
    Case("truncated_10_bytes", lambda g, d: (d.write_bytes(g.read_bytes()[:10]), d)[1], "KPI-E100"),
    Case("empty_zip", lambda g, d: write_zip(d, {}), "KPI-E100"),
    Case("docx_like_zip", _docx, "KPI-E100"),
    Case("xlsb", _xlsb, "KPI-E100"),
    Case("lock_file", _lock_file, "KPI-E100"),
    Case("folder_named_xlsx", _folder, "KPI-E100"),
    # zip structure
    Case("duplicate_member_sheet", _duplicate(on_sheet(INDICATOR)), "KPI-E100"),
    Case("duplicate_member_workbook", _duplicate("xl/workbook.xml"), "KPI-E100"),
    Case("many_members_5000", _many_members(5000), "KPI-E114"),
    Case("many_sheets_1500", _many_sheets(1500), "KPI-E114"),
    Case("many_defined_names_50k", _many_names(50_000), None, readable=True),
    Case("bomb_sheet_1_2_GiB", _bomb(on_sheet(INDICATOR), int(1.2 * GiB)), "KPI-E114", heavy=True),
    Case("bomb_unused_member_64_MiB", _bomb("xl/media/zeros.bin", 64 * MiB), "KPI-E114"),
    Case("bomb_lying_header_200_MiB", _lying_bomb, "KPI-E114", heavy=True),
    Case("central_directory_claims_huge", _claims_huge, "KPI-E114"),
    Case("huge_shared_strings_40_MiB", _huge_shared_strings, "KPI-E114"),
    Case("bzip2_member", _compression(zipfile.ZIP_BZIP2), "KPI-E100"),
    Case("lzma_member", _compression(zipfile.ZIP_LZMA), "KPI-E100"),
    Case("encrypted_flag_member", _flag_encrypted, "KPI-E100"),
    Case("damaged_member_crc", _damaged_member, "KPI-E100"),
    Case("missing_workbook_xml", _drop("xl/workbook.xml"), "KPI-E100"),
    Case("missing_indicator_sheet_part", _drop(on_sheet(INDICATOR)), "KPI-E100"),
    Case("missing_content_types", _drop("[Content_Types].xml"), None, readable=True),
    Case("wrong_content_types", _wrong_content_types, None, readable=True),
    Case("missing_styles", _drop("xl/styles.xml"), None, readable=True),
    # XML tricks
    Case("dtd_in_workbook", lambda g, d: edit(g, d, "xl/workbook.xml", _after_decl(DTD)), "KPI-E116"),
    Case("xxe_in_workbook", lambda g, d: edit(g, d, "xl/workbook.xml", _after_decl(XXE)), "KPI-E116"),
    Case("billion_laughs_in_workbook", lambda g, d: edit(g, d, "xl/workbook.xml", _after_decl(LAUGHS)), "KPI-E116"),
    Case("entity_in_defined_name", lambda g, d: edit(g, d, "xl/workbook.xml", lambda x: _after_decl(DTD)(x).replace(
        b"</definedNames>", b'<definedName name="boom">&e;</definedName></definedNames>')), "KPI-E116"),
    Case("dtd_in_sheet", lambda g, d: edit(g, d, on_sheet(INDICATOR), _after_decl(DTD)), "KPI-E116"),
    Case("xxe_in_sheet", lambda g, d: edit(g, d, on_sheet(INDICATOR), _after_decl(XXE)), "KPI-E116"),
    Case("billion_laughs_in_sheet", lambda g, d: edit(g, d, on_sheet(INDICATOR), _use_entity("lol9")), "KPI-E116"),
    Case("dtd_in_styles", lambda g, d: edit(g, d, "xl/styles.xml", _after_decl(DTD)), "KPI-E116"),
    Case("dtd_in_meta_sheet", lambda g, d: edit(g, d, on_sheet(META), _after_decl(DTD)), "KPI-E116"),
    Case("deep_nesting_in_sheet", lambda g, d: edit(g, d, on_sheet(INDICATOR), _deep_nesting(50_000)), None,
         readable=True),
    Case("malformed_workbook_xml", lambda g, d: edit(g, d, "xl/workbook.xml", lambda x: x[:len(x) // 2]), "KPI-E100"),
    Case("malformed_sheet_xml", lambda g, d: edit(g, d, on_sheet(INDICATOR), lambda x: x[:len(x) // 2]), "KPI-E100"),
    Case("non_utf8_workbook_xml", _non_utf8, "KPI-E100"),
    # cells far away: read in a small bound, validated exactly like the good file
    Case("stray_XFD1048576", lambda g, d: edit(g, d, on_sheet(INDICATOR), add_cell("XFD1048576")), None, readable=True),
    Case("stray_AZ300000", lambda g, d: edit(g, d, on_sheet(INDICATOR), add_cell("AZ300000")), None, readable=True),
    Case("stray_A1048576", lambda g, d: edit(g, d, on_sheet(INDICATOR), add_cell("A1048576")), None, readable=True),
    Case("stray_XFD_first_row", lambda g, d: edit(g, d, on_sheet(INDICATOR), add_cell_in_row("XFD1")), None,
         readable=True),
    Case("stray_far_on_meta", lambda g, d: edit(g, d, on_sheet(META), add_cell("XFD1048576")), None, readable=True),
    Case("stray_far_on_cover", lambda g, d: edit(g, d, on_sheet(COVER), add_cell("XFD1048576")), None, readable=True),
    Case("stray_far_on_summary", lambda g, d: edit(g, d, on_sheet(SUMMARY), add_cell("XFD1048576")), None,
         readable=True),
    Case("stray_far_text", lambda g, d: edit(g, d, on_sheet(INDICATOR), add_cell(
        "ZZ500000", '<is><t>hello</t></is>'.replace("<is>", "<is>"))), None, readable=True),
    Case("stray_far_tab_attribute", lambda g, d: edit(g, d, on_sheet(INDICATOR), lambda x: add_cell("XFD1048576")(x)
                                                      .replace(b'<c r="XFD1048576"', b'<c\tr="XFD1048576"')),
         None, readable=True),
    Case("stray_far_newline_single_quotes", lambda g, d: edit(g, d, on_sheet(INDICATOR), lambda x: add_cell(
        "XFD1048576")(x).replace(b'<c r="XFD1048576"', b"<c\n r='XFD1048576'")), None, readable=True),
    Case("stray_far_spaced_attribute", lambda g, d: edit(g, d, on_sheet(INDICATOR), lambda x: add_cell("XFD1048576")(x)
                                                         .replace(b'<c r="XFD1048576"', b'<c r = "XFD1048576"')),
         None, readable=True),
    Case("stray_far_cell_without_r", lambda g, d: edit(g, d, on_sheet(INDICATOR), lambda x: x.replace(
        b"</sheetData>", b'<row r="1048576"><c><v>1</v></c><c t="s" s="0"><v>0</v></c></row></sheetData>', 1)),
         None, readable=True),
    Case("many_rows_100k", lambda g, d: edit(g, d, on_sheet(INDICATOR), _many_rows(100_000)), None, readable=True),
    # narratives a spreadsheet may take for something else
    Case("control_byte_narrative", lambda g, d: edit(g, d, on_sheet(INDICATOR), narrative("ก\x01ข\x02ค")), None,
         readable=True),
    Case("formula_narrative", lambda g, d: edit(g, d, on_sheet(INDICATOR), narrative("=cmd|' /C calc'!A0")), None,
         readable=True),
    Case("plus_at_narrative", lambda g, d: edit(g, d, on_sheet(INDICATOR), narrative("@SUM(1+1)*cmd|' /C calc'!A0")),
         None, readable=True),
    Case("long_narrative_32767", lambda g, d: edit(g, d, on_sheet(INDICATOR), narrative("ก" * 32767)), None,
         readable=True),
    # contract names pointing elsewhere
    Case("name_to_other_sheet", lambda g, d: edit(g, d, "xl/workbook.xml", redirect("level_3", f"'{COVER}'!$C$9")),
         "KPI-E115", readable=True),
    Case("name_to_range", lambda g, d: edit(g, d, "xl/workbook.xml", redirect("level_3", f"'{INDICATOR}'!$D$10:$D$14")),
         "KPI-E115", readable=True),
    Case("name_to_external_book", lambda g, d: edit(g, d, "xl/workbook.xml", redirect("level_3", f"[1]{INDICATOR}!$D$10")),
         "KPI-E115", readable=True),
    Case("name_to_ref_error", lambda g, d: edit(g, d, "xl/workbook.xml", redirect("level_3", "#REF!")),
         "KPI-E111", readable=True),
    Case("name_to_missing_sheet", lambda g, d: edit(g, d, "xl/workbook.xml", redirect("level_3", "'Nope'!$D$10")),
         "KPI-E115", readable=True),
    Case("name_to_far_cell", lambda g, d: edit(g, d, "xl/workbook.xml", redirect("level_3", f"'{INDICATOR}'!$XFD$1048576")),
         "KPI-E115", readable=True),
    Case("name_to_constant", lambda g, d: edit(g, d, "xl/workbook.xml", redirect("level_3", "42")),
         "KPI-E115", readable=True),
    Case("workbook_name_to_indicator", lambda g, d: edit(g, d, "xl/workbook.xml",
                                                         redirect("report_quarter", f"'{INDICATOR}'!$D$10", None)),
         "KPI-E115", readable=True),
    # the metadata sheet
    Case("catalog_parts_huge", lambda g, d: edit(g, d, on_sheet(META), meta_value("catalog_parts", "1000000000000")),
         "KPI-E114"),
    Case("catalog_parts_negative", lambda g, d: edit(g, d, on_sheet(META), meta_value("catalog_parts", "-5")),
         "KPI-E114"),
    Case("catalog_parts_text", lambda g, d: edit(g, d, on_sheet(META), meta_value("catalog_parts", "many")),
         "KPI-E104", readable=True),
    Case("meta_checksum_edited", lambda g, d: edit(g, d, on_sheet(META), meta_value("district_name_en", "Hacked")),
         "KPI-E104", readable=True),
]


def by_name(name: str) -> Case:
    return next(c for c in CASES if c.name == name)


def make_case(case: Case, good: Path, folder: Path) -> Path:
    """Write ``case`` into ``folder`` (named after the case, with the good file's suffix)."""
    return case.make(good, folder / f"{case.name}{good.suffix}")
