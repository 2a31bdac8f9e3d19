"""The year's cycle end to end (issue 12's "done when"), on demo-like data for three districts.

Districts sign off (Chatuchak through the real xlwings API of the button, the others through the
command); head office consolidates; a reviewer fills the review workbook with openpyxl (scores,
comments, two items sent back); ``kpi-xl review apply`` stores it and writes the feedback
workbooks; the originals stay byte-identical; history holds both scores and the audit rows; a
district fixes a returned item in its feedback copy, signs off again and resubmits; the next
consolidation shows which returned item changed.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import create_engine, select
from test_consolidate import clean_values, tree_hashes
from test_excel import ExcelState, press
from test_signoff import NOW, QUARTER, save_as_excel_would, signed_values
from typer.testing import CliRunner

from kpi_xl import excel, fill, history, submit
from kpi_xl.catalog import Catalog
from kpi_xl.cli import app
from kpi_xl.consolidate import ConsolidationResult, consolidate
from kpi_xl.headoffice import feedback, review

CODES = [1030, 1001, 1003]
REVIEWER = "นางสาวตรวจ ละเอียด"
SENT_BACK = {(1030, "KPI-03"): "ผลไตรมาสที่ 2 ไม่ตรงกับหลักฐาน กรุณาตรวจสอบและแก้ไข",
             (1001, "KPI-02"): "=ขอหลักฐานการเสริมแนวป้องกันน้ำท่วมเพิ่มเติม"}  # "=" must stay text


@dataclass
class Cycle:
    root: Path
    catalog: Catalog
    inbox: Path
    out: Path
    db: Path
    first: ConsolidationResult
    review_file: Path
    hashes_before: dict[str, str]
    applied: Any = None
    apply_output: str = ""
    second: ConsolidationResult | None = None
    audit_after_second_apply: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _fill_review(path: Path, entries: dict[tuple[int, str], dict[str, Any]]) -> None:
    """As a reviewer would: openpyxl, only head office's columns."""
    wb = openpyxl.load_workbook(path)
    ws = wb[review.SHEET]
    col = {k: i + 1 for k, i in review.COL.items()}
    for r in range(2, ws.max_row + 1):
        key = (int(ws.cell(r, col["district_code"]).value), ws.cell(r, col["indicator_code"]).value)
        for name, value in entries.get(key, {}).items():
            cell = ws.cell(r, col[name])
            cell.value = value
            if isinstance(value, str):
                cell.data_type = "s"  # typed as text ('=... in Excel)
    wb.save(path)


def _entries(catalog: Catalog) -> dict[tuple[int, str], dict[str, Any]]:
    out: dict[tuple[int, str], dict[str, Any]] = {}
    for code in (1030, 1001):
        for ind in catalog.for_district(code):
            key = (code, ind.code)
            if key in SENT_BACK:
                out[key] = {"hq_score": 2, "hq_comment": SENT_BACK[key], "decision": review.RETURN,
                            "reviewer": REVIEWER}
            else:
                out[key] = {"hq_score": 4, "decision": review.ACCEPT, "reviewer": REVIEWER}
    out[(1030, "KPI-05")]["hq_comment"] = "ดีมาก"
    return out


