"""The history database: two fiscal years × two quarters into SQLite, then one period re-run.

Three districts keep it quick (1048 is filled for the first runs and missing on the re-run). Every
stored score is compared with the independent calculation of test_consolidate; the summary of the
last period must show the previous quarter's and the previous year's score beside each district.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import create_engine, select
from test_consolidate import clean_values, expected_district, fill_many, small_catalog

from kpi_xl import history, template
from kpi_xl.catalog import Catalog
from kpi_xl.consolidate import ConsolidationResult, consolidate
from kpi_xl.problems import KpiError

CODES = [1001, 1030, 1048]
PERIODS = [(2563, 1), (2563, 2), (2564, 1), (2564, 2)]
RERUN = (2564, 2)


def _round(x: float) -> float:
    from test_consolidate import excel_round

    return excel_round(x)


@dataclass
class History:
    db: Path
    catalogs: dict[int, Catalog]
    results: dict[tuple[int, int], ConsolidationResult]
    expected: dict[tuple[int, int], dict[int, float]]  # period → district → weighted score
    indicator_expected: dict[tuple[int, int], dict[int, dict[str, float | None]]]
    trend_before: pd.DataFrame
    tables_before: dict[str, list[dict[str, Any]]]
    tables_after: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    rerun: ConsolidationResult | None = None
    rerun_expected: dict[int, float] = field(default_factory=dict)
    trend_after: pd.DataFrame | None = None
    refused: list[Any] = field(default_factory=list)
    tables_refused: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    refused_summary: bool = False


def _dump(db: Path) -> dict[str, list[dict[str, Any]]]:
    engine = create_engine(history.database_url(db))
    out = {}
    with engine.connect() as conn:
        for table in (history.runs, history.submissions, history.district_results, history.results,
                      history.problems):
            rows = [dict(r) for r in conn.execute(select(table)).mappings()]
            out[table.name] = rows
    engine.dispose()
    return out


def _period_rows(rows: list[dict[str, Any]], period: tuple[int, int], *, keep: bool) -> list[dict[str, Any]]:
    """Rows of one period (keep=True) or of every other period, without surrogate ids."""
    picked = [{k: v for k, v in r.items() if k not in ("id",)} for r in rows
              if ((r["fiscal_year"], r["quarter"]) == period) == keep]
    return sorted(picked, key=repr)


def _run(root: Path, cat: Catalog, blank: Path, quarter: int, seed: int, db: Path,
         skip: tuple[int, ...] = (), replace: bool = False,
         ) -> tuple[ConsolidationResult, dict[int, float], dict[int, dict[str, Any]]]:
    inbox = root / f"inbox_{cat.fiscal_year}_{quarter}_{seed}"
    jobs, weighted, per_indicator = [], {}, {}
    for code in CODES:
        if code in skip:
            continue
        values = clean_values(cat, code, quarter, seed=seed * 10_000 + code)
        src = blank / template.output_name(cat, code, macros=False)
        jobs.append((src, inbox / src.name, values, quarter))
        per_indicator[code], weighted[code] = expected_district(cat, code, values, quarter)
    fill_many(jobs, quick=True)
    out = root / f"summary_{cat.fiscal_year}_Q{quarter}_{seed}.xlsx"
    result = consolidate(inbox, cat, quarter, out=out, db=db, jobs=1, replace=replace)
    return result, weighted, per_indicator


@pytest.fixture(scope="module")
def hist(tmp_path_factory: pytest.TempPathFactory, sample_catalog: Catalog) -> History:
    root = tmp_path_factory.mktemp("history")
    db = root / "kpi_history.sqlite"
    catalogs = {fy: small_catalog(sample_catalog, CODES, fy) for fy in (2563, 2564)}
    blanks = {}
    for fy, cat in catalogs.items():
        blanks[fy] = root / f"blank_{fy}"
        template.build_all(cat, blanks[fy], macros=False, jobs=1)
    results, expected, per_ind = {}, {}, {}
    for fy, q in PERIODS:
        results[(fy, q)], expected[(fy, q)], per_ind[(fy, q)] = _run(root, catalogs[fy], blanks[fy], q, seed=fy + q,
                                                                      db=db)
    h = History(db, catalogs, results, expected, per_ind, history.history_trend(db, 1030, indicators=True), _dump(db))
    with pytest.raises(KpiError) as refused:  # fewer workbooks than the stored 2564/Q2: refused without the flag
        _run(root, catalogs[2564], blanks[2564], 2, seed=7, db=db, skip=(1048,))
    h.refused, h.tables_refused = refused.value.problems, _dump(db)
    h.refused_summary = (root / "summary_2564_Q2_7.xlsx").exists()
    h.rerun, h.rerun_expected, _ = _run(root, catalogs[2564], blanks[2564], 2, seed=7, db=db, skip=(1048,),
                                        replace=True)
    h.tables_after = _dump(db)
    h.trend_after = history.history_trend(str(db), 1030)
    return h


def test_every_run_is_stored(hist: History) -> None:
    runs = history.runs_frame(hist.db)
    assert [tuple(x) for x in runs[["fiscal_year", "quarter"]].itertuples(index=False)] == PERIODS
    assert list(runs["received"]) == [3, 3, 3, 2]
    rows = hist.tables_before["district_results"]
    for period, scores in hist.expected.items():
        stored = {r["district_code"]: r["score"] for r in rows if (r["fiscal_year"], r["quarter"]) == period}
        assert stored == pytest.approx(scores), period
    results = hist.tables_before["results"]
    for period, per_district in hist.indicator_expected.items():
        for code, scores in per_district.items():
            stored = {r["indicator_code"]: r["score"] for r in results
                      if (r["fiscal_year"], r["quarter"], r["district_code"]) == (*period, code)}
            assert stored == pytest.approx(scores), (period, code)
    subs = [r for r in hist.tables_before["submissions"] if (r["fiscal_year"], r["quarter"]) == (2564, 1)]
    assert len(subs) == 3 and all(len(r["sha256"]) == 64 and r["used"] for r in subs)


def test_the_summary_shows_previous_quarter_and_previous_year(hist: History) -> None:
    last = hist.results[(2564, 2)]
    d = last.districts.set_index("district_code")
    for code in CODES:
        assert d.loc[code, "prev_quarter_score"] == pytest.approx(hist.expected[(2564, 1)][code])
        assert d.loc[code, "prev_year_score"] == pytest.approx(hist.expected[(2563, 2)][code])
    first = hist.results[(2563, 1)].districts
    assert first["prev_quarter_score"].isna().all() and first["prev_year_score"].isna().all()
    ws = openpyxl.load_workbook(last.paths["summary"])["คะแนนรายเขต"]
    header = [c.value for c in ws[1]]
    q_col = next(i for i, h in enumerate(header) if h and h.startswith("ไตรมาสก่อน"))
    y_col = next(i for i, h in enumerate(header) if h and h.startswith("ปีก่อน"))
    assert header[q_col].endswith("2564/Q1") and header[y_col].endswith("2563/Q2")
    for row in ws.iter_rows(min_row=3, max_row=2 + len(CODES), values_only=True):
        assert row[q_col] == pytest.approx(hist.expected[(2564, 1)][row[0]])
        assert row[y_col] == pytest.approx(hist.expected[(2563, 2)][row[0]])


def test_trend_of_a_district(hist: History) -> None:
    t = hist.trend_before
    s = {p: hist.expected[p][1030] for p in PERIODS}
    assert list(t["period"]) == ["2563/Q1", "2563/Q2", "2564/Q1", "2564/Q2"]
    assert list(t["score"]) == pytest.approx([s[p] for p in PERIODS])
    assert list(t.index) == PERIODS
    assert list(t["status"]) == ["clean"] * 4 and list(t["status_th"]) == ["ส่งแล้ว ถูกต้อง"] * 4
    assert all(isinstance(r, int) for r in t["rank"])
    change_q = list(t["change_prev_quarter"])
    assert math.isnan(change_q[0]) and math.isnan(change_q[2])  # 2562/Q4 and 2563/Q4 were never stored
    assert change_q[1] == pytest.approx(_round(s[(2563, 2)] - s[(2563, 1)]))
    assert change_q[3] == pytest.approx(_round(s[(2564, 2)] - s[(2564, 1)]))
    assert t["prev_year_score"].isna().tolist() == [True, True, False, False]
    assert list(t["prev_year_score"])[2:] == pytest.approx([s[(2563, 1)], s[(2563, 2)]])
    assert list(t["change_prev_year"])[3] == pytest.approx(_round(s[(2564, 2)] - s[(2563, 2)]))
    for i, period in enumerate(PERIODS):
        for code, score in hist.indicator_expected[period][1030].items():
            assert t.iloc[i][code] == pytest.approx(score), (period, code)
    assert history.history_trend(hist.db, 9999).empty
    assert history.history_trend(hist.db.parent / "none.sqlite", 1030).empty
    assert not (hist.db.parent / "none.sqlite").exists()


def test_a_run_with_fewer_workbooks_is_refused_before_writing_anything(hist: History) -> None:
    assert [p.code for p in hist.refused] == ["KPI-E610"]
    assert "2 usable workbooks, fewer than the stored 2564/Q2 run (3, run 4)" in hist.refused[0].message_en
    assert hist.tables_refused == hist.tables_before
    assert not hist.refused_summary


def test_rerun_with_the_flag_becomes_current_and_keeps_the_old_run(hist: History) -> None:
    for table in hist.tables_before:
        before = _period_rows(hist.tables_before[table], RERUN, keep=False)
        after = _period_rows(hist.tables_after[table], RERUN, keep=False)
        assert after == before, table
    new_id = max(r["id"] for r in hist.tables_after["runs"])
    for table in ("submissions", "district_results", "results", "problems"):  # the old run's rows are all kept
        old = [r for r in _period_rows(hist.tables_after[table], RERUN, keep=True) if r["run_id"] != new_id]
        assert old == _period_rows(hist.tables_before[table], RERUN, keep=True), table
    rows = [r for r in _period_rows(hist.tables_after["district_results"], RERUN, keep=True) if r["run_id"] == new_id]
    assert {r["district_code"]: r["status"] for r in rows} == {1001: "clean", 1030: "clean", 1048: "missing"}
    assert {r["district_code"]: r["score"] for r in rows if r["score"] is not None} == pytest.approx(hist.rerun_expected)
    mine = [r for r in _period_rows(hist.tables_after["submissions"], RERUN, keep=True) if r["run_id"] == new_id]
    assert len(mine) == 2
    assert any(r["code"] == "KPI-E501" and r["run_id"] == new_id
               for r in _period_rows(hist.tables_after["problems"], RERUN, keep=True))
    runs = hist.tables_after["runs"]
    assert len(runs) == 5 and [r["forced"] for r in runs] == [False] * 4 + [True]
    assert hist.trend_after is not None
    assert list(hist.trend_after["score"])[3] == pytest.approx(hist.rerun_expected[1030])
    assert list(hist.trend_after["score"])[:3] == list(hist.trend_before["score"])[:3]


def test_previous_periods() -> None:
    assert history.previous_quarter(2564, 1) == (2563, 4)
    assert history.previous_quarter(2564, 3) == (2564, 2)
    assert history.previous_year(2564, 1) == (2563, 1)


def test_database_urls(tmp_path: Path) -> None:
    assert history.database_url(tmp_path / "h.sqlite") == f"sqlite:///{tmp_path / 'h.sqlite'}"
    assert history.database_url("postgresql+psycopg://u:secret@db/kpi") == "postgresql+psycopg://u:secret@db/kpi"
    assert "secret" not in history.display_url("postgresql+psycopg://u:secret@db/kpi")


def test_cli_history_prints_the_trend(hist: History) -> None:
    from typer.testing import CliRunner

    from kpi_xl.cli import app

    done = CliRunner().invoke(app, ["history", "--district", "1030", "--db", str(hist.db)])
    assert done.exit_code == 0, done.output
    assert "2563/Q1" in done.output and "2564/Q2" in done.output
    assert f"{hist.rerun_expected[1030]:.2f}" in done.output


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


@pytest.fixture(scope="module")
def postgres_url() -> Any:
    """A real PostgreSQL: KPI_XL_TEST_POSTGRES if set, else a throwaway cluster on a Unix socket
    started here from Debian's server binaries (as the postgres user when run as root)."""
    if os.environ.get("KPI_XL_TEST_POSTGRES"):
        yield os.environ["KPI_XL_TEST_POSTGRES"]
        return
    binaries = _postgres_bin()
    if binaries is None:
        pytest.skip("no PostgreSQL server binaries (Debian package postgresql) and no KPI_XL_TEST_POSTGRES")
    pytest.importorskip("psycopg")
    root = Path(tempfile.mkdtemp(prefix="kpi-pg-"))  # pytest's own temp dirs are private to root
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    run = functools.partial(subprocess.run, check=True, capture_output=True, timeout=120)
    run([*as_user, str(binaries / "initdb"), "-D", str(data), "-U", "kpi", "--auth=trust", "-E", "UTF8"])
    port = "54329"
    run([*as_user, str(binaries / "pg_ctl"), "-D", str(data), "-w", "-l", str(root / "log"),
         "-o", f"-k {sock} -p {port} -c listen_addresses=''", "start"])
    try:
        run([*as_user, str(binaries / "createdb"), "-h", str(sock), "-p", port, "-U", "kpi", "kpi_history"])
        yield f"postgresql+psycopg://kpi@/kpi_history?host={sock}&port={port}"
    finally:
        subprocess.run([*as_user, str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
                       capture_output=True, timeout=120)
        shutil.rmtree(root, ignore_errors=True)


def test_postgresql_keeps_the_same_history_as_sqlite(hist: History, postgres_url: str, tmp_path: Path) -> None:
    """Every period twice (a rerun replaces it) into PostgreSQL and into SQLite: the same trend."""
    trends = []
    for url in (postgres_url, f"sqlite:///{tmp_path / 'same.sqlite'}"):
        engine = history.open_db(url)
        for period in PERIODS:
            history.record_run(engine, hist.results[period])
            history.record_run(engine, hist.results[period])
        trends.append(history.history_trend(engine, 1030))
        engine.dispose()
    on_postgres, on_sqlite = trends
    assert list(on_postgres["period"]) == [f"{fy}/Q{q}" for fy, q in sorted(PERIODS)]
    pd.testing.assert_frame_equal(on_postgres, on_sqlite, check_dtype=False)


def test_postgresql_keeps_assessments_and_their_audit(postgres_url: str) -> None:
    """Schema 3's head-office tables on a real PostgreSQL: append-only, one audit row per change."""
    engine = history.open_db(postgres_url)
    when = dt.datetime(2021, 5, 1, 9, 0)
    entry = {"district_code": 1030, "indicator_code": "KPI-05", "hq_score": 4.0, "decision": "รับ", "comment": None,
             "reviewer": "นายตรวจ"}
    assert history.record_assessments(engine, 2599, 2, [entry], applied_at=when, review_file="r.xlsx") == (1, 2)
    assert history.record_assessments(engine, 2599, 2, [entry], applied_at=when, review_file="r.xlsx") == (0, 0)
    entry["hq_score"] = 3.5
    assert history.record_assessments(engine, 2599, 2, [entry], applied_at=when, review_file="r.xlsx") == (1, 1)
    assert history.current_assessments(engine, 2599, 2)[(1030, "KPI-05")]["hq_score"] == 3.5
    engine.dispose()


def test_postgresql_upgrades_a_schema_2_database(postgres_url: str) -> None:
    """2 → 3 on a real PostgreSQL (ALTER TABLE ... ADD COLUMN), in a schema of its own."""
    import importlib.util

    from sqlalchemy import text

    setup = create_engine(postgres_url)
    with setup.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS kpi_xl_test_schema2 CASCADE"))
        conn.execute(text("CREATE SCHEMA kpi_xl_test_schema2"))
    setup.dispose()
    url = postgres_url + ("&" if "?" in postgres_url else "?") + "options=-csearch_path%3Dkpi_xl_test_schema2"
    spec = importlib.util.spec_from_file_location("kpi_xl.history_v2", Path(__file__).parent / "legacy" / "history_v2.py")
    assert spec is not None and spec.loader is not None
    old = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old)
    engine = old.open_db(url)
    with engine.begin() as conn:
        run_id = conn.execute(old.insert(old.runs).values(
            fiscal_year=2564, quarter=1, run_at=dt.datetime(2021, 1, 20), catalog_hash="x" * 64,
            forced=False)).inserted_primary_key[0]
        conn.execute(old.insert(old.results).values(run_id=run_id, fiscal_year=2564, quarter=1, district_code=1030,
                                                    indicator_code="KPI-05", score=4.0))
    engine.dispose()
    engine = history.open_db(url)
    with engine.connect() as conn:
        row = conn.execute(select(history.results)).mappings().one()
        version = conn.execute(select(history.schema_info.c.value)).scalar()
    engine.dispose()
    setup = create_engine(postgres_url)
    with setup.begin() as conn:  # leave nothing behind on a database given by KPI_XL_TEST_POSTGRES
        conn.execute(text("DROP SCHEMA kpi_xl_test_schema2 CASCADE"))
    setup.dispose()
    assert row["score"] == 4.0 and row["kind"] is None and row["q1_value"] is None
    assert version == str(history.SCHEMA_VERSION)


