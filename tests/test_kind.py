"""KPI kind (ตัวชี้วัดเชิงยุทธศาสตร์ / ตัวชี้วัดงานประจำ): catalog, indicator sheet, history schema 3."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import openpyxl
import pytest

from kpi_xl import catalog as cat_mod
from kpi_xl import history
from kpi_xl.catalog import INDICATOR_SHEET, Catalog, Kind

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_XLSX = ROOT / "workbook_templates" / "catalog_2564.xlsx"


def test_sample_catalog_mixes_kinds_and_strategic_is_the_default(sample_catalog: Catalog) -> None:
    kinds = {i.code: i.kind for i in sample_catalog.indicators}
    assert kinds["KPI-04"] is Kind.ROUTINE and kinds["KPI-05"] is Kind.STRATEGIC
    assert set(kinds.values()) == {Kind.STRATEGIC, Kind.ROUTINE}
    assert cat_mod.load(SAMPLE_XLSX) == sample_catalog
    data = sample_catalog.model_dump(mode="json")
    for ind in data["indicators"]:
        del ind["kind"]
    assert Catalog.model_validate(data).indicators[3].kind is Kind.STRATEGIC


def test_the_hash_of_a_catalog_without_kinds_is_unchanged(sample_catalog: Catalog) -> None:
    """Workbooks already sent carry their catalog's hash: a catalog that never says ``kind`` (all
    strategic) keeps the hash it had before the field existed."""
    plain = sample_catalog.model_copy(update={"indicators": [
        i.model_copy(update={"kind": Kind.STRATEGIC}) for i in sample_catalog.indicators]})
    data = plain.model_dump(mode="json")
    del data["error_scores"], data["submit_with_errors"]
    for ind in data["indicators"]:
        del ind["kind"]
    before = hashlib.sha256(json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
                            .encode()).hexdigest()
    assert plain.content_hash == before
    assert sample_catalog.content_hash != before  # the routine ones count


def test_excel_catalog_takes_thai_words_and_may_lack_the_column(tmp_path: Path, sample_catalog: Catalog) -> None:
    path = tmp_path / "c.xlsx"
    shutil.copy(SAMPLE_XLSX, path)
    wb = openpyxl.load_workbook(path)
    ws = wb[INDICATOR_SHEET[0]]
    header = [str(c.value).splitlines()[-1] for c in ws[1]]
    col = header.index("kind") + 1
    ws.cell(row=2, column=col).value = "ตัวชี้วัดงานประจำ"
    ws.cell(row=3, column=col).value = "งานประจำ"
    ws.cell(row=5, column=col).value = "เชิงยุทธศาสตร์"
    wb.save(path)
    got = cat_mod.load(path)
    assert [i.kind for i in got.indicators[:4]] == [Kind.ROUTINE, Kind.ROUTINE, Kind.STRATEGIC, Kind.STRATEGIC]
    ws.delete_cols(col)
    wb.save(path)
    assert all(i.kind is Kind.STRATEGIC for i in cat_mod.load(path).indicators)
    ws.insert_cols(col)
    ws.cell(row=1, column=col).value = "ประเภทตัวชี้วัด\nkind"
    ws.cell(row=2, column=col).value = "สำคัญมาก"
    wb.save(path)
    with pytest.raises(cat_mod.KpiError) as exc:
        cat_mod.load(path)
    assert [(p.code, p.location.column, p.location.cell) for p in exc.value.problems] == [
        ("KPI-C011", "kind", f"{openpyxl.utils.get_column_letter(col)}2")]


def test_the_indicator_sheet_shows_the_kind_beside_output_outcome(chatuchak_workbook: Path) -> None:
    wb = openpyxl.load_workbook(chatuchak_workbook, read_only=True)
    for code, label in (("KPI-04", "ตัวชี้วัดงานประจำ"), ("KPI-05", "ตัวชี้วัดเชิงยุทธศาสตร์")):
        rows = [[c for c in row if c is not None] for row in wb[code].iter_rows(values_only=True)]
        row = next(r for r in rows if r and r[0] == "2. ระดับความสำเร็จ :")
        assert label in row, row
    wb.close()


def test_a_schema_2_database_gains_the_new_columns_and_keeps_its_rows(tmp_path: Path) -> None:
    """Upgrade 2 → 3 on open: nullable columns added, rows as they were, version recorded."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("kpi_xl.history_v2", ROOT / "tests" / "legacy" / "history_v2.py")
    assert spec is not None and spec.loader is not None
    old = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old)
    db = tmp_path / "v2.sqlite"
    engine = old.open_db(db)
    with engine.begin() as conn:
        run_id = conn.execute(old.insert(old.runs).values(
            fiscal_year=2564, quarter=1, run_at=old.dt.datetime(2021, 1, 20), catalog_hash="x" * 64,
            forced=False)).inserted_primary_key[0]
        conn.execute(old.insert(old.accepted).values(run_id=run_id, fiscal_year=2564, quarter=1,
                                                     accepted_at=old.dt.datetime(2021, 1, 20), action="run"))
        conn.execute(old.insert(old.results).values(run_id=run_id, fiscal_year=2564, quarter=1, district_code=1030,
                                                    indicator_code="KPI-05", score=4.0))
    engine.dispose()
    before = sqlite3.connect(db).execute("SELECT * FROM results").fetchall()
    history.open_db(db).dispose()
    con = sqlite3.connect(db)
    columns = [r[1] for r in con.execute("PRAGMA table_info(results)")]
    assert "kind" in columns
    assert {"score_strategic", "score_routine", "signoff", "signoff_quarter"} <= {
        r[1] for r in con.execute("PRAGMA table_info(district_results)")}
    after = con.execute("SELECT * FROM results").fetchall()
    assert [row[: len(before[0])] for row in after] == before and after[0][columns.index("kind")] is None
    assert con.execute("SELECT value FROM schema_info WHERE key = 'version'").fetchone() == (str(history.SCHEMA_VERSION),)
    assert history.SCHEMA_VERSION == 3
    con.close()