@pytest.fixture(scope="module")
def cycle(tmp_path_factory: pytest.TempPathFactory, sample_catalog: Catalog,
          built_workbooks: dict[int, Path]) -> Cycle:
    root = tmp_path_factory.mktemp("cycle")
    cat = sample_catalog  # the session's workbooks are built from it; the other 47 districts are missing
    inbox, out = root / "inbox", root / "out"
    inbox.mkdir()
    out.mkdir()
    # Chatuchak signs off with the button (xlwings' real API), the others with the command.
    ready = fill.fill_workbook(built_workbooks[1030], root / "1030.xlsm", values=signed_values(cat, 1030, 11),
                               report_quarter=QUARTER)
    state = ExcelState(excel.remote_payload(ready))
    press(state, excel.submit)
    save_as_excel_would(state, ready, inbox / ready.name)
    for code in (1001, 1003):
        filled = fill.fill_workbook(built_workbooks[code], root / f"{code}.xlsm", values=signed_values(cat, code, code),
                                    report_quarter=QUARTER)
        done = CliRunner().invoke(app, ["submit", str(filled), "--quarter", "2", "--out", str(inbox / filled.name)])
        assert done.exit_code == 0, done.output
    db = out / "kpi_history.sqlite"
    first = consolidate(inbox, cat, QUARTER, out=out / "summary.xlsx", run_at=dt.datetime(2021, 4, 20, tzinfo=dt.UTC))
    review_file = first.paths["review"]
    assert isinstance(review_file, Path)
    c = Cycle(root, cat, inbox, out, db, first, review_file, tree_hashes(inbox))
    _fill_review(review_file, _entries(cat))
    done = CliRunner().invoke(app, ["review", "apply", str(review_file)])
    c.apply_output = done.output
    assert done.exit_code == 0, done.output
    c.applied = sorted((out / "feedback_2564_Q2").iterdir())
    # Head office changes its mind on one score and applies again: one audit row more.
    _fill_review(review_file, {(1030, "KPI-05"): {"hq_score": 4.5}})
    done = CliRunner().invoke(app, ["review", "apply", str(review_file)])
    assert done.exit_code == 0, done.output
    c.audit_after_second_apply = len(_rows(db, history.assessment_audit))
    c.extra["after_apply"] = tree_hashes(inbox)
    c.extra["old_review"] = shutil.copy(review_file, root / "old_review.xlsx")
    # Chatuchak fixes the returned KPI-03 in its feedback copy, signs off again and resubmits.
    copy = out / "feedback_2564_Q2" / feedback.feedback_name(inbox / ready.name, 2564, QUARTER)
    fixed = fill.fill_workbook(copy, root / "fixed.xlsm", values={"KPI-03": {"q2_value": 12345}})
    result, signed = submit.submit_file(fixed, QUARTER, out=root / "resubmitted.xlsm", now=NOW)
    assert result.ok, result.message_th
    (inbox / ready.name).unlink()
    shutil.copy(signed, inbox / ready.name)
    c.second = consolidate(inbox, cat, QUARTER, out=out / "summary.xlsx",
                           run_at=dt.datetime(2021, 4, 25, tzinfo=dt.UTC))
    return c


def _rows(db: Path, table: Any) -> list[dict[str, Any]]:
    engine = create_engine(history.database_url(db))
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(table)).mappings()]
    engine.dispose()
    return rows


def test_every_district_signed_off_and_head_office_sees_it(cycle: Cycle) -> None:
    d = cycle.first.districts.set_index("district_code")
    assert list(d.loc[CODES, "signoff"]) == ["signed", "signed", "signed"] and list(d.loc[CODES, "status"]) == [
        "clean"] * 3
    rows = review.read_review(cycle.review_file)
    assert len(rows) == sum(len(cycle.catalog.for_district(c)) for c in CODES)  # districts that sent only
    assert all("ยืนยันส่งไตรมาส 2 แล้ว" in r.read_only["signoff"] for r in rows)
    assert all("นางสาวสุภาพร ใจดี (หัวหน้าฝ่ายปกครอง)" in r.read_only["signoff"] for r in rows)  # who signed


def test_the_review_workbook_is_formatted_protected_and_validated(cycle: Cycle) -> None:
    wb = openpyxl.load_workbook(cycle.review_file)
    ws = wb[review.SHEET]
    assert ws.protection.sheet and not ws.protection.password
    assert ws.freeze_panes == "D2" and ws.auto_filter.ref
    assert int(ws.page_setup.paperSize) == 9 and ws.print_title_rows == "$1:$1"  # A4
    col = {k: openpyxl.utils.get_column_letter(i + 1) for k, i in review.COL.items()}
    assert ws[f"{col['hq_score']}2"].protection.locked is False and ws[f"{col['narrative']}2"].protection.locked
    assert ws.column_dimensions[col["row_hash"]].hidden
    kinds = {dv.type for dv in ws.data_validations.dataValidation}
    assert {"decimal", "list"} <= kinds
    assert wb[review.META_SHEET].sheet_state == "hidden"