# --- runs are kept: refusal, the explicit flag, restore, upgrade -------------------------------


def _copy_db(hist: History, tmp_path: Path) -> Path:
    db = tmp_path / "kpi_history.sqlite"
    shutil.copyfile(hist.db, db)
    return db


def _cli(*args: str) -> Any:
    from typer.testing import CliRunner

    from kpi_xl.cli import app

    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "250"})


def test_empty_inbox_or_contradicted_quarter_leave_the_history_unchanged(hist: History, tmp_path: Path) -> None:
    db = _copy_db(hist, tmp_path)
    before = _dump(db)
    (tmp_path / "empty").mkdir()
    out = tmp_path / "s.xlsx"
    with pytest.raises(KpiError) as empty:
        consolidate(tmp_path / "empty", hist.catalogs[2564], 2, out=out, db=db, jobs=1)
    assert [p.code for p in empty.value.problems] == ["KPI-E611"]
    assert "holds no Excel workbook (0 files); the 2564/Q2 history is unchanged" in empty.value.problems[0].message_en
    assert hist.rerun is not None
    with pytest.raises(KpiError) as wrong:  # the rerun's covers all say quarter 2
        consolidate(hist.rerun.inbox, hist.catalogs[2564], 3, out=out, db=db, jobs=1)
    assert [p.code for p in wrong.value.problems] == ["KPI-E612"]
    assert "quarter 3 was asked for, but 2 of 2 workbooks' covers say quarter 2" in wrong.value.problems[0].message_en
    assert _dump(db) == before and not out.exists()
    # With the flag the empty run is stored and current; the earlier run is still there to restore.
    forced = consolidate(tmp_path / "empty", hist.catalogs[2564], 2, out=out, db=db, jobs=1, replace=True)
    assert forced.counts["received"] == 0 and out.exists()
    stored = history.current_run(db, 2564, 2)
    assert stored is not None and stored["received"] == 0 and stored["forced"]
    assert math.isnan(history.history_trend(db, 1030).loc[(2564, 2), "score"])
    done = _cli("history", "restore", "5", "--db", db)
    assert done.exit_code == 0, done.output
    assert done.output.strip().endswith("run 5 is now the current result of 2564/Q2")
    restored = history.current_run(db, 2564, 2)
    assert restored is not None and restored["id"] == 5
    assert history.history_trend(db, 1030).loc[(2564, 2), "score"] == pytest.approx(hist.rerun_expected[1030])
    assert len(history.runs_frame(db, every=True)) == 6


