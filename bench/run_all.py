"""Run every benchmark, one after the other, with one command: `python bench/run_all.py`.

Each script measures kpi-xl against a baseline in the same run (openpyxl, unzipping, the bare
interpreter) and prints the ratios. Extra arguments go to every script (e.g. `--quick` where the
script knows it). Scratch files go to bench/_work/ (git-ignored).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["bench_build.py", "bench_read.py", "bench_button.py", "bench_consolidate.py", "bench_history.py"]


def main(argv: list[str]) -> int:
    failed = []
    for script in SCRIPTS:
        print(f"\n===== {script} =====", flush=True)
        start = time.perf_counter()
        code = subprocess.call([sys.executable, str(HERE / script), *argv])
        print(f"----- {script}: exit {code}, {time.perf_counter() - start:.1f} s", flush=True)
        if code:
            failed.append(script)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
