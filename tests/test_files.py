"""Outputs are atomic: a failure half-way leaves the previous file intact and no temp file behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kpi_xl.files import atomic_path, atomic_write_text, sha256_file


def test_failure_half_way_keeps_the_previous_output(tmp_path: Path) -> None:
    target = tmp_path / "summary.xlsx"
    target.write_bytes(b"previous summary")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half a summ")
        raise RuntimeError("killed")
    assert target.read_bytes() == b"previous summary"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.xlsx"]


def test_success_replaces_and_honours_the_umask(tmp_path: Path) -> None:
    target = atomic_write_text(tmp_path / "sub" / "a.md", "สวัสดี")
    assert target.read_text(encoding="utf-8") == "สวัสดี"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask


def test_refuses_to_overwrite_when_asked(tmp_path: Path) -> None:
    target = tmp_path / "a.xlsm"
    target.write_bytes(b"x")
    with pytest.raises(FileExistsError), atomic_path(target, overwrite=False):
        pass
    assert sha256_file(target) == "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