def test_apply_writes_feedback_with_comments_on_the_right_sheets(cycle: Cycle) -> None:
    names = [p.name for p in cycle.applied]
    assert names == ["feedback_2564_Q2_1001.xlsm", "feedback_2564_Q2_1030.xlsm"]  # named after the file sent
    assert "ส่งกลับแก้ไข 2" in cycle.apply_output.replace("\n", "")
    wb = openpyxl.load_workbook(cycle.applied[1], keep_vba=True)
    box = [c.value for row in wb["KPI-03"].iter_rows() for c in row if isinstance(c.value, str)
           and c.value.startswith(("ความเห็น", "ผลการพิจารณา"))]
    assert f"ความเห็น / comment: {SENT_BACK[(1030, 'KPI-03')]}" in box and any(review.RETURN in b for b in box)
    kpi05 = [c.value for row in wb["KPI-05"].iter_rows() for c in row if isinstance(c.value, str)]
    assert "ความเห็น / comment: ดีมาก" in kpi05 and not any(SENT_BACK[(1030, "KPI-03")] in v for v in kpi05)
    sheet = wb[feedback.SHEET]
    assert wb.active.title == feedback.SHEET
    assert sheet["A5"].value == "KPI-03" and sheet["E5"].value == review.RETURN  # what was sent back comes first
    other = openpyxl.load_workbook(cycle.applied[0])
    cell = other[feedback.SHEET]["F5"]
    assert cell.value == SENT_BACK[(1001, "KPI-02")] and cell.data_type == "s"  # text, never a formula


def test_the_originals_are_byte_identical(cycle: Cycle) -> None:
    assert cycle.extra["after_apply"] == cycle.hashes_before


def test_history_holds_both_scores_and_the_audit(cycle: Cycle) -> None:
    rows = _rows(cycle.db, history.assessments)
    entries = _entries(cycle.catalog)
    assert len(rows) == len(entries) + 1  # the second apply added the one changed score
    results = {(r["district_code"], r["indicator_code"]): r for r in _rows(cycle.db, history.results)
               if r["run_id"] == 1}
    for r in rows:
        assert r["self_score"] == results[(r["district_code"], r["indicator_code"])]["score"]
        assert r["reviewer"] == REVIEWER and r["content_hash"]
    kinds = {r["kind"] for r in results.values()}
    assert kinds == {"strategic", "routine"} and all(r["content_hash"] for k, r in results.items() if k[0] in CODES)
    districts = [r for r in _rows(cycle.db, history.district_results) if r["run_id"] == 1 and r["district_code"] == 1030]
    assert districts[0]["signoff"] == "signed" and districts[0]["score_routine"] is not None
    audit = _rows(cycle.db, history.assessment_audit)
    first_apply = sum(1 for e in entries.values() for k in ("hq_score", "decision", "hq_comment") if k in e)
    assert cycle.audit_after_second_apply == first_apply + 1
    last = audit[-1]
    assert (last["district_code"], last["indicator_code"], last["field"], last["old_value"], last["new_value"]) == (
        1030, "KPI-05", "hq_score", "4", "4.5")


