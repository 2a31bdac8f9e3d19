"""Run every benchmark, one after the other, with one command: `python bench/run_all.py`.

Each script measures kpi-xl against a baseline in the same run (calamine alone, inflating the
needed parts, openpyxl, unzipping, `import xlwings`, the single-process run) and prints the ratios
with the issue's goals. `--quick` runs the small sizes only (minutes, not tens of minutes);
`--write-docs` replaces the tables of the latest figures in docs/design.md. Scratch files go to
bench/_work/ (git-ignored).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
VERDICT = re.compile(r"\b(?:NOT )?met \([≤≥]")
# script → (its arguments for --quick, whether it takes --write-docs)
SCRIPTS: dict[str, tuple[list[str], bool]] = {
    "bench_build.py": (["--skip-openpyxl"], False),
    "bench_read.py": (["--skip-openpyxl-default"], True),
    "bench_button.py": (["--runs", "5"], True),
    "bench_consolidate.py": (["--sizes", "50,1000"], True),
    "bench_web.py": ([], False),
    "bench_history.py": ([], False),
    "bench_upgrade.py": (["--runs", "2"], False),
}
# Arguments every run passes: the button is also measured with kpi_xl's own bytecode cached, as a PC
# installed from the wheel has it (pip compiles at install), beside the two conditions of the issue.
ALWAYS: dict[str, list[str]] = {"bench_button.py": ["--warm-cache"]}


def run(script: str, extra: list[str], goals: list[tuple[str, str]]) -> int:
    """Run one script, passing its output through as it comes, and keep the lines that carry a
    verdict ("met (≤ 2)" / "NOT met (≤ 2)", from ``common.verdict``): a long run ends with every
    ratio and its goal in one place instead of scattered over many screens."""
    proc = subprocess.Popen([sys.executable, "-u", str(HERE / script), *extra], stdout=subprocess.PIPE,
                            text=True, encoding="utf-8", bufsize=1)
    assert proc.stdout is not None
    for line in proc.stdout:
        print(line, end="", flush=True)
        if VERDICT.search(line):
            goals.append((script, line.strip()))
    return proc.wait()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only")
    parser.add_argument("--write-docs", action="store_true", help="replace the tables in docs/design.md")
    parser.add_argument("--only", help="comma-separated script names, e.g. bench_read.py")
    args = parser.parse_args(argv)
    chosen = [s for s in SCRIPTS if not args.only or s in args.only.split(",")]
    print(f"load at the start: {', '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    failed: list[str] = []
    goals: list[tuple[str, str]] = []
    for script in chosen:
        quick_args, docs = SCRIPTS[script]
        extra = (ALWAYS.get(script, []) + (quick_args if args.quick else [])
                 + (["--write-docs"] if args.write_docs and docs else []))
        print(f"\n===== {script} {' '.join(extra)} =====", flush=True)
        start = time.perf_counter()
        code = run(script, extra, goals)
        print(f"----- {script}: exit {code}, {time.perf_counter() - start:.1f} s", flush=True)
        if code:
            failed.append(script)
    print(f"\n===== the issue's goals, as measured above ({len(goals)} figures) =====")
    for script, line in goals:
        print(f"  {script:22} {line}")
    print(f"load at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
