"""The reader's own central directory parse (kpi_xl.reader._central_directory) against zipfile.

The reader lists a package's members itself when the archive is plain, and hands anything else to
zipfile, which then reads or refuses it exactly as before. These tests hold the two to the same
answers and check that the parts zipfile used to CRC-check still are.
"""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import pytest
from test_reader import write_small

from kpi_xl import reader
from kpi_xl.reader import ReadError, read_workbook

FIELDS = ("filename", "compress_type", "flag_bits", "header_offset", "compress_size", "file_size", "CRC")


def zipfile_view(data: bytes) -> list[tuple[object, ...]]:
    return [tuple(getattr(info, f) for f in FIELDS) for info in zipfile.ZipFile(io.BytesIO(data)).infolist()]


@pytest.fixture
def small(tmp_path: Path) -> Path:
    return write_small(tmp_path / "small.xlsx")


def test_plain_archives_list_as_zipfile_lists_them(small: Path, seed_filled_workbook: Path) -> None:
    for path in (small, seed_filled_workbook):
        data = path.read_bytes()
        infos = reader._central_directory(data)
        assert infos is not None
        assert [tuple(info) for info in infos] == zipfile_view(data)


def rebuilt(src: Path, **options: object) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(src) as old, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            with new.open(info.filename, "w", force_zip64=bool(options.get("zip64"))) as out:
                out.write(old.read(info))
        if options.get("comment"):
            new.comment = b"a comment"
    return buf.getvalue()


def same_read(a: Path, b: Path) -> bool:
    return (read_workbook(a).model_dump_json().replace(str(a), "F")
            == read_workbook(b).model_dump_json().replace(str(b), "F"))


def test_an_archive_comment_leaves_the_archive_to_zipfile(small: Path, tmp_path: Path) -> None:
    data = rebuilt(small, comment=True)
    assert reader._central_directory(data) is None
    other = tmp_path / "comment.xlsx"
    other.write_bytes(data)
    assert same_read(other, small)


def test_zip64_headers_list_as_zipfile_lists_them(small: Path, tmp_path: Path) -> None:
    """zipfile writes zip64 local headers on request; the central directory then says whether
    the reader may list it (plain values) or must leave it to zipfile (zip64 extra fields)."""
    data = rebuilt(small, zip64=True)
    infos = reader._central_directory(data)
    assert infos is None or [tuple(info) for info in infos] == zipfile_view(data)
    other = tmp_path / "zip64.xlsx"
    other.write_bytes(data)
    assert same_read(other, small)


def test_data_before_the_archive_is_left_to_zipfile(small: Path) -> None:
    assert reader._central_directory(b"junk" + small.read_bytes()) is None


def test_a_bad_crc_on_the_core_properties_is_a_damaged_file(small: Path, tmp_path: Path) -> None:
    """zipfile refused it when the reader read docProps/core.xml with ZipFile.read; it still is."""
    data = bytearray(small.read_bytes())
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("docProps/core.xml")
    # the central directory entry of core.xml: its name follows its 46-byte header
    name_at = bytes(data).rfind(b"docProps/core.xml")
    entry = name_at - 46
    assert data[entry:entry + 4] == b"PK\x01\x02"
    struct.pack_into("<L", data, entry + 16, info.CRC ^ 1)
    damaged = tmp_path / "damaged.xlsx"
    damaged.write_bytes(bytes(data))
    with pytest.raises(ReadError) as caught:
        read_workbook(damaged)
    assert caught.value.code == "KPI-E100"
