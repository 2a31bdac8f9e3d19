"""Benchmark: consolidating 50, 1,000 and 10,000 district workbooks, as head office does it.

    python bench/bench_consolidate.py                      # 30 indicators and the demo's, 50/1000/10000
    python bench/bench_consolidate.py --sizes 50,1000      # quicker
    python bench/bench_consolidate.py --write-docs         # also replace the table in docs/design.md

The real case: quarter 4, every run writes the summary workbook, its manifest and a fresh SQLite
history. Two inboxes: workbooks of a 30-indicator catalog (bench_read.py's, every input filled with
Thai narratives) and the demo's sample catalog (12 indicators, filled through openpyxl like a
clerk's save). Larger inboxes are copies of the 50 in subfolders (each district then arrives many
times, so the duplicate logic runs too). Everything lives in bench/_work/ (gitignored) and is reused.

Each run is a fresh process, timed after its imports; at least 3 runs per size, median and minimum
printed, with the load average. Memory is the whole process tree's resident peak (parent and
workers together), sampled from /proc while the run goes.

Figures, each against a baseline measured in the same run:
- parallel efficiency: throughput on every core ÷ (cores × single-process throughput on the
  same files, measured on 1,000 files with --jobs 1) — goal ≥ 70 % on 2 cores;
- the summary's share: writing summary.xlsx once more, alone, ÷ the 50-workbook run — goal ≤ 15 %;
- peak tree memory at 10,000 — goal < 300 MB and flat in N;
- unzipping every part of each file on one core (the floor of any .xlsx reader), and openpyxl's
  default load of a sample of 50 extrapolated to N.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import figure, load, replace_block, run_measured, verdict  # noqa: E402

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work"
REPO = HERE.parent
CATALOG = REPO / "workbook_templates" / "catalog_2564.yaml"
QUARTER = 4
INDICATORS = 30
SAMPLE_OPENPYXL = 50
SAMPLE_UNZIP = 1000


def _narrative(rng: random.Random, code: str, q: int) -> str:
    acts = ["ประชุมคณะทำงาน", "ลงพื้นที่ติดตามผล", "จัดกิจกรรมร่วมกับชุมชน", "รายงานผู้อำนวยการเขต"]
    return (f"ไตรมาสที่ {q} สำนักงานเขตได้ดำเนินการตามแผนของตัวชี้วัด {code} โดย{rng.choice(acts)} "
            f"และ{rng.choice(acts)} ผลการดำเนินงานเป็นไปตามเป้าหมายที่กำหนด มีผู้เข้าร่วมกิจกรรม "
            f"{rng.randint(20, 300)} คน และได้รวบรวมเอกสารหลักฐานไว้ครบถ้วน")


def _values(catalog, code: int, rng: random.Random) -> dict:
    out = {}
    for ind in catalog.for_district(code):
        v = {f"q{q}_report": _narrative(rng, ind.code, q) for q in range(1, QUARTER + 1)}
        if ind.scoring.value == "milestone":
            for n in range(1, rng.randint(0, 5) + 1):
                v[f"level_{n}"] = min(QUARTER, n)
        else:
            t = ind.thresholds or [ind.target * 0.8, ind.target]
            final = rng.uniform(min(t), max(t))
            for q in range(1, QUARTER + 1):
                x = final * q / QUARTER if ind.cumulative else rng.uniform(min(t), max(t))
                if ind.value_kind.value == "count":
                    x = float(round(x))
                elif ind.value_kind.value == "percent":
                    x = round(min(x, 100.0), 2)
                v[f"q{q}_value"] = round(x, 2)
        out[ind.code] = v
    return out


def _fill(job: tuple[str, str, dict]) -> None:
    from kpi_xl.fill import fill_workbook

    src, dst, values = job
    fill_workbook(src, dst, values=values, report_quarter=QUARTER)


def prepare_demo_50() -> Path:
    """50 workbooks of the sample (demo) catalog, filled to quarter 4 through openpyxl."""
    folder = WORK / "demo_50"
    stamp = folder / "stamp.json"
    want = {"quarter": QUARTER, "version": 2}
    if stamp.exists() and json.loads(stamp.read_text()) == want and len(list(folder.glob("*.xlsm"))) == 50:
        return folder
    from concurrent.futures import ProcessPoolExecutor

    from kpi_xl import catalog as catalog_mod
    from kpi_xl import template

    cat = catalog_mod.load(CATALOG)
    blank = WORK / "blank"
    shutil.rmtree(blank, ignore_errors=True)
    shutil.rmtree(folder, ignore_errors=True)
    print("building the demo's 50 workbooks (once)…", flush=True)
    paths = template.build_all(cat, blank)
    rng = random.Random(2564)
    jobs = [(str(p), str(folder / p.name), _values(cat, int(p.name.split("_")[1]), rng)) for p in paths]
    folder.mkdir(parents=True)
    print("filling them through openpyxl (once)…", flush=True)
    with ProcessPoolExecutor(max_workers=2) as pool:
        list(pool.map(_fill, jobs))
    shutil.rmtree(blank, ignore_errors=True)
    stamp.write_text(json.dumps(want))
    return folder


def prepare_30_50() -> Path:
    """50 workbooks of bench_read.py's 30-indicator catalog, every input filled for quarter 4."""
    sys.path.insert(0, str(HERE))
    from bench_read import prepare as prepare_read

    return prepare_read(50, INDICATORS, False)[0].parent