def test_cli_history_runs_and_restore(hist: History, tmp_path: Path) -> None:
    db = _copy_db(hist, tmp_path)
    listed = _cli("history", "runs", "--fiscal-year", "2564", "--quarter", "2", "--db", db)
    assert listed.exit_code == 0, listed.output
    assert listed.output.count("2564/Q2") == 2 and "2563/Q1" not in listed.output
    done = _cli("history", "restore", "4", "--db", db)
    assert done.exit_code == 0, done.output
    assert "run 4 is now the current result of 2564/Q2" in done.output
    assert history.history_trend(db, 1030).loc[(2564, 2), "score"] == pytest.approx(hist.expected[(2564, 2)][1030])
    frame = history.runs_frame(db, every=True)
    assert len(frame) == 5 and list(frame[frame["current"]]["id"]) == [1, 2, 3, 4]
    missing = _cli("history", "restore", "99", "--db", db)
    assert missing.exit_code == 2 and "run 99 is not in the database" in missing.output


def test_cli_history_never_creates_a_database(tmp_path: Path) -> None:
    db = tmp_path / "nope.sqlite"
    for args in (["runs"], ["trend", "--district", "1030"], ["restore", "1"]):
        done = _cli("history", *args, "--db", db)
        assert done.exit_code == 2, done.output
        assert f"ไม่พบฐานข้อมูล: {db}" in done.output and f"database not found: {db}" in done.output
    assert not db.exists()


