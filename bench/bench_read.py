"""How fast the reader turns filled district workbooks into RawWorkbooks, against the baselines.

    python bench/bench_read.py [--count 50] [--indicators 30] [--repeat 3] [--rebuild]

Builds (once; reused from bench/_work/ afterwards) ``count`` district workbooks of a catalog of
``indicators`` indicators — the sample catalog's indicators cloned under new codes — with the real
builder, and fills every input of every indicator with ``kpi_xl.fill`` (Thai narratives, numbers,
levels, dates), as districts return them. Then times, in this one process and on the same files:

- kpi_xl.validate.validate_file: read + validate + score for quarter 4 (the issue's figure);
- kpi_xl.reader.read_workbook (defined names + every named cell + the metadata sheet); the parsed
  names are cached on the workbook's ``<definedNames>`` text, which workbooks of one catalog share,
  so it is also timed with that cache cleared before every file;
- python-calamine alone: open, and every sheet the reader reads to_python'd (no names, no model);
- openpyxl's default load (load_workbook, nothing read after it);
- openpyxl read_only: load and iterate the rows of the same sheets the reader reads;
- unzipping the files (every member read): the floor for any reader of .xlsx packages.

The fast ones are run ``repeat`` times, round robin, and each one's best run is kept; openpyxl
once. Other work on the machine shows in the times: the load average is printed with them.
Ratios are baseline time ÷ reader time, so "12.3×" means the reader is 12.3 times faster.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import load, replace_block, verdict  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "_work" / "read"
SAMPLE = ROOT / "workbook_templates" / "catalog_2564.yaml"

NARRATIVE = ("สำนักงานเขต{district}โดยฝ่ายปกครองได้เชิญภาคประชาสังคมประชุมเพื่อกำหนดแนวทางการดำเนินงาน "
             "วันที่ {day} {month} {year} เวลา 09.30-12.00 น. ณ ห้องประชุมชั้น 9 สำนักงานเขต{district} "
             "มีผู้เข้าร่วม {people} คน และได้ติดตามผลการดำเนินงานตามแผนอย่างต่อเนื่อง")
FILL_VERSION = 2  # bump when fill_values changes, so bench/_work is rebuilt
MONTHS = {1: ("ธันวาคม", 2563), 2: ("มีนาคม", 2564), 3: ("มิถุนายน", 2564), 4: ("กันยายน", 2564)}


def bench_catalog(indicators: int) -> Any:
    """The sample catalog with its indicators cloned to ``indicators`` codes, all districts each."""
    from kpi_xl import catalog as catalog_mod
    from kpi_xl.catalog import Catalog

    sample = catalog_mod.load(SAMPLE)
    data = sample.model_dump(mode="json")
    clones = []
    for i in range(indicators):
        ind = dict(data["indicators"][i % len(data["indicators"])])
        ind.update(code=f"KPI-{i + 1:02d}", districts="all", weight=round(100 / indicators, 6))
        clones.append(ind)
    data["indicators"] = clones
    return Catalog.model_validate(data)


def quarter_values(ind: Any, k: int) -> dict[int, float]:
    """Plausible quarterly values: within limits (percent ≤ 100, whole counts), running totals for
    cumulative indicators, a quarter's share for summed ones."""
    level = ind.target * (0.7 + (k % 40) / 100)  # 70–110 % of the target
    if ind.value_kind.value == "percent":
        level = min(level, 100.0)
    if ind.cumulative:
        values = {q: level * q / 4 for q in range(1, 5)}
    elif ind.aggregation.value == "sum":
        values = {q: level / 4 for q in range(1, 5)}
    else:
        values = {q: level * (0.9 + q / 40) for q in range(1, 5)}
    if ind.value_kind.value == "percent":
        values = {q: min(v, 100.0) for q, v in values.items()}
    if ind.value_kind.value == "count":
        return {q: float(round(v)) for q, v in values.items()}
    return {q: round(v, 2) for q, v in values.items()}