def test_the_next_consolidation_shows_the_returned_items_and_whether_they_changed(cycle: Cycle) -> None:
    assert cycle.second is not None
    s = cycle.second.scores.set_index(["district_code", "indicator_code"])
    assert s.loc[(1030, "KPI-03"), "returned"] == "changed"
    assert s.loc[(1001, "KPI-02"), "returned"] == "unchanged"
    assert s.loc[(1030, "KPI-05"), "hq_score"] == 4.5 and pd.isna(s.loc[(1003, "KPI-05"), "hq_score"])
    d = cycle.second.districts.set_index("district_code")
    assert d.loc[1030, "signoff"] == "signed"  # signed again after the fix
    assert d.loc[1030, "status"] == "clean"  # the review box and the feedback sheet do not disturb the check
    assert pd.isna(d.loc[1003, "hq_district_score"]) and d.loc[1003, "final_score"] == d.loc[1003, "score"]
    inds = cycle.catalog.for_district(1001)  # every 1001 indicator assessed: 4, KPI-02 sent back with 2
    expected = sum(i.weight * (2 if i.code == "KPI-02" else 4) for i in inds) / sum(i.weight for i in inds)
    assert d.loc[1001, "hq_district_score"] == pytest.approx(expected, abs=0.005)
    assert d.loc[1001, "final_score"] == d.loc[1001, "hq_district_score"]
    ranked = d.dropna(subset=["final_score"])
    for code, row in ranked.iterrows():  # the rank follows head office's score where one exists
        assert row["rank"] == 1 + int((ranked["final_score"] > row["final_score"]).sum()), code
    rows = {(int(r.district_code), r.indicator_code): r for r in review.read_review(cycle.second.paths["review"])}
    assert rows[(1030, "KPI-03")].read_only["returned"].startswith("ส่งกลับแก้ไข: เขตแก้ไขแล้ว")
    assert rows[(1001, "KPI-02")].read_only["returned"].startswith("ส่งกลับแก้ไข: ยังไม่แก้ไข")
    # Head office's entries stay for the unchanged submission, not for the one sent again.
    assert rows[(1001, "KPI-02")].decision == review.RETURN and rows[(1001, "KPI-02")].reviewer == REVIEWER
    assert rows[(1030, "KPI-05")].hq_score is None


def test_wrong_entries_are_refused_with_their_cells(cycle: Cycle, tmp_path: Path) -> None:
    bad = tmp_path / cycle.review_file.name
    shutil.copy(cycle.review_file, bad)
    wb = openpyxl.load_workbook(bad)
    ws = wb[review.SHEET]
    col = {k: i + 1 for k, i in review.COL.items()}
    ws.cell(2, col["hq_score"]).value = 7
    ws.cell(3, col["hq_comment"]).value = None
    ws.cell(3, col["decision"]).value = review.RETURN
    ws.cell(3, col["hq_score"]).value = 1
    ws.cell(3, col["reviewer"]).value = REVIEWER
    ws.cell(4, col["score"]).value = 5.0
    ws.cell(5, col["district_code"]).value = 9999
    wb.save(bad)
    before = len(_rows(cycle.db, history.assessments))
    done = CliRunner().invoke(app, ["review", "apply", str(bad), "--db", str(cycle.db), "--out", str(tmp_path / "fb")],
                              env={"COLUMNS": "300"})
    assert done.exit_code == 1, done.output
    text = done.output.replace("\n", " ")
    letter = {k: openpyxl.utils.get_column_letter(v) for k, v in col.items()}
    assert f"ตรวจประเมิน!{letter['hq_score']}2" in text and "KPI-E711" in text
    assert f"ตรวจประเมิน!{letter['hq_comment']}3" in text and "KPI-E716" in text
    assert "KPI-E714" in text and "ตรวจประเมิน!A4" in text
    assert "KPI-E713" in text and "ตรวจประเมิน!A5" in text
    assert len(_rows(cycle.db, history.assessments)) == before and not (tmp_path / "fb").exists()


def test_summary_and_history_show_both_scores(cycle: Cycle) -> None:
    assert cycle.second is not None
    ws = openpyxl.load_workbook(cycle.second.paths["summary"])["คะแนนรายเขต"]
    header = [c.value for c in ws[1]]
    hq = header.index("คะแนนที่สำนักงานประเมิน\nhead office's score")
    rows = {r[0].value: r for r in ws.iter_rows(min_row=3) if isinstance(r[0].value, int)}
    d = cycle.second.districts.set_index("district_code")
    assert rows[1001][hq].value == pytest.approx(d.loc[1001, "hq_district_score"])
    assert rows[1001][hq + 1].value == pytest.approx(d.loc[1001, "hq_district_score"] - d.loc[1001, "score"], abs=0.011)
    trend = history.history_trend(cycle.db, 1001)
    assert trend["hq_score"].iloc[-1] == pytest.approx(d.loc[1001, "hq_district_score"])
    done = CliRunner().invoke(app, ["history", "trend", "--district", "1001", "--db", str(cycle.db)],
                              env={"COLUMNS": "250"})
    assert done.exit_code == 0 and "head office's score" in done.output
    assert f"{d.loc[1001, 'hq_district_score']:.2f}" in done.output