def test_a_database_of_the_previous_version_is_upgraded(hist: History, tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("kpi_xl.history_v1", Path(__file__).parent / "legacy" / "history_v1.py")
    assert spec is not None and spec.loader is not None
    old = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old)
    db = tmp_path / "v1.sqlite"
    engine = old.open_db(db)
    for period in PERIODS:
        old.record_run(engine, hist.results[period])
    engine.dispose()
    trend_v1 = old.history_trend(db, 1030, indicators=True)
    tables_v1 = _dump_v1(old, db)
    runs = history.runs_frame(db)  # the first open upgrades
    assert [tuple(x) for x in runs[["fiscal_year", "quarter"]].itertuples(index=False)] == PERIODS
    pd.testing.assert_frame_equal(history.history_trend(db, 1030, indicators=True), trend_v1)
    after = _dump(db)
    for name, rows in tables_v1.items():
        assert [{k: r[k] for k in rows[0]} for r in after[name]] == rows, name
    engine = history.open_db(db)  # and it takes new runs, with the upgraded ones still restorable
    assert hist.rerun is not None
    new_id = history.record_run(engine, hist.rerun, forced=True)
    engine.dispose()
    assert history.current_run(db, *RERUN)["id"] == new_id  # type: ignore[index]
    history.restore_run(db, 4)
    assert history.current_run(db, *RERUN)["id"] == 4  # type: ignore[index]


