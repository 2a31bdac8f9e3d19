"""District sign-off (ยืนยันส่งรายงาน): the button through xlwings' real API, the command, and what
head office sees (signed and unchanged / changed after signing, naming the cells / not signed).

The button runs against xlwings' remote engine as in tests/test_excel.py (its ExcelState plays
Excel); "Excel saves the file" is played by copying the metadata sheet's new rows into a copy of
the workbook with openpyxl.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path
from typing import Any

import openpyxl
import pytest

os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")

from test_consolidate import clean_values, small_catalog  # noqa: E402
from test_excel import ExcelState, press  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from kpi_xl import excel, fill, signoff, submit, template  # noqa: E402
from kpi_xl.catalog import Catalog  # noqa: E402
from kpi_xl.cli import app  # noqa: E402
from kpi_xl.consolidate import consolidate  # noqa: E402
from kpi_xl.form import load_spec  # noqa: E402
from kpi_xl.keep_vba import save_keeping_vba  # noqa: E402
from kpi_xl.reader import read_workbook  # noqa: E402
from kpi_xl.validate import validate_file  # noqa: E402

SPEC = load_spec()
META = SPEC.meta_sheet
Q1 = SPEC.a1("q1_value")  # where the form spec puts quarter 1's value
QUARTER = 2
SIGNATURE = {"signer_name": "นางสาวสุภาพร ใจดี", "signer_position": "หัวหน้าฝ่ายปกครอง",
             "signed_date": dt.date(2021, 3, 31)}
NOW = dt.datetime(2021, 4, 2, 3, 4, 5, tzinfo=dt.UTC)


def signed_values(catalog: Catalog, code: int, seed: int = 3) -> dict[str, dict[str, Any]]:
    values = clean_values(catalog, code, QUARTER, seed)
    for named in values.values():
        named.update(SIGNATURE)
    return values


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_as_excel_would(state: ExcelState, src: Path, dst: Path) -> Path:
    """The metadata rows the button wrote, saved into a copy of ``src`` (what Excel's Save does)."""
    wb = openpyxl.load_workbook(src, keep_vba=src.suffix == ".xlsm")
    ws = wb[META]
    for r, line in enumerate(state.sheet(META)["values"], start=1):
        key = line[0] if line else None
        if isinstance(key, str) and key.startswith(signoff.PREFIX):
            ws.cell(row=r, column=1).value = key
            ws.cell(row=r, column=2).value = line[1]
    save_keeping_vba(wb, dst) if src.suffix == ".xlsm" else wb.save(dst)
    return dst


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("signoff")


@pytest.fixture(scope="module")
def ready(chatuchak_workbook: Path, sample_catalog: Catalog, work: Path) -> Path:
    """Chatuchak, clean for quarter 2, every signature block filled."""
    return fill.fill_workbook(chatuchak_workbook, work / "ready.xlsm", values=signed_values(sample_catalog, 1030),
                              report_quarter=QUARTER)


@pytest.fixture(scope="module")
def by_button(ready: Path, work: Path) -> tuple[ExcelState, Path]:
    state = ExcelState(excel.remote_payload(ready))
    press(state, excel.submit)
    return state, save_as_excel_would(state, ready, work / "by_button.xlsm")


def test_the_button_stamps_the_metadata_and_says_so_in_thai(by_button: tuple[ExcelState, Path]) -> None:
    state, _ = by_button
    assert state.alerts and state.alerts[-1][0].startswith("ยืนยันส่งรายงานไตรมาสที่ 2 แล้ว เมื่อ ")
    assert "นางสาวสุภาพร ใจดี (หัวหน้าฝ่ายปกครอง)" in state.alerts[-1][0]
    rows = {r[0]: r[1] for r in state.rows(META) if isinstance(r[0], str) and r[0].startswith(signoff.PREFIX)}
    assert rows["signoff_quarter"] == "2" and rows["signoff_errors"] == "0"
    assert rows["signoff_time"].endswith("น. (UTC+7)") and len(rows["signoff_content_hash"]) == 64
    assert all(isinstance(v, str) for v in rows.values())  # text, as typed with a leading apostrophe


def test_button_and_command_are_one_engine(by_button: tuple[ExcelState, Path], ready: Path, work: Path) -> None:
    """Both stamp the same content hash and cell digests; head office reads either as signed."""
    _, saved = by_button
    before = sha(ready)
    result, path = submit.submit_file(ready, QUARTER, out=work / "by_command.xlsm", now=NOW)
    assert result.ok and path is not None and sha(ready) == before  # the input is never modified
    a, b = read_workbook(saved).meta, read_workbook(path).meta
    for key in ("signoff_quarter", "signoff_content_hash", "signoff_cells_1", "signoff_signer"):
        assert a[key].raw == b[key].raw, key
    assert b["signoff_time"].raw == "02/04/2564 10:04:05 น. (UTC+7)"  # Bangkok time, Buddhist year
    for file in (saved, path):
        report = validate_file(file)
        assert report.signoff is not None and report.signoff.state == "signed" and report.signoff.quarter == 2
        assert not [p for p in report.problems if p.code.startswith("KPI-W7")]
        assert report.valid  # the stamp rows do not disturb the metadata checksum


def test_signing_again_replaces_the_stamp_in_place(work: Path) -> None:
    first = work / "by_command.xlsm"
    again, path = submit.submit_file(first, QUARTER, out=work / "again.xlsm", now=NOW + dt.timedelta(days=1))
    assert again.ok and path is not None
    keys = [k for k in read_workbook(path).meta if k.startswith(signoff.PREFIX)]
    assert keys == [k for k in read_workbook(first).meta if k.startswith(signoff.PREFIX)]
    assert read_workbook(path).meta["signoff_time"].raw.startswith("03/04/2564")


def test_a_workbook_edited_after_signing_names_the_cells(work: Path) -> None:
    signed = work / "by_command.xlsm"
    edited = fill.fill_workbook(signed, work / "edited.xlsm",
                                values={"KPI-03": {"q2_value": 999}, "KPI-05": {"q2_report": "แก้ภายหลัง"}})
    report = validate_file(edited)
    assert report.signoff is not None and report.signoff.state == "changed"
    where = {k: read_workbook(edited).sheets[k.split("!")[0]] for k in report.signoff.changed}
    names = sorted(next(n for n, c in where[k].items() if f"{c.sheet}!{c.cell}" == k) for k in where)
    assert names == ["q2_report", "q2_value"] and len(report.signoff.changed) == 2
    w701 = [p for p in report.problems if p.code == "KPI-W701"]
    assert len(w701) == 1 and all(k in w701[0].message_th for k in report.signoff.changed)
    assert "แก้ไขข้อมูลหลังยืนยันส่งรายงานไตรมาสที่ 2" in w701[0].message_th
    th, en = signoff.describe(report.signoff, QUARTER)
    assert report.signoff.changed[0] in th and "changed after signing in 2 cell(s)" in en


def test_an_edited_stamp_is_damaged_not_trusted(work: Path) -> None:
    wb = openpyxl.load_workbook(work / "by_command.xlsm", keep_vba=True)
    ws = wb[META]
    row = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "signoff_quarter")
    ws.cell(row, 2).value = "3"
    save_keeping_vba(wb, work / "forged.xlsm")
    report = validate_file(work / "forged.xlsm")
    assert report.signoff is not None and report.signoff.state == "damaged"
    assert [p.code for p in report.problems if p.code.startswith("KPI-W7")] == ["KPI-W702"]


