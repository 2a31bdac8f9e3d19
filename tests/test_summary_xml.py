"""kpi_xl.summary writes the data sheet's rows and the shared strings itself (speed, issue 16): the file must
be byte for byte what XlsxWriter writes for the same cells, on the awkward cases too (text in a number
column, dates, blanks, empty rows and columns, spans, strings Excel escapes or cuts, a table over the block).
"""

from __future__ import annotations

import datetime as dt
import io
import random
import zipfile
from pathlib import Path
from typing import Any

import pytest
from xlsxwriter.sharedstrings import SharedStrings, SharedStringTable

from kpi_xl import summary

AWKWARD = ["", " leading", "trailing ", "new\nline", "tab\tinside", "ends with newline\n", "\u00a0nbsp",
           "a & b < c > d", 'say "hi"', "ctrl \x01 \x1f here", "_x0041_ looks escaped", "<r>rich?</r>",
           "non-char \ufffe \uffff", "ไทย ๑๒๓ ผู้อำนวยการเขต", "=SUM(A1:A2)", "+66 2 123 4567", "😀 emoji",
           "x" * 40_000, "ก" * 20_000 + "😀" * 10_000]


def _sst_bytes(writer: type[SharedStrings], strings: list[str]) -> str:
    table = SharedStringTable()
    for text in strings:
        table._get_shared_string_index(text)
    table._sort_string_data()
    sst = writer()
    sst.string_table = table
    out = io.StringIO()
    sst._set_filehandle(out)
    sst._assemble_xml_file()
    return out.getvalue()


def test_shared_strings_are_xlsxwriters_own() -> None:
    strings = AWKWARD[:-2] + [f"ข้อความที่ {i} ของเขต" for i in range(50)]
    assert _sst_bytes(summary._SharedStrings, strings) == _sst_bytes(SharedStrings, strings)
    plain = [f"ข้อความที่ {i}\nบรรทัดที่สอง" for i in range(30)]  # nothing to escape: the one-write path
    assert _sst_bytes(summary._SharedStrings, plain) == _sst_bytes(SharedStrings, plain)


def test_shared_strings_in_any_order() -> None:
    """Strings needing care are found in the joined text and traced back by offset: shuffle them among plain ones
    (first, last, side by side, a space beside a line break inside a string)."""
    rng = random.Random(16)
    pool = AWKWARD[:-2] + ["ก \nข", "ก\n ข", "a\n\nb", "\n", " ", "_", "x", "_x", "ends_", "x starts"] + [
        f"ข้อความ {i}" for i in range(20)]
    for _ in range(200):
        strings = list(dict.fromkeys(rng.sample(pool, rng.randint(1, len(pool)))))
        assert _sst_bytes(summary._SharedStrings, strings) == _sst_bytes(SharedStrings, strings), strings
    alphabet = ["a", "ก", "ั", " ", "\n", "\t", "\r", "_", "x", "0", "F", "&", "<", ">", "\x01", "\ufffe", "\u2028",
                "\u00a0", "<r>", "</r>", "_x0041_"]
    for _ in range(1000):  # short strings of awkward characters
        strings = list(dict.fromkeys("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))
                                     for _ in range(rng.randint(1, 12))))
        assert _sst_bytes(summary._SharedStrings, strings) == _sst_bytes(SharedStrings, strings), strings


def _write(path: Path, columns: list[tuple[int, list[Any], str]], count: int, *, table: bool) -> dict[str, bytes]:
    wb = summary._Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False,
                                       "strings_to_numbers": False, "in_memory": True})
    formats = (wb.add_format({"bold": True}), wb.add_format({"num_format": "0.00"}),
               wb.add_format({"num_format": "d mmm yyyy"}))
    ws = wb.add_worksheet("data", worksheet_class=summary._RowsSheet)
    other = wb.add_worksheet("other", worksheet_class=summary._Worksheet)  # the small sheets' cells
    other.write_string(0, 0, "after the data sheet", formats[0])
    other.write_string(0, 1, "no format")
    other.write_number(1, 0, -0.0, formats[1])
    other.write_number(1, 1, 1e-300, formats[1])
    other.write_datetime(1, 2, dt.datetime(2021, 1, 25, 9, 0), formats[2])
    other.write_blank(2, 0, None, formats[0])
    other.write_blank(2, 1, None)  # no format: no cell at all
    other.write_boolean(3, 0, True, formats[0])
    other.write_formula(3, 1, "=A2+1", formats[1])
    other.write_comment(3, 2, "a note")
    other.set_row(4, None, formats[0])  # a row format: the cell below takes it
    other.write_number(4, 0, 7)
    last_col = max(col for col, _, _ in columns)
    for col in range(last_col + 1):
        ws.write_string(0, col, f"key {col}")
    ws.write_string(0, last_col + 3, "a note beyond the table")  # row 0 spans wider than the block
    ws.set_row(5, 40)  # a row inside the block with its own height
    ws.add_columns(2, count, [(col, values, formats) for col, values, _ in columns])
    assert bool(ws.block_columns) == summary.FAST_XML  # the fast path really ran (or really did not)
    if table:
        ws.add_table(1, 0, 1 + count, last_col, {"name": "t", "columns": [{"header": f"h{c}"}
                                                                           for c in range(last_col + 1)]})
    wb.close()
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def _compare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, columns: list[tuple[int, list[Any], str]],
             count: int, *, table: bool = True) -> dict[str, bytes]:
    fast = _write(tmp_path / "fast.xlsx", columns, count, table=table)
    monkeypatch.setattr(summary, "FAST_XML", False)
    plain = _write(tmp_path / "plain.xlsx", columns, count, table=table)
    assert list(fast) == list(plain)
    assert [n for n in fast if fast[n] != plain[n]] == []
    return fast


def test_rows_are_xlsxwriters_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    count = 40  # three groups of 16 rows (XlsxWriter's spans)
    when = dt.datetime(2021, 9, 30, 13, 45)
    columns = [
        (0, [2564.0] * count, "number"),
        (1, [f"เขต {i % 7}" for i in range(count)], "text"),
        (2, [None if i % 3 else float(i) / 3 for i in range(count)], "sparse numbers"),
        (4, [None] * count, "all blank: no style, no cell"),
        (3, [("ไม่มีข้อมูล" if i == 5 else i * 1.5) if i % 4 else None for i in range(count)], "text in a number column"),
        (5, [when if i % 2 else None for i in range(count)], "dates"),
        (6, [AWKWARD[i % len(AWKWARD)] for i in range(count)], "awkward text"),
        (7, [None if 10 <= i < 20 else 1e-7 * i - 3 for i in range(count)], "numbers, a gap"),
    ]
    files = _compare(tmp_path, monkeypatch, columns, count)
    assert b't="s"' in files["xl/worksheets/sheet1.xml"] and b"<tableParts" in files["xl/worksheets/sheet1.xml"]


def test_blank_rows_and_a_block_that_starts_mid_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    count = 23
    columns = [(2, [None if i in (0, 4, 22) else f"r{i}" for i in range(count)], "text"),
               (9, [None if i < 12 else float(i) for i in range(count)], "late numbers")]
    _compare(tmp_path, monkeypatch, columns, count, table=False)


def test_not_a_number_is_refused_like_xlsxwriter(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="NAN/INF"):
        _write(tmp_path / "inf.xlsx", [(0, [1.0, float("inf")], "number")], 2, table=False)
