"""What the year's extra steps cost: upgrading a filled workbook, splitting a district by section and
merging the copies, against building one fresh workbook (the baseline every one of them contains).

    python bench/bench_upgrade.py [--runs 3]

An upgrade reads the old workbook, evaluates it, evaluates the planned new one in memory, builds a
fresh workbook and fills it through openpyxl; a merge reads every copy, builds once and fills once.
Goal: an upgrade of 50 districts in well under a minute on the 2-core machine (under ~1 s each).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import figure, load  # noqa: E402

from kpi_xl import catalog as catalog_mod  # noqa: E402
from kpi_xl import fill, sections, template, upgrade  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DISTRICT = 1030


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    cat = catalog_mod.load(ROOT / "workbook_templates" / "catalog_2564.yaml")
    values = {ind.code: {"q1_report": "รายงานไตรมาส 1", "q2_report": "รายงานไตรมาส 2"} for ind in cat.for_district(DISTRICT)}
    build, upgrade_t, split_t, merge_t = [], [], [], []
    print(load())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base = template.build_workbook(cat, DISTRICT, root / "base")
        filled = fill.fill_workbook(base, root / "filled" / base.name, values=values, report_quarter=2)
        for n in range(args.runs):
            t = time.perf_counter()
            template.build_workbook(cat, DISTRICT, root / f"b{n}")
            build.append(time.perf_counter() - t)
            t = time.perf_counter()
            upgrade.upgrade_workbook(filled, cat, root / f"u{n}")
            upgrade_t.append(time.perf_counter() - t)
            t = time.perf_counter()
            parts = sections.build_sections(cat, root / f"s{n}", [DISTRICT])
            split_t.append(time.perf_counter() - t)
            t = time.perf_counter()
            sections.merge_parts(parts, root / f"m{n}.xlsm")
            merge_t.append(time.perf_counter() - t)
    print(f"build one workbook (baseline):     {figure(build)} s")
    print(f"upgrade one filled workbook:       {figure(upgrade_t)} s  ({figure(upgrade_t).median / figure(build).median:.1f}× a build)")
    print(f"split one district ({len(parts)} copies):   {figure(split_t)} s")
    print(f"merge those copies:                {figure(merge_t)} s")
    print(f"50 districts upgraded, one core:   ~{50 * figure(upgrade_t).median:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
