"""The fast sheet parser (kpi_xl/sheetcells.py) against python-calamine, on odd sheet XML.

The reader takes the named cells from the sheet XML itself and hands a workbook to calamine only
when that XML holds something the fast path cannot place. Whatever the XML, both must give the
same RawWorkbook: each variant below is read both ways and compared, and the test also says which
way the fast path went (reading it fast is the point; falling back is the safety net).
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_reader import write_small

from kpi_xl import reader
from kpi_xl.model import RawWorkbook

KPI_PART = "xl/worksheets/sheet2.xml"  # KPI-05 in write_small's workbook
NS = 'xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
D8 = b'<c r="D8"><v>5</v></c>'


@pytest.fixture
def small(tmp_path: Path) -> Path:
    return write_small(tmp_path / "small.xlsx")


def rewrite(src: Path, dst: Path, change: Callable[[bytes], bytes]) -> Path:
    with zipfile.ZipFile(src) as old, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            data = old.read(info)
            if info.filename == KPI_PART:
                changed = change(data)
                assert changed != data, "the variant must change the sheet"
                data = changed
            new.writestr(info, data)
    return dst


def read_both_ways(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[RawWorkbook, RawWorkbook, bool]:
    """(as read, as calamine reads it, whether the fast path read it)."""
    fell_back: list[bool] = []
    calamine_values = reader._calamine_values

    def counted(*args: Any) -> Any:
        fell_back.append(True)
        return calamine_values(*args)

    def refuse(*args: Any) -> Any:
        raise reader.Fallback("forced")

    with monkeypatch.context() as patch:
        patch.setattr(reader, "_calamine_values", counted)
        read = reader.read_workbook(path)
    with monkeypatch.context() as patch:
        patch.setattr(reader, "_fast_values", refuse)
        by_calamine = reader.read_workbook(path)
    return read, by_calamine, not fell_back


# name → (the change to KPI-05's XML, whether the fast path must read it)
VARIANTS: dict[str, tuple[Callable[[bytes], bytes], bool]] = {
    "as written": (lambda x: x.replace(b"<sheetData>", b"<sheetData> "), True),
    "a cell after sheetData (calamine skips it)": (
        lambda x: x.replace(b"</sheetData>", b'</sheetData><x:foo ' + NS.encode() + b'><c r="D8"><v>9</v></c></x:foo>'),
        True),
    "a comment after sheetData": (lambda x: x.replace(b"</sheetData>", b"</sheetData><!-- D8 -->"), True),
    "a row without r (its cells have theirs)": (lambda x: x.replace(b'<row r="8" spans="3:8">', b"<row>"), True),
    "an empty cell written ` />`": (lambda x: x.replace(b'<c r="D13" s="1"/>', b'<c r="D13" s="1" />'), True),
    "inline strings, one with an entity": (
        lambda x: x.replace(b'<c r="E8" t="s"><v>3</v></c>',
                            '<c r="E8" t="inlineStr"><is><t>ก &amp; ข</t></is></c>'.encode())
                   .replace(b'<c r="E9" t="s"><v>4</v></c>',
                            '<c r="E9" t="inlineStr"><is><t xml:space="preserve"> ๕ </t></is></c>'.encode()),
        True),
    "inline strings without entities": (
        lambda x: x.replace(b'<c r="E8" t="s"><v>3</v></c>', '<c r="E8" t="inlineStr"><is><t>ก ข</t></is></c>'.encode())
                   .replace(b'<c r="E9" t="s"><v>4</v></c>', b'<c r="E9" t="inlineStr"><is><t></t></is></c>'),
        True),
    "an inline string with an _xHHHH_ escape": (
        lambda x: x.replace(b'<c r="E8" t="s"><v>3</v></c>', b'<c r="E8" t="inlineStr"><is><t>_x0041_</t></is></c>'),
        False),
    "a second sheetData": (
        lambda x: x.replace(b"</sheetData>", b'</sheetData><sheetData><row r="8"><c r="D8"><v>9</v></c></row>'
                                             b"</sheetData>"), False),
    "a comment in sheetData": (lambda x: x.replace(D8, b"<!-- a note -->" + D8), False),
    "CDATA in a named cell": (lambda x: x.replace(D8, b'<c r="D8" t="str"><v><![CDATA[9]]></v></c>'), False),
    "a cell without r before a named one": (lambda x: x.replace(D8, b'<c r="C8"><v>1</v></c><c><v>9</v></c>' + D8),
                                            False),
    "a cell without r in place of a named one": (
        lambda x: x.replace(D8, b'<c r="C8"><v>1</v></c><c><v>9</v></c>'), False),
    "r not written first": (lambda x: x.replace(D8, b'<c t="n" r="D8"><v>9</v></c>'), False),
    "r in single quotes": (lambda x: x.replace(D8, b"<c r='D8'><v>9</v></c>"), False),
    "a lower-case address": (lambda x: x.replace(D8, b'<c r="d8"><v>9</v></c>'), False),
    "a prefixed cell": (lambda x: x.replace(D8, f'<x:c {NS} r="D8"><x:v>9</x:v></x:c>'.encode()), False),
    "a prefixed value in a named cell": (lambda x: x.replace(D8, f'<c r="D8"><x:v {NS}>9</x:v></c>'.encode()),
                                         False),
    "a named cell twice, the second in another row": (
        lambda x: x.replace(b'<c r="D9">', b'<c r="D8"><v>9</v></c><c r="D9">'), False),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_fast_path_reads_as_calamine_does(variant: str, small: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    change, fast = VARIANTS[variant]
    path = rewrite(small, tmp_path / "variant.xlsx", change)
    read, by_calamine, was_fast = read_both_ways(path, monkeypatch)
    assert read == by_calamine
    assert was_fast is fast


def test_filled_workbook_reads_fast_and_as_calamine_does(seed_filled_workbook: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A built and filled workbook (inline Thai text, numbers, dates, the metadata sheet's
    catalog JSON) is read by the fast path, and exactly as calamine reads it."""
    read, by_calamine, was_fast = read_both_ways(seed_filled_workbook, monkeypatch)
    assert was_fast
    assert read == by_calamine
    assert any(cell.raw for cells in read.sheets.values() for cell in cells.values())
