"""The history database: two fiscal years × two quarters into SQLite, then one period re-run.

Three districts keep it quick (1048 is filled for the first runs and missing on the re-run). Every
stored score is compared with the independent calculation of test_consolidate; the summary of the
last period must show the previous quarter's and the previous year's score beside each district.
"""

from __future__ import annotations

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
         skip: tuple[int, ...] = ()) -> tuple[ConsolidationResult, dict[int, float], dict[int, dict[str, Any]]]:
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
    result = consolidate(inbox, cat, quarter, out=out, db=db, jobs=1)
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
    h.rerun, h.rerun_expected, _ = _run(root, catalogs[2564], blanks[2564], 2, seed=7, db=db, skip=(1048,))
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


def test_rerun_replaces_that_period_only(hist: History) -> None:
    for table in hist.tables_before:
        before = _period_rows(hist.tables_before[table], RERUN, keep=False)
        after = _period_rows(hist.tables_after[table], RERUN, keep=False)
        if table == "runs":
            before = [{k: v for k, v in r.items() if k != "run_id"} for r in before]
            after = [{k: v for k, v in r.items() if k != "run_id"} for r in after]
        assert after == before, table
    rows = _period_rows(hist.tables_after["district_results"], RERUN, keep=True)
    assert {r["district_code"]: r["status"] for r in rows} == {1001: "clean", 1030: "clean", 1048: "missing"}
    assert {r["district_code"]: r["score"] for r in rows if r["score"] is not None} == pytest.approx(hist.rerun_expected)
    assert len(_period_rows(hist.tables_after["submissions"], RERUN, keep=True)) == 2
    assert any(r["code"] == "KPI-E501" for r in _period_rows(hist.tables_after["problems"], RERUN, keep=True))
    runs = hist.tables_after["runs"]
    assert len(runs) == 4
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
