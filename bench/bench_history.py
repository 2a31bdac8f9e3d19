"""Upgrade a history database of the previous schema (one row per period) and read it back.

    python bench/bench_history.py [--years 4] [--districts 50] [--indicators 12]

The v1 database is written with the frozen copy of the previous history module
(``tests/legacy/history_v1.py``): years × 4 quarters, one run each, every district × indicator,
ten problems per district. Timings: the first open (the upgrade, one transaction), a second open
(nothing left to do) and one district's trend over every period. Recording runs is timed with the
whole consolidation in bench_consolidate.py. Goal: four years upgrade in well under a second.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

from kpi_xl import history

REPO = Path(__file__).resolve().parent.parent


def _legacy() -> object:
    spec = importlib.util.spec_from_file_location("kpi_xl.history_v1", REPO / "tests" / "legacy" / "history_v1.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=4)
    parser.add_argument("--districts", type=int, default=50)
    parser.add_argument("--indicators", type=int, default=12)
    args = parser.parse_args()
    old = _legacy()
    db = Path(tempfile.mkdtemp(prefix="kpi-bench-history-")) / "v1.sqlite"
    engine = old.open_db(db)  # type: ignore[attr-defined]
    codes = range(1001, 1001 + args.districts)
    with engine.begin() as conn:
        run_id = 0
        for fy in range(2564 - args.years + 1, 2565):
            for q in range(1, 5):
                run_id += 1
                period = {"run_id": run_id, "fiscal_year": fy, "quarter": q}
                conn.execute(insert(old.runs).values(  # type: ignore[attr-defined]
                    id=run_id, fiscal_year=fy, quarter=q, run_at=dt.datetime(2021, 1, 1), catalog_hash="0" * 64))
                conn.execute(insert(old.district_results),  # type: ignore[attr-defined]
                             [period | {"district_code": c, "status": "clean", "score": 3.0} for c in codes])
                conn.execute(insert(old.results),  # type: ignore[attr-defined]
                             [period | {"district_code": c, "indicator_code": f"KPI-{i:02d}", "score": 3.0}
                              for c in codes for i in range(1, args.indicators + 1)])
                conn.execute(insert(old.problems),  # type: ignore[attr-defined]
                             [period | {"district_code": c, "code": "KPI-E201", "severity": "error",
                                        "message_th": "-", "message_en": "-"} for c in codes for _ in range(10)])
    engine.dispose()
    runs = args.years * 4
    start = time.perf_counter()
    history.open_db(db).dispose()
    upgrade = time.perf_counter() - start
    start = time.perf_counter()
    history.open_db(db).dispose()
    reopen = time.perf_counter() - start
    import pandas  # noqa: F401 - imported before timing the trend, as any real caller has it

    start = time.perf_counter()
    trend = history.history_trend(db, 1001, indicators=True)
    read = time.perf_counter() - start
    print(f"history upgrade v1→v{history.SCHEMA_VERSION}: {runs} runs, {runs * args.districts} district rows, "
          f"{runs * args.districts * args.indicators} results, {runs * args.districts * 10} problems")
    print(f"  upgrade {upgrade * 1000:.0f} ms · reopen {reopen * 1000:.0f} ms · trend of one district "
          f"({len(trend)} periods) {read * 1000:.0f} ms")


if __name__ == "__main__":
    main()