def test_errors_or_a_missing_signature_refuse_with_a_thai_list(chatuchak_workbook: Path, sample_catalog: Catalog,
                                                              work: Path) -> None:
    values = signed_values(sample_catalog, 1030)
    values["KPI-03"]["q1_value"] = "สิบ"
    values["KPI-06"]["signer_position"] = None
    bad = fill.fill_workbook(chatuchak_workbook, work / "bad.xlsm", values=values, report_quarter=QUARTER)
    state = ExcelState(excel.remote_payload(bad))
    press(state, excel.submit)
    text, mode = state.alerts[-1][0], state.alerts[-1][3] if len(state.alerts[-1]) > 3 else None
    assert text.startswith("[") and "ยืนยันส่งรายงานไตรมาสที่ 2 ไม่ได้ ยังมี 2 รายการที่ต้องแก้" in text, text
    assert "[KPI-03!" in text and "ต้องเป็นตัวเลข" in text
    assert "[KPI-06!" in text and "ต้องกรอกตำแหน่งผู้ลงนามก่อนยืนยันส่งรายงาน" in text
    assert mode in (None, "critical")
    assert not [r for r in state.rows(META) if isinstance(r[0], str) and r[0].startswith(signoff.PREFIX)]
    assert ("KPI-03", Q1) in {(k[0], k[1]) for k in state.colors}  # marked as the check button marks
    before = sha(bad)
    done = CliRunner().invoke(app, ["submit", str(bad), "--quarter", "2", "--out", str(work / "bad_signed.xlsm")])
    assert done.exit_code == 1 and "KPI-E701" in done.output and not (work / "bad_signed.xlsm").exists()
    assert sha(bad) == before