def catalog_for(case: str):  # noqa: ANN201 - a kpi_xl Catalog
    if case == "demo":
        from kpi_xl import catalog as catalog_mod

        return catalog_mod.load(CATALOG)
    sys.path.insert(0, str(HERE))
    from bench_read import bench_catalog

    return bench_catalog(INDICATORS)


def prepare(case: str, n: int) -> Path:
    base = prepare_demo_50() if case == "demo" else prepare_30_50()
    if n == 50:
        return base
    folder = WORK / f"{case}_{n}"
    files = sorted(base.glob("*.xlsm"))
    if folder.exists() and sum(1 for _ in folder.rglob("*.xlsm")) == n:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    print(f"copying {n} workbooks of case {case} (once)…", flush=True)
    for i in range(n):
        src = files[i % len(files)]
        sub = folder / f"batch_{i // 500:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, sub / f"{i:05d}_{src.name}")
    return folder


def _files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.xlsm"))


def baseline_openpyxl(folder: Path) -> float:
    """Seconds per file for openpyxl's default load, on a sample."""
    import openpyxl

    files = _files(folder)[:SAMPLE_OPENPYXL]
    start = time.perf_counter()
    for path in files:
        openpyxl.load_workbook(path)
    return (time.perf_counter() - start) / len(files)


def baseline_unzip(folder: Path) -> float:
    """Seconds per file to read every part of the package, on one core (a sample above 1,000)."""
    files = _files(folder)
    sample = files if len(files) <= SAMPLE_UNZIP else random.Random(1).sample(files, SAMPLE_UNZIP)
    start = time.perf_counter()
    for path in sample:
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                z.read(name)
    return (time.perf_counter() - start) / len(sample)


def one(case: str, n: int, jobs: int | None) -> dict:
    """Run in a fresh process: consolidate N workbooks with summary and history; report times."""
    t0 = time.perf_counter()
    import pandas  # noqa: F401 - imported lazily by kpi_xl; timed as imports, not as work
    import sqlalchemy  # noqa: F401
    import xlsxwriter  # noqa: F401

    from kpi_xl import history, reader, summary, validate  # noqa: F401
    from kpi_xl.consolidate import consolidate

    imports = time.perf_counter() - t0
    cat = catalog_for(case)
    folder = prepare(case, n)
    out_dir = WORK / "out" / f"{case}_{n}_{os.getpid()}"
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    out = out_dir / "summary.xlsx"
    start = time.perf_counter()
    result = consolidate(folder, cat, QUARTER, out=out, db=out_dir / "history.sqlite", jobs=jobs)
    elapsed = time.perf_counter() - start
    # The summary's share: the same workbook written once more, alone, from the same result.
    started = time.perf_counter()
    summary.write_summary(result, out_dir / "summary_again.xlsx")
    summary_seconds = time.perf_counter() - started
    shutil.rmtree(out_dir, ignore_errors=True)
    return {"seconds": elapsed, "imports": imports, "summary": summary_seconds,
            "files": len(result.submissions), "received": int(result.counts["received"])}