def test_a_later_quarter_changing_an_earlier_value_warns_with_both_values(
        cycle: Cycle, built_workbooks: dict[int, Path], tmp_path: Path) -> None:
    """Quarter 3's workbook says quarter 2 was something else than the quarter-2 run stored."""
    cat = cycle.catalog
    values = signed_values(cat, 1001, 1001)
    for code, named in clean_values(cat, 1001, 3, 1001).items():
        values[code].update({k: v for k, v in named.items() if k.startswith("q3_")})
    old = values["KPI-03"]["q2_value"]
    values["KPI-03"]["q2_value"] = old + 7
    inbox = tmp_path / "q3"
    inbox.mkdir()
    fill.fill_workbook(built_workbooks[1001], inbox / "1001.xlsm", values=values, report_quarter=3)
    result = consolidate(inbox, cat, 3, out=tmp_path / "summary.xlsx", db=cycle.db)
    w = result.problems[result.problems["code"] == "KPI-W711"]
    assert list(zip(w["district_code"], w["sheet"], w["name"], strict=True)) == [(1001, "KPI-03", "q2_value")]
    message = w["message_th"].iloc[0]
    assert f"ผลไตรมาสที่ 2 เปลี่ยนจาก {old:g}" in message and f"เป็น {old + 7:g}" in message
    rows = {(int(r.district_code), r.indicator_code): r for r in review.read_review(result.paths["review"])}
    assert "KPI-W711" in rows[(1001, "KPI-03")].read_only["problems"]
    assert "KPI-W711" not in (rows[(1001, "KPI-04")].read_only["problems"] or "")
    problems_sheet = openpyxl.load_workbook(result.paths["summary"])["ปัญหาที่พบ"]
    assert any(message in str(c.value) for row in problems_sheet.iter_rows() for c in row)
    stored = {(r["quarter"], r["run_id"]): r["q2_value"] for r in _rows(cycle.db, history.results)
              if (r["district_code"], r["indicator_code"]) == (1001, "KPI-03")}
    assert old in stored.values() and old + 7 in stored.values()  # the history keeps both


def test_a_review_of_a_file_since_replaced_is_refused(cycle: Cycle, tmp_path: Path) -> None:
    """Chatuchak sent again and head office re-consolidated: the old review's Chatuchak rows no
    longer describe what the district says (KPI-E719); nothing is stored."""
    before = len(_rows(cycle.db, history.assessments))
    done = CliRunner().invoke(app, ["review", "apply", str(cycle.extra["old_review"]), "--db", str(cycle.db),
                                    "--out", str(tmp_path / "fb")], env={"COLUMNS": "300"})
    assert done.exit_code == 1, done.output
    codes = {line.split()[0] for line in done.output.splitlines() if line.startswith("KPI-")}
    assert codes == {"KPI-E719"} and "เขต 1030 ส่งแฟ้มใหม่" in done.output.replace("\n", "")
    assert len(_rows(cycle.db, history.assessments)) == before


def test_the_web_report_shows_kinds_sign_off_and_head_offices_scores(cycle: Cycle, tmp_path: Path) -> None:
    from kpi_xl.web import build_site

    site = tmp_path / "site"
    build_site(cycle.db, site, fiscal_year=2564, quarter=QUARTER, catalog=cycle.catalog)
    overview = json.loads((site / "index.json").read_text(encoding="utf-8"))
    entries = _entries(cycle.catalog)
    assert overview["assessed"] == {"items": len(entries), "sent_back": len(SENT_BACK), "districts": 2}
    assert {k["kind"] for k in overview["kpi_kinds"]} == {"strategic", "routine"}
    ranking = {d["code"]: d for d in overview["ranking"]}
    assert ranking[1003]["hq_score"] is None and ranking[1001]["hq_score"] is not None
    assert {f["key"] for f in ranking[1030]["flags"]} & {"signed", "changed"}
    page = json.loads((site / "district" / "1001.json").read_text(encoding="utf-8"))
    rows = {i["code"]: i for i in page["indicators"]}
    assert rows["KPI-02"]["decision"] == "ส่งกลับแก้ไข" and rows["KPI-02"]["decision_en"] == "sent back"
    assert rows["KPI-02"]["hq_comment"] == SENT_BACK[(1001, "KPI-02")] and rows["KPI-02"]["hq_score"] == 2
    assert all(i["kpi_kind"] in ("strategic", "routine") for i in rows.values())
    weights = {i["code"]: i["weight"] for i in rows.values()}
    expect = sum(weights[c] * entries[(1001, c)]["hq_score"] for c in rows) / sum(weights.values())
    assert page["district"]["hq_score"] == pytest.approx(expect, abs=0.006)
    assert page["district"]["signoff"]["state"] in ("signed", "changed") and page["district"]["score_routine"] is not None
    html = (site / "district" / "1001.html").read_text(encoding="utf-8")
    # The reviewer's comment starting with "=" is text on the page, escaped like every other string.
    assert "head office's score" in html and "=ขอหลักฐาน" in html and "ตัวชี้วัดงานประจำ" in html


