"""Tamper-evident metadata: with head office's key the checksum is an HMAC, so a workbook relabelled
as another district with a recomputed plain SHA-256 is refused; without a key nothing changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kpi_xl import template
from kpi_xl.catalog import Catalog
from kpi_xl.cli import app
from kpi_xl.keys import KEY_ENV, KEY_FILE_ENV, load_key
from kpi_xl.model import RawWorkbook, meta_checksum
from kpi_xl.reader import read_workbook
from kpi_xl.validate import evaluate

KEY = "5f" * 32


def _relabel(raw: RawWorkbook, code: int, name_th: str, name_en: str, *, keep_kind: bool) -> RawWorkbook:
    """What a district could do by hand: another district's code and names, checksum recomputed."""
    meta = {k: c.model_copy() for k, c in raw.meta.items()}
    for key, value in (("district_code", str(code)), ("district_name_th", name_th), ("district_name_en", name_en)):
        meta[key].raw = value
    if not keep_kind:
        meta.pop("checksum_kind", None)
    rows = [(k, "" if c.raw is None else str(c.raw)) for k, c in meta.items() if k != "meta_checksum"]
    meta["meta_checksum"].raw = meta_checksum(rows)
    return raw.model_copy(update={"meta": meta})


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory, sample_catalog: Catalog) -> RawWorkbook:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(KEY_ENV, KEY)
        path = template.build_workbook(sample_catalog, 1030, tmp_path_factory.mktemp("keyed"), macros=False)
    return read_workbook(path)


def test_a_keyed_workbook_verifies_only_with_the_key(keyed: RawWorkbook, monkeypatch: pytest.MonkeyPatch) -> None:
    assert keyed.meta["checksum_kind"].raw == "hmac-sha256"
    monkeypatch.setenv(KEY_ENV, KEY)
    assert "KPI-E104" not in {p.code for p in evaluate(keyed).problems}
    monkeypatch.setenv(KEY_ENV, "6a" * 32)  # another year's key
    assert "KPI-E104" in {p.code for p in evaluate(keyed).problems}
    monkeypatch.delenv(KEY_ENV)  # a district PC: no key, the workbook works as before
    assert "KPI-E104" not in {p.code for p in evaluate(keyed).problems}


@pytest.mark.parametrize("keep_kind", [True, False])
def test_a_relabelled_workbook_fails_when_head_office_has_a_key(keyed: RawWorkbook, keep_kind: bool,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    forged = _relabel(keyed, 1001, "พระนคร", "Phra Nakhon", keep_kind=keep_kind)
    monkeypatch.setenv(KEY_ENV, KEY)
    report = evaluate(forged)
    assert "KPI-E104" in {p.code for p in report.problems}
    monkeypatch.delenv(KEY_ENV)
    if not keep_kind:  # plain mode cannot tell: this is what the key protects against
        assert "KPI-E104" not in {p.code for p in evaluate(forged).problems}


def test_plain_workbooks_are_unchanged_without_a_key(chatuchak_workbook: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    raw = read_workbook(chatuchak_workbook)
    assert "checksum_kind" not in raw.meta
    assert "KPI-E104" not in {p.code for p in evaluate(raw).problems}


def test_keygen_and_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    out = tmp_path / "kpi_key_2564.txt"
    done = CliRunner().invoke(app, ["keygen", "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert (out.stat().st_mode & 0o777) == 0o600 and len(bytes.fromhex(out.read_text().strip())) == 32
    again = CliRunner().invoke(app, ["keygen", "--out", str(out)])
    assert again.exit_code == 2 and "an existing key is never overwritten" in again.output
    assert load_key(out) == bytes.fromhex(out.read_text().strip())
    short = tmp_path / "short.txt"
    short.write_text("abc")
    done = CliRunner().invoke(app, ["build", "--catalog", "workbook_templates/catalog_2564.yaml", "--out",
                                    str(tmp_path / "b"), "--key-file", str(short)],
                                   env={KEY_FILE_ENV: None, "COLUMNS": "400"})
    assert done.exit_code == 2 and "KPI-E615" in done.output and "shorter than 16 bytes" in done.output
    assert not (tmp_path / "b").exists()
