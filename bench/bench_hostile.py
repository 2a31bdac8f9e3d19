"""Worst cases of the hostile corpus: time and peak memory of reading each, against the clean file.

    python bench/bench_hostile.py [--consolidate] [--keep DIR]

Builds the seed-filled Chatuchak workbook, makes the worst cases of ``tests/hostile.py`` from it
(a stray cell at XFD1048576 and at AZ300000, a sheet inflating to 1.2 GiB, one whose headers lie
about 200 MiB, ``catalog_parts`` = 10**12, 100,000 extra rows, 5,000 zip members), then reads and
validates each in a fresh interpreter (``validate_file``), printing wall time and the child's peak
RSS, and the code it reported. The issue's bound: ≤ 2 s and < 200 MB per workbook.

``--consolidate`` also runs ``kpi-xl consolidate`` on 48 good district workbooks plus every worst
case in one inbox and reports the time, the peak RSS and how many of the 48 were used.

Why subprocesses: ``ru_maxrss`` is a high-water mark per process, so each case gets its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import hostile  # noqa: E402

WORST = ["stray_XFD1048576", "stray_AZ300000", "stray_A1048576", "bomb_sheet_1_2_GiB", "bomb_lying_header_200_MiB",
         "catalog_parts_huge", "many_rows_100k", "many_members_5000", "huge_shared_strings_40_MiB"]

CHILD = """
import json, resource, sys, time
t0 = time.perf_counter()
from kpi_xl.validate import validate_file
t1 = time.perf_counter()
report = validate_file(sys.argv[1])
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "validate_s": t2 - t1,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "readable": report.readable, "codes": sorted({p.code for p in report.problems})[:4]}))
"""


def measure(path: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def baseline_rss() -> float:
    """Peak RSS of the child with imports only: what the workbook itself adds is the difference."""
    code = ("import resource; from kpi_xl.validate import validate_file; "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--consolidate", action="store_true")
    parser.add_argument("--keep", type=Path, help="write the cases here instead of a temporary folder")
    args = parser.parse_args()

    from kpi_xl import catalog as catalog_mod
    from kpi_xl import fill, template

    work = args.keep or Path(tempfile.mkdtemp(prefix="kpi-hostile-"))
    work.mkdir(parents=True, exist_ok=True)
    catalog_path = REPO / "workbook_templates" / "catalog_2564.yaml"
    cat = catalog_mod.load(catalog_path)
    built = work / "built"
    if not built.exists():
        template.build_all(cat, built, districts=(1030,), jobs=1)
    src = next(built.glob("*1030*"))
    good = fill.fill_workbook(src, work / src.name, values={fill.SEED_SHEET: fill.seed_values()},
                              report_quarter=fill.SEED_QUARTER)
    cases = work / "cases"
    cases.mkdir(exist_ok=True)
    paths = {"clean (the good workbook)": good}
    for name in WORST:
        t = time.perf_counter()
        paths[name] = hostile.make_case(hostile.by_name(name), good, cases)
        print(f"made {name} in {time.perf_counter() - t:.2f} s ({paths[name].stat().st_size / 1024:,.0f} KiB on disk)")

    base = baseline_rss()
    print(f"\ninterpreter + kpi_xl imports alone: {base:.0f} MB peak RSS\n")
    print(f"| {'case':34} | validate s | peak RSS MB | + over imports | result |")
    print(f"|{'-' * 36}|------------|-------------|----------------|--------|")
    for name, path in paths.items():
        m = measure(path)
        result = ("read" if m["readable"] else "refused") + " " + ",".join(m["codes"])
        print(f"| {name:34} | {m['validate_s']:10.3f} | {m['rss_mb']:11.0f} | {m['rss_mb'] - base:14.0f} | {result} |")

    if args.consolidate:
        inbox = work / "inbox"
        shutil.rmtree(inbox, ignore_errors=True)
        inbox.mkdir()
        codes = [d.code for d in cat.districts][:48]
        template.build_all(cat, inbox, districts=tuple(codes), jobs=2)
        for name in WORST:
            shutil.copyfile(paths[name], inbox / paths[name].name)
        out = work / "result" / "summary.xlsx"
        out.parent.mkdir(exist_ok=True)
        t = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "kpi_xl", "consolidate", str(inbox), "--catalog",
                              str(catalog_path), "--quarter", "4", "--out", str(out),
                              "--db", f"sqlite:///{work / 'history.sqlite'}"], capture_output=True, text=True)
        elapsed = time.perf_counter() - t
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        manifest = json.loads(out.with_name(out.stem + ".manifest.json").read_text(encoding="utf-8"))
        used = sum(1 for f in manifest["files"] if f["used"])
        print(f"\nconsolidate {len(codes)} good + {len(WORST)} worst cases: exit {run.returncode}, {elapsed:.1f} s, "
              f"largest child peak RSS {rss:.0f} MB, {used} of {len(codes)} good workbooks used")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