def test_head_offices_own_template_gets_the_assessed_score_by_name(cycle: Cycle, tmp_path: Path) -> None:
    from openpyxl.workbook.defined_name import DefinedName

    from kpi_xl.hq import fill_template

    assert cycle.second is not None
    wb = openpyxl.Workbook()
    for i, name in enumerate(("kpi_hq_score_1001", "kpi_hq_score_1003", "kpi_signoff_1030"), start=1):
        wb.defined_names[name] = DefinedName(name, attr_text=f"'Sheet'!$B${i}")
    wb.save(tmp_path / "HQ.xlsx")
    out = fill_template(tmp_path / "HQ.xlsx", tmp_path / "HQ_out.xlsx", cycle.second)
    ws = openpyxl.load_workbook(out)["Sheet"]
    d = cycle.second.districts.set_index("district_code")
    assert ws["B1"].value == pytest.approx(d.loc[1001, "hq_district_score"]) and ws["B1"].value is not None
    assert ws["B2"].value is None  # 1003 was not assessed
    assert ws["B3"].value == d.loc[1030, "signoff_th"] and "ยืนยันส่ง" in ws["B3"].value


def test_a_workbook_replaced_in_the_inbox_since_the_run_stores_nothing(cycle: Cycle, tmp_path: Path) -> None:
    """A district drops a new file into the inbox after the run and head office applies its review:
    feedback would show a verdict on a workbook head office never saw. KPI-E720 names the file;
    no assessment is stored and no feedback folder appears (the copy of the cycle is used, the
    cycle's own inbox stays as it is)."""
    from kpi_xl.headoffice.review import META_SHEET

    root = tmp_path / "copy"
    shutil.copytree(cycle.inbox, root / "inbox")
    shutil.copytree(cycle.out, root / "out", ignore=shutil.ignore_patterns("feedback_*"))
    review_file = root / "out" / cycle.review_file.name
    wb = openpyxl.load_workbook(review_file)
    meta = wb[META_SHEET]
    for row in meta.iter_rows():
        if row[0].value == "inbox":
            row[1].value = str(root / "inbox")
    wb.save(review_file)
    _fill_review(review_file, {(1001, "KPI-01"): {"hq_score": 1, "decision": review.ACCEPT, "reviewer": REVIEWER}})
    sent = next((root / "inbox").glob("*1001*"))
    sent.write_bytes(sent.read_bytes() + b"\0")  # the district's "new" file, never consolidated
    db = root / "out" / "kpi_history.sqlite"
    before = len(_rows(db, history.assessments))
    done = CliRunner().invoke(app, ["review", "apply", str(review_file)], env={"COLUMNS": "300"})
    assert done.exit_code == 2, done.output  # an unusable input, not a wrong entry
    codes = {line.split()[0] for line in done.output.splitlines() if line.startswith("KPI-")}
    assert codes == {"KPI-E720"} and sent.name in done.output.replace("\n", ""), done.output
    assert len(_rows(db, history.assessments)) == before
    assert not list((root / "out").glob("feedback_*")) and not list((root / "out").glob(".feedback_*"))