def _dump_v1(old: Any, db: Path) -> dict[str, list[dict[str, Any]]]:
    engine = create_engine(history.database_url(db))
    with engine.connect() as conn:
        out = {t.name: [dict(r) for r in conn.execute(select(t)).mappings()]
               for t in (old.runs, old.submissions, old.district_results, old.results, old.problems)}
    engine.dispose()
    return out


def test_the_default_history_location_is_shared(hist: History, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no kpi_history.sqlite here: the current folder is the default for `history`
    done = _cli("history", "runs")
    assert done.exit_code == 2 and f"database not found: {tmp_path / 'kpi_history.sqlite'}" in done.output
    assert not (tmp_path / "kpi_history.sqlite").exists()
    listed = _runs_with_env(hist.db)
    assert listed.exit_code == 0, listed.output
    assert listed.output.count("2564/Q2") == 2
    monkeypatch.setenv(history.HISTORY_ENV, str(hist.db))
    assert history.default_location(tmp_path / "elsewhere") == str(hist.db)


def _runs_with_env(db: Path) -> Any:
    """`kpi-xl history runs` with no --db: the database comes from KPI_XL_HISTORY."""
    from typer.testing import CliRunner

    from kpi_xl.cli import app

    return CliRunner().invoke(app, ["history", "runs"], env={history.HISTORY_ENV: str(db), "COLUMNS": "250"})
