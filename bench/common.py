"""What every benchmark here needs to report honestly: several runs, median and minimum, the
machine's load while it ran, the whole process tree's peak memory, and one place in
docs/design.md where the latest figures are replaced (never appended).

Only the standard library: the benches must run wherever the package's own dependencies do.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DESIGN = ROOT / "docs" / "design.md"
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True)
class Figure:
    """Seconds (or MB) over several runs: the median is what a user gets, the minimum what the
    code costs without the machine's noise; both are printed."""

    runs: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def min(self) -> float:
        return min(self.runs)

    def __str__(self) -> str:
        return f"{self.median:.3f} (min {self.min:.3f}, n={len(self.runs)})"


def figure(values: Sequence[float]) -> Figure:
    return Figure(tuple(values))


def load() -> str:
    """The 1-, 5- and 15-minute load averages against the core count: other work on the machine
    shows in every time, so it is printed beside them."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} cores"


def _tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and every descendant, from /proc (Linux)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        pid = int(entry)
        parents[pid] = int(fields[1])
        rss[pid] = int(fields[21]) * PAGE
    total = 0
    for pid, size in rss.items():
        walk = pid
        for _ in range(64):
            if walk == root:
                total += size
                break
            walk = parents.get(walk, 0)
            if walk <= 1:
                break
    return total


class TreePeak:
    """Samples the resident memory of a process tree every ``interval`` seconds and keeps the
    peak: ``ru_maxrss`` only knows the largest single child, not what parent and workers hold
    together at one moment, which is what a 2-core office PC must have free."""

    def __init__(self, pid: int, interval: float = 0.05):
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, _tree_rss(self.pid))
            except OSError:  # pragma: no cover - the tree ended between listdir and open
                pass
            self._stop.wait(self.interval)

    def __enter__(self) -> TreePeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20


def run_measured(cmd: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str], float, float]:
    """Run ``cmd``; return (completed process, wall seconds, peak MB of its whole process tree)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    with TreePeak(proc.pid) as peak:
        out, err = proc.communicate()
    wall = time.perf_counter() - start
    done = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, cmd, out, err)
    return done, wall, peak.peak_mb


def verdict(ratio: float, goal: float, *, at_most: bool = True) -> str:
    ok = ratio <= goal if at_most else ratio >= goal
    return f"{'met' if ok else 'NOT met'} ({'≤' if at_most else '≥'} {goal:g})"


def replace_block(name: str, text: str, path: Path = DESIGN) -> None:
    """Put ``text`` between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->`` in docs/design.md,
    replacing what was there: the page shows the latest figures, not a log of them."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    page = path.read_text(encoding="utf-8")
    block = f"{start}\n{text.rstrip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if pattern.search(page):
        page = pattern.sub(lambda _m: block, page)
    else:
        page = page.rstrip() + f"\n\n{block}\n"
    path.write_text(page, encoding="utf-8")
