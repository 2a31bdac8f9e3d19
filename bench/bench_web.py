"""Web report: build time and size of the demo's site (50 districts × 12 indicators, 63 pages).

    python bench/bench_web.py [--repeat 3]

Runs the demo once without its site (about 20 s, not timed), then builds the site from its history
database ``--repeat`` times into bench/_work/site and reports the best and median wall time, the
number of pages and the bytes written (HTML + JSON twins + fonts + CSS/JS).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from kpi_xl.demo import run_demo
from kpi_xl.history import HISTORY_FILE
from kpi_xl.web import build_site

WORK = Path(__file__).resolve().parent / "_work"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    demo = WORK / "web-demo"
    db = demo / HISTORY_FILE  # where the demo puts its history (beside its summary)
    if not db.exists():
        run_demo(demo, web=False)
    times = []
    info = None
    for _ in range(args.repeat):
        started = time.perf_counter()
        info = build_site(db, WORK / "site")
        times.append(time.perf_counter() - started)
    assert info is not None
    by_kind: dict[str, int] = {}
    for path in info.root.rglob("*"):
        if path.is_file():
            kind = path.suffix or path.name
            by_kind[kind] = by_kind.get(kind, 0) + path.stat().st_size
    print(f"web report: {info.pages} pages, {info.bytes / 1e6:.2f} MB, "
          f"build best {min(times):.2f} s, median {statistics.median(times):.2f} s ({args.repeat} runs)")
    print("  by kind: " + ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in sorted(by_kind.items(), key=lambda x: -x[1])))


if __name__ == "__main__":
    main()