def test_a_catalog_may_let_districts_submit_with_errors(sample_catalog: Catalog, work: Path) -> None:
    cat = small_catalog(sample_catalog, [1030]).model_copy(update={"submit_with_errors": True})
    assert cat.content_hash != small_catalog(sample_catalog, [1030]).content_hash
    template.build_all(cat, work / "lenient", macros=False, jobs=1)
    blank = work / "lenient" / template.output_name(cat, 1030, macros=False)
    values = signed_values(cat, 1030)
    values["KPI-03"]["q1_value"] = "สิบ"
    filled = fill.fill_workbook(blank, work / "lenient.xlsx", values=values, report_quarter=QUARTER)
    done = CliRunner().invoke(app, ["submit", str(filled), "--quarter", "2"])
    assert done.exit_code == 0, done.output
    out = submit.default_output(filled, QUARTER)
    assert out.name == "lenient_signed_Q2.xlsx" and "ยังมีข้อผิดพลาด 1 รายการ" in done.output
    assert read_workbook(out).meta["signoff_errors"].raw == "1"
    done = CliRunner().invoke(app, ["submit", str(filled), "--quarter", "2", "--out", str(filled)])
    assert done.exit_code == 2 and "KPI-E601" in done.output
    # Signing again onto the existing signed copy (or any existing file, e.g. another district's
    # workbook mistyped as --out) is refused before any work; --force replaces the signed copy.
    before = out.read_bytes()
    done = CliRunner().invoke(app, ["submit", str(filled), "--quarter", "2"])
    assert done.exit_code == 2 and "KPI-E608" in done.output and out.read_bytes() == before
    done = CliRunner().invoke(app, ["submit", str(filled), "--quarter", "2", "--force"])
    assert done.exit_code == 0, done.output


def test_head_office_sees_each_submission_s_sign_off(sample_catalog: Catalog, built_workbooks: dict[int, Path],
                                                      work: Path) -> None:
    """Consolidation: signed and unchanged / changed after signing (naming the cells) / not signed,
    in the result and on the summary's status sheet."""
    cat = sample_catalog  # the session's workbooks are built from it
    inbox = work / "inbox"
    inbox.mkdir()
    signed = work / "by_command.xlsm"
    (inbox / "chatuchak.xlsm").write_bytes(signed.read_bytes())
    phra_nakhon, _ = submit.submit_file(
        fill.fill_workbook(built_workbooks[1001], work / "1001.xlsm", values=signed_values(cat, 1001, 5),
                           report_quarter=QUARTER), QUARTER, out=work / "1001_signed.xlsm", now=NOW)
    assert phra_nakhon.ok
    fill.fill_workbook(work / "1001_signed.xlsm", inbox / "phra_nakhon.xlsm", values={"KPI-02": {"q1_value": 1}})
    fill.fill_workbook(built_workbooks[1003], inbox / "unsigned.xlsm", values=clean_values(cat, 1003, QUARTER, 7),
                       report_quarter=QUARTER)
    result = consolidate(inbox, cat, QUARTER, out=work / "summary.xlsx", db=False)
    d = result.districts.set_index("district_code")
    assert list(d.loc[[1030, 1001, 1003], "status"]) == ["clean"] * 3
    assert d.loc[1030, "signoff"] == "signed" and d.loc[1030, "signoff_quarter"] == 2
    assert d.loc[1030, "signoff_th"] == "ยืนยันส่งไตรมาส 2 แล้ว ไม่มีการแก้ไขหลังยืนยัน"
    assert d.loc[1001, "signoff"] == "changed" and d.loc[1001, "signoff_changed"].startswith(f"KPI-02!{Q1}")
    assert d.loc[1003, "signoff"] == "unsigned" and d.loc[1003, "signoff_en"] == "not signed"
    ws = openpyxl.load_workbook(result.paths["summary"])["สถานะการส่ง"]
    header = [c.value for c in ws[1]]
    col = header.index("การยืนยันส่งรายงาน\nsign-off")
    shown = {row[0].value: row[col].value for row in ws.iter_rows(min_row=2, max_row=51)}
    assert f"แก้ไขหลังยืนยัน 1 ช่อง: KPI-02!{Q1}" in shown[1001] and "changed after signing" in shown[1001]
    assert shown[1003].startswith("ยังไม่ยืนยันส่ง")
    w701 = result.problems[result.problems["code"] == "KPI-W701"]
    assert list(w701["district_code"]) == [1001] and list(w701["cell"]) == [Q1]