def fill_values(catalog: Any, district: Any, seed: int) -> dict[str, dict[str, Any]]:
    """Every input of every indicator, as a diligent district fills it for quarter 4 (result_value
    left blank: the form says the quarterly values make it)."""
    from kpi_xl.form import load_spec

    spec = load_spec()
    values: dict[str, dict[str, Any]] = {}
    for i, ind in enumerate(catalog.for_district(district.code)):
        k = seed * 31 + i * 7
        quarters = quarter_values(ind, k)
        named: dict[str, Any] = {}
        for field in spec.fields_for(ind.scoring.value):
            if not field.is_input or field.name == "result_value":
                continue
            if field.type == "number":
                named[field.name] = quarters[field.quarter or 4]
            elif field.type == "quarter":
                named[field.name] = min(4, 1 + int(field.name[-1]) // 2)
            elif field.type == "date":
                named[field.name] = dt.date(2021, 9, 1 + k % 30)
            else:
                month, year = MONTHS[field.quarter or 4]
                named[field.name] = NARRATIVE.format(district=district.name_th, day=1 + k % 28, month=month,
                                                     year=year, people=20 + k % 50)
        values[ind.code] = named
    return values


def _fill_one(job: tuple[str, str, str, int, int]) -> str:
    from kpi_xl import fill
    from kpi_xl.catalog import Catalog

    catalog_json, src, dst, code, seed = job
    catalog = Catalog.model_validate_json(catalog_json)
    fill.fill_workbook(src, dst, values=fill_values(catalog, catalog.district(code), seed), report_quarter=4)
    Path(src).unlink()
    return dst


def prepare(count: int, indicators: int, rebuild: bool) -> list[Path]:
    """Filled workbooks in bench/_work/read/, rebuilt only when asked or when the set differs."""
    from kpi_xl import template

    catalog = bench_catalog(indicators)
    folder = WORK / f"{count}x{indicators}"
    stamp = folder / "stamp.json"
    want = {"catalog": catalog.content_hash, "count": count, "indicators": indicators, "fill": FILL_VERSION}
    files = sorted(folder.glob("*.xlsm"))
    if not rebuild and stamp.exists() and json.loads(stamp.read_text()) == want and len(files) == count:
        return files
    if folder.exists():
        for old in folder.iterdir():
            old.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    codes = [d.code for d in catalog.districts][:count]
    started = time.perf_counter()
    built = template.build_all(catalog, folder / "blank", districts=codes, jobs=2)
    print(f"built {len(built)} workbooks in {time.perf_counter() - started:.1f} s", flush=True)
    started = time.perf_counter()
    catalog_json = catalog.model_dump_json()
    jobs = [(catalog_json, str(src), str(folder / src.name), code, n)
            for n, (src, code) in enumerate(zip(built, codes, strict=True))]
    with ProcessPoolExecutor(max_workers=2) as pool:
        list(pool.map(_fill_one, jobs))
    (folder / "blank").rmdir()
    print(f"filled them in {time.perf_counter() - started:.1f} s", flush=True)
    stamp.write_text(json.dumps(want))
    return sorted(folder.glob("*.xlsm"))


# --- the readers timed --------------------------------------------------------------------------


def run_reader(files: list[Path], cold: bool = False) -> int:
    from kpi_xl import reader

    cells = 0
    for path in files:
        if cold:  # every workbook's defined names parsed afresh, as if each had its own names
            reader._defined_names.cache_clear()
            reader._sheets.cache_clear()
            reader._targets.cache_clear()
        raw = reader.read_workbook(path)
        cells += sum(len(c) for c in raw.sheets.values()) + len(raw.meta) + len(raw.workbook_cells)
    return cells


def run_validate(files: list[Path], catalog: Any) -> int:
    from kpi_xl.validate import validate_file

    valid = 0
    for path in files:
        valid += validate_file(path, catalog=catalog, quarter=4).valid
    return valid


def run_calamine(files: list[Path], sheets: list[str]) -> int:
    import python_calamine

    n = 0
    for path in files:
        with python_calamine.CalamineWorkbook.from_path(str(path)) as book:
            for sheet in sheets:
                n += len(book.get_sheet_by_name(sheet).to_python(skip_empty_area=False))
    return n


def run_openpyxl_default(files: list[Path]) -> int:
    import openpyxl

    n = 0
    for path in files:
        n += len(openpyxl.load_workbook(path).sheetnames)
    return n


def run_openpyxl_read_only(files: list[Path], sheets: list[str]) -> int:
    import openpyxl

    n = 0
    for path in files:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        for sheet in sheets:
            for row in book[sheet].iter_rows(values_only=True):
                n += len(row)
        book.close()
    return n


def run_unzip(files: list[Path]) -> int:
    n = 0
    for path in files:
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                n += len(z.read(info))
    return n


def needed_parts(path: Path, sheets: list[str]) -> list[str]:
    """The zip members a reader of the contract must inflate: the workbook part, its relationships,
    the core properties and the XML of the sheets read (found through the relationships)."""
    import re

    with zipfile.ZipFile(path) as z:
        workbook = z.read("xl/workbook.xml").decode("utf-8")
        rels = z.read("xl/_rels/workbook.xml.rels").decode("utf-8")
    targets = dict(re.findall(r'Id="([^"]+)"[^>]*Target="([^"]+)"', rels))
    targets.update({rid: t for t, rid in re.findall(r'Target="([^"]+)"[^>]*Id="([^"]+)"', rels)})
    by_name = dict(re.findall(r'<sheet [^>]*name="([^"]+)"[^>]*r:id="([^"]+)"', workbook))
    parts = ["xl/workbook.xml", "xl/_rels/workbook.xml.rels", "docProps/core.xml", "xl/sharedStrings.xml"]
    for sheet in sheets:
        rid = by_name.get(sheet.replace("&", "&amp;"))
        if rid and rid in targets:
            parts.append("xl/" + targets[rid].lstrip("/").removeprefix("xl/"))
    return parts


def run_inflate_needed(files: list[Path], parts: list[str]) -> int:
    """Inflate only the needed members: the floor under any reader of these workbooks."""
    n = 0
    for path in files:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            for name in parts:
                if name in names:
                    n += len(z.read(name))
    return n


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def import_cost() -> float:
    """Seconds that `import kpi_xl.reader` adds to a fresh interpreter (best of 5)."""
    def run(code: str) -> float:
        best = float("inf")
        for _ in range(5):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            best = min(best, time.perf_counter() - started)
        return best

    return run("import kpi_xl.reader") - run("pass")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--indicators", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--write-docs", action="store_true", help="replace the table in docs/design.md")
    parser.add_argument("--skip-openpyxl-default", action="store_true", help="its load takes ~0.5 s per file")
    args = parser.parse_args()

    files = prepare(args.count, args.indicators, args.rebuild)
    from kpi_xl.form import load_spec
    from kpi_xl.reader import read_workbook
    from kpi_xl.validate import validate_file

    catalog = bench_catalog(args.indicators)
    valid = sum(validate_file(p, catalog=catalog, quarter=4).valid for p in files)  # warms imports too
    first = read_workbook(files[0])
    assert len(files) == args.count and len(first.sheets) == args.indicators, (len(files), len(first.sheets))
    sheets = [s for s in first.sheet_names
              if s in first.sheets or s in {load_spec().meta_sheet, load_spec().sheets["cover"]}]
    size = sum(p.stat().st_size for p in files)
    print(f"{len(files)} filled workbooks × {args.indicators} indicators, {size / len(files) / 1024:.0f} KiB each; "
          f"{sum(len(c) for c in first.sheets.values())} named cells per workbook; "
          f"{len(sheets)} sheets read of {len(first.sheet_names)}; {valid} of {len(files)} valid for Q4",
          flush=True)

    parts = needed_parts(files[0], sheets)
    fast: list[tuple[str, Callable[[], object]]] = [
        ("kpi_xl.reader.read_workbook", lambda: run_reader(files)),
        ("  the same, names cache cleared for each file", lambda: run_reader(files, cold=True)),
        ("read + validate + score (validate_file, Q4)", lambda: run_validate(files, catalog)),
        ("python-calamine alone (same sheets, no names)", lambda: run_calamine(files, sheets)),
        ("unzip (every member read)", lambda: run_unzip(files)),
        ("inflate the needed parts only", lambda: run_inflate_needed(files, parts)),
    ]
    # Round robin: a burst of load from elsewhere hits every row alike. Median and minimum kept.
    runs: dict[str, list[float]] = {label: [] for label, _ in fast}
    for _ in range(args.repeat):
        for label, fn in fast:
            runs[label].append(best_of(1, fn))
    best = {label: statistics.median(values) for label, values in runs.items()}
    rows: list[tuple[str, float]] = list(best.items())
    rows.append(("openpyxl read_only (load + same sheets' rows)",
                 best_of(1, lambda: run_openpyxl_read_only(files, sheets))))
    if not args.skip_openpyxl_default:
        rows.append(("openpyxl default load (load only)", best_of(1, lambda: run_openpyxl_default(files))))

    reader_time = rows[0][1]
    print()
    print(f"| {'reader':48s} | {'total s':>8s} | {'ms / workbook':>13s} | {'÷ reader':>9s} |")
    print(f"|{'-' * 50}|{'-' * 10}|{'-' * 15}|{'-' * 11}|")
    for label, seconds in rows:
        print(f"| {label:48s} | {seconds:8.3f} | {seconds / len(files) * 1000:13.2f} | {seconds / reader_time:8.2f}× |")
    print()
    read = best["kpi_xl.reader.read_workbook"]
    ratios = [
        ("read ÷ python-calamine alone", read / best["python-calamine alone (same sheets, no names)"], 1.3,
         runs["kpi_xl.reader.read_workbook"], runs["python-calamine alone (same sheets, no names)"]),
        ("read ÷ inflating the needed parts", read / best["inflate the needed parts only"], 3.0,
         runs["kpi_xl.reader.read_workbook"], runs["inflate the needed parts only"]),
        ("read + validate + score ÷ read", best["read + validate + score (validate_file, Q4)"] / read, 2.0,
         runs["read + validate + score (validate_file, Q4)"], runs["kpi_xl.reader.read_workbook"]),
    ]
    print(f"medians of {args.repeat} round-robin runs; the ratio of minimums in brackets")
    for label, ratio, goal, a, b in ratios:
        print(f"  {label:36s} {ratio:5.2f}× ({min(a) / min(b):.2f}×) — {verdict(ratio, goal)}")
    if args.write_docs:
        table = ["| figure | ms per workbook, median (min) | ratio (goal) |", "|---|---:|---:|"]
        for label, ratio, goal, a, b in ratios:
            table.append(f"| {label} | {statistics.median(a) / len(files) * 1000:.2f} "
                         f"({min(a) / len(files) * 1000:.2f}) vs {statistics.median(b) / len(files) * 1000:.2f} | "
                         f"{ratio:.2f}× (≤ {goal:g}×) |")
        table.append(f"\n{len(files)} workbooks × {args.indicators} indicators, quarter 4; measured "
                     f"{time.strftime('%Y-%m-%d')}, {load()}.")
        replace_block("read", "\n".join(table))
    print(f"import kpi_xl.reader in a fresh interpreter: +{import_cost() * 1000:.0f} ms")
    print(f"load average (1, 5, 15 min) at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