def measure(case: str, n: int, jobs: int | None, repeat: int) -> dict:
    """``repeat`` fresh processes; per run its work time and its process tree's peak memory."""
    seconds, summaries, peaks = [], [], []
    for _ in range(repeat):
        cmd = [sys.executable, __file__, "--one", f"{case}:{n}"] + (["--jobs", str(jobs)] if jobs else [])
        done, _wall, peak = run_measured(cmd)
        record = json.loads(done.stdout.strip().splitlines()[-1])
        seconds.append(record["seconds"])
        summaries.append(record["summary"])
        peaks.append(peak)
    return {"time": figure(seconds), "summary": figure(summaries), "peak": figure(peaks), "files": record["files"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,1000,10000", help="comma-separated counts, e.g. 50,1000")
    parser.add_argument("--cases", default="30,demo", help="30 (30 indicators) and/or demo (the sample catalog)")
    parser.add_argument("--jobs", type=int, default=None, help="worker processes (default: every core)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size (at least 3 for the median)")
    parser.add_argument("--write-docs", action="store_true", help="replace the table in docs/design.md")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        case, n = args.one.split(":")
        print(json.dumps(one(case, int(n), args.jobs)))
        return
    sizes = [int(s) for s in args.sizes.split(",") if s]
    cases = [c for c in args.cases.split(",") if c]
    cores = args.jobs or os.cpu_count() or 1
    for case in cases:
        for n in sizes:
            prepare(case, n)
    print(f"\npython {sys.version.split()[0]}; {load()}; quarter {QUARTER}; summary + manifest + SQLite history "
          f"every run; median (min) of {args.repeat} fresh processes\n")
    header = (f"{'case':>5} {'N':>6} {'time s (min)':>16} {'wb/s':>6} {'tree peak MB':>13} {'summary %':>10} "
              f"{'unzip s':>8} {'× unzip':>8} {'openpyxl s*':>12}")
    lines = [header, "-" * len(header)]
    print("\n".join(lines), flush=True)
    docs_rows = []
    efficiency = {}
    for case in cases:
        folder_50 = prepare(case, 50)
        per_openpyxl = baseline_openpyxl(folder_50)
        for n in sizes:
            m = measure(case, n, args.jobs, args.repeat)
            per_unzip = baseline_unzip(prepare(case, n))
            t = m["time"]
            share = m["summary"].median / t.median
            row = (f"{case:>5} {n:>6} {t.median:>8.2f} ({t.min:5.2f}) {n / t.median:>6.0f} "
                   f"{m['peak'].median:>13.0f} {share * 100:>9.1f}% {per_unzip * n:>8.2f} "
                   f"{t.median / (per_unzip * n):>7.2f}× {per_openpyxl * n:>12.1f}")
            print(row, flush=True)
            docs_rows.append((case, n, t, m["peak"], share))
            if n == 1000 and cores > 1:
                single = measure(case, n, 1, args.repeat)
                eff = single["time"].median / (cores * t.median)
                efficiency[case] = (single, eff)
                print(f"{'':>5} {'':>6} single process: {single['time']} s → parallel efficiency on {cores} "
                      f"cores {eff * 100:.0f} % — {verdict(eff, 0.70, at_most=False)}", flush=True)
    print(f"\n{load()} at the end")
    print("* openpyxl: default load_workbook of 50 files on one core, extrapolated to N; unzip: every member "
          "read with zipfile on one core (sampled above 1,000 files).")
    for case, n, _t, peak, share in docs_rows:
        if n == 50:
            print(f"summary's share of the 50-workbook run ({case}): {share * 100:.1f} % — {verdict(share, 0.15)}")
        if n == max(sizes):
            print(f"tree peak at {n} ({case}): {peak.median:.0f} MB — {verdict(peak.median, 300)}")
    if args.write_docs:
        table = ["| case | N | time s, median (min) | workbooks/s | tree peak MB | summary share |",
                 "|---|---:|---:|---:|---:|---:|"]
        for case, n, t, peak, share in docs_rows:
            table.append(f"| {case} | {n} | {t.median:.2f} ({t.min:.2f}) | {n / t.median:.0f} | "
                         f"{peak.median:.0f} | {share * 100:.1f} % |")
        for case, (single, eff) in efficiency.items():
            table.append(f"\nParallel efficiency ({case}, 1,000 files): {eff * 100:.0f} % of {cores}× the single "
                         f"process ({single['time'].median:.2f} s).")
        table.append(f"\nMeasured {time.strftime('%Y-%m-%d')}, {load()}.")
        replace_block("consolidate", "\n".join(table))


if __name__ == "__main__":
    main()
