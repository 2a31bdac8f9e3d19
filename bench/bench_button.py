"""What a press of ตรวจสอบข้อมูล costs on the Python side, for a workbook of 30 indicators.

    python bench/bench_button.py [--indicators 30] [--runs 7] [--rebuild]

The button (``KpiValidate``) starts a fresh interpreter every time: xlwings' ``RunPython`` runs
``python -c "import xlwings.utils; ...; import kpi_xl.excel; kpi_xl.excel.validate()"``. So the
costs are the interpreter's start, the imports, then reading the workbook, validating it and
writing the marks back. Excel cannot run here: the workbook comes from xlwings' remote engine,
fed a payload made once from the real file (built by ``kpi_xl.template``, filled by
``kpi_xl.fill`` with a few typical mistakes) — so reading is xlwings' own Range API over data in
memory, without the cost of COM calls into Excel (see docs/it-guide.md for what that leaves out).

Measured in this run, each the median of ``runs`` fresh processes:

- bare interpreter start (``python -c pass``): the baseline every other line is compared with;
- ``import kpi_xl.excel`` (what RunPython's command imports);
- ``import xlwings.utils`` (what RunPython imports before our code), with pandas importable and
  with pandas/numpy made unimportable (a district PC that has xlwings but not pandas);
- the ยืนยันส่งรายงาน press (``KpiSubmit``): the same plus the sign-off decision;
- the full press: start + ``import xlwings.utils`` + ``import kpi_xl.excel`` + load the payload +
  read + validate + plan + write the marks (to the remote book), with and without pandas (the
  district install, ``pip install kpi-xl[windows]``, has no pandas; head office's ``[hq]`` has);
- the same press through its real entry point, ``kpi_xl.excel.validate(book)`` (no pandas): the
  version check, the log line and the message box too, and what the entry point does for speed.

Then one press broken down in-process, and ``-X importtime``'s heaviest imports of a press.
Goal (issue 5): ≤ 0.3 s of Python-side time beyond the bare interpreter's start; issue 16: the press
≤ 2× ``import xlwings`` in the same run, with and without pandas, cached bytecode or not.

"bytecode cached" means the caches the environment lets Python keep. With
``PYTHONDONTWRITEBYTECODE`` set (some shells and CI set it) an editable checkout of kpi_xl never gets
its ``__pycache__``, so those rows compile kpi_xl's source on every press while xlwings loads from
the ``.pyc`` pip wrote at install: the bench says so when it sees it, and ``--warm-cache`` adds a
third condition where every module, kpi_xl's too, loads from a warmed cache (as on a PC whose wheel
install compiled them, or after its first press). The first two conditions are measured as before.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import load, replace_block, verdict  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "_work" / "button"
BLOCK = "import sys\nfor _m in ('pandas', 'numpy'): sys.modules[_m] = None\n"
PRESS = """
import time
_t0 = time.perf_counter()
import xlwings.utils  # RunPython's own first import
_t1 = time.perf_counter()
import kpi_xl.excel as excel
_t2 = time.perf_counter()
import json, xlwings as xw
payload = json.load(open({payload!r}, encoding="utf-8"))
book = xw.Book(json=payload)
_t3 = time.perf_counter()
from kpi_xl.marks import plan_marks  # what validate() imports when it runs: pydantic models, rules
from kpi_xl.validate import evaluate
from kpi_xl.form import load_spec
_t3b = time.perf_counter()
load_spec()
_t4 = time.perf_counter()
raw = excel.read_book(book)
_t5 = time.perf_counter()
report = evaluate(raw)
_t6 = time.perf_counter()
plan = plan_marks(report)
_t7 = time.perf_counter()
excel.apply_plan(book, plan)
_t8 = time.perf_counter()
print(json.dumps({{"import xlwings.utils": _t1 - _t0, "import kpi_xl.excel": _t2 - _t1,
                  "payload: json.load + Book(json=) [remote engine only]": _t3 - _t2,
                  "import the engine (pydantic, catalog, rules, models)": _t3b - _t3,
                  "load the form spec (YAML)": _t4 - _t3b,
                  "read (names + values → RawWorkbook)": _t5 - _t4,
                  "evaluate (rules + scoring)": _t6 - _t5,
                  "plan the write-back": _t7 - _t6, "write marks (remote book actions)": _t8 - _t7,
                  "problems": len(report.problems), "marks": len(plan.marks), "actions": len(book.json()["actions"])}}))
"""


def prepare(indicators: int, rebuild: bool) -> tuple[Path, Path]:
    """A built and (wrongly) filled workbook of ``indicators`` indicators, and its payload."""
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_read import bench_catalog, fill_values  # the reader bench's 30-indicator catalog and fill

    from kpi_xl import excel, fill, template

    catalog = bench_catalog(indicators)
    folder = WORK / f"x{indicators}"
    payload = folder / "payload.json"
    stamp = folder / "stamp.json"
    want = {"catalog": catalog.content_hash}
    if not rebuild and payload.exists() and stamp.exists() and json.loads(stamp.read_text()) == want:
        return folder / "filled.xlsm", payload
    folder.mkdir(parents=True, exist_ok=True)
    built = template.build_workbook(catalog, 1030, folder, force=True)
    values = fill_values(catalog, catalog.district(1030), seed=5)
    # A few typical mistakes so the write-back has marks to make.
    values["KPI-01"]["q1_value"] = "สิบ"
    values["KPI-03"]["q2_value"] = -5
    values["KPI-05"]["level_2"] = None
    values["KPI-08"]["signer_name"] = None
    filled = fill.fill_workbook(built, folder / "filled.xlsm", values=values, report_quarter=4)
    built.unlink()
    payload.write_text(json.dumps(excel.remote_payload(filled), ensure_ascii=False, default=str), encoding="utf-8")
    stamp.write_text(json.dumps(want))
    return filled, payload


def walls(commands: dict[str, list[str]], runs: int, env: dict[str, str]) -> dict[str, tuple[float, float]]:
    """(median, best) wall time of each command; rounds interleave the commands so that a machine
    whose load drifts during the run (other jobs on 2 cores) weighs on every line alike. The best
    run is the least disturbed one: the closest to the cost on an idle PC."""
    times: dict[str, list[float]] = {label: [] for label in commands}
    for _ in range(runs):
        for label, args in commands.items():
            started = time.perf_counter()
            subprocess.run(args, check=True, env=env, stdout=subprocess.DEVNULL)
            times[label].append(time.perf_counter() - started)
    return {label: (statistics.median(values), min(values)) for label, values in times.items()}


def bytecode_note() -> str | None:
    """Why the "bytecode cached" rows may compile kpi_xl on every press: which of its modules have
    no cache this run's environment can use (checked the way the interpreter looks them up)."""
    import importlib.util

    import kpi_xl

    sources = sorted(Path(kpi_xl.__file__).parent.glob("*.py"))
    missing = [src for src in sources if not Path(importlib.util.cache_from_source(str(src))).exists()]
    if not missing:
        return None
    why = "PYTHONDONTWRITEBYTECODE is set, so they are never written" if sys.dont_write_bytecode else "not written yet"
    return (f"note: {len(missing)} of kpi_xl's {len(sources)} modules have no bytecode cache ({why}): the "
            "'bytecode cached' rows compile them on every press, while xlwings loads from its .pyc; "
            "--warm-cache measures a condition where both are cached")


def importtime(code: str, env: dict[str, str], top: int = 12) -> list[tuple[int, int, str]]:
    """(self µs, cumulative µs, module) of the heaviest imports, by cumulative time."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", code], check=True, env=env,
                         capture_output=True, text=True).stderr
    rows = []
    for line in out.splitlines():
        if not line.startswith("import time:") or "|" not in line or "self [us]" in line:
            continue
        self_us, cumulative, name = (part.strip() for part in line.split(":", 1)[1].split("|"))
        rows.append((int(self_us), int(cumulative), name))
    top_level = sorted(rows, key=lambda r: -r[1])
    return top_level[:top]

# ยืนยันส่งรายงาน (KpiSubmit): the same read and check, the marks, then the sign-off stamp when it may
# sign (the bench's workbook has mistakes, so this is the refusal path: check + marks + message).
SUBMIT = """
import xlwings.utils
import json, xlwings as xw
import kpi_xl.excel as excel
book = xw.Book(json=json.load(open({payload!r}, encoding="utf-8")))
excel.run_submit(book)
"""

# The ตรวจสอบข้อมูล press through its real entry point, kpi_xl.excel.validate(): what PRESS does step by
# step, plus what only the entry point does (the version check, the collector paused for the press,
# the log line, the message box as a remote action), the engine imported lazily inside it as in Excel.
VALIDATE = """
import xlwings.utils
import json, xlwings as xw
import kpi_xl.excel as excel
book = xw.Book(json=json.load(open({payload!r}, encoding="utf-8")))
excel.validate(book)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--indicators", type=int, default=30)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--write-docs", action="store_true", help="replace the table in docs/design.md")
    parser.add_argument("--warm-cache", action="store_true",
                        help="also measure with every module's bytecode cached, kpi_xl's included (a warmed "
                             "PYTHONPYCACHEPREFIX), whatever PYTHONDONTWRITEBYTECODE says")
    args = parser.parse_args()

    filled, payload = prepare(args.indicators, args.rebuild)
    env = {**os.environ, "XLWINGS_LICENSE_KEY": os.environ.get("XLWINGS_LICENSE_KEY", "noncommercial"),
           "KPI_XL_LOG_DIR": str(WORK / "logs")}  # validate() logs each press: not into the user's own log
    py = sys.executable
    press = PRESS.format(payload=str(payload))
    print(f"workbook: {filled.name}, {args.indicators} indicator sheets; payload {payload.stat().st_size / 1e6:.2f} MB")
    print(f"python {sys.version.split()[0]} on {sys.platform}; median of {args.runs} fresh processes each\n")

    # The issue's baseline is xlwings' own import in a fresh interpreter; each figure is measured
    # twice: with the bytecode caches as a PC has them after the first press, and with none at all
    # (an empty PYTHONPYCACHEPREFIX and no writing, so every module is compiled as on a PC whose
    # caches were never written, e.g. a read-only install): "bytecode caching not assumed".
    commands = {
        "bare interpreter start": [py, "-c", "pass"],
        "import xlwings (pandas installed)": [py, "-c", "import xlwings"],
        "import xlwings (no pandas/numpy)": [py, "-c", BLOCK + "import xlwings"],
        "import kpi_xl.excel": [py, "-c", "import kpi_xl.excel"],
        "full press (pandas installed)": [py, "-c", press],
        "full press (no pandas/numpy)": [py, "-c", BLOCK + press],
        "full submit press (no pandas/numpy)": [py, "-c", BLOCK + SUBMIT.format(payload=str(payload))],
        "validate() entry point (no pandas/numpy)": [py, "-c", BLOCK + VALIDATE.format(payload=str(payload))],
    }
    results: dict[str, dict[str, tuple[float, float]]] = {}
    note = bytecode_note()
    with tempfile.TemporaryDirectory() as empty, tempfile.TemporaryDirectory() as warm:
        cold_env = {**env, "PYTHONPYCACHEPREFIX": empty, "PYTHONDONTWRITEBYTECODE": "1"}
        conditions = [("bytecode cached", env), ("no bytecode cache", cold_env)]
        if args.warm_cache:
            warm_env = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"PYTHONPYCACHEPREFIX": warm}
            for command in commands.values():  # the first press writes every cache
                subprocess.run(command, check=True, env=warm_env, stdout=subprocess.DEVNULL)
            conditions.append(("bytecode cached, kpi_xl's too", warm_env))
        for condition, run_env in conditions:
            results[condition] = walls(commands, args.runs, run_env)
    rows = []
    for condition, measured in results.items():
        print(f"{condition}: {'':32} {'median':>8} {'min':>8}")
        for label, (median, best) in measured.items():
            print(f"  {label:48} {median:7.3f}s {best:7.3f}s")
        for flavour in ("pandas installed", "no pandas/numpy"):
            press_m, press_b = measured[f"full press ({flavour})"]
            base_m, base_b = measured[f"import xlwings ({flavour})"]
            ratio = press_m / base_m
            rows.append((condition, flavour, press_m, press_b, base_m, ratio))
            print(f"  [{condition}] press ÷ import xlwings, {flavour}: {ratio:.2f}× (min {press_b / base_b:.2f}×) — "
                  f"{verdict(ratio, 2.0)}; press − import xlwings {press_m - base_m:.3f}s")
        entry_m, entry_b = measured["validate() entry point (no pandas/numpy)"]
        base_m, base_b = measured["import xlwings (no pandas/numpy)"]
        rows.append((condition, "no pandas/numpy, through validate()", entry_m, entry_b, base_m, entry_m / base_m))
        print(f"  [{condition}] validate() entry point ÷ import xlwings, no pandas/numpy: {entry_m / base_m:.2f}× "
              f"(min {entry_b / base_b:.2f}×) — {verdict(entry_m / base_m, 2.0)}")
        print()
    if note:
        print(note)
    print(load())
    if args.write_docs:
        table = ["| condition | PC | press s, median (min) | `import xlwings` s | ratio (goal ≤ 2×) |",
                 "|---|---|---:|---:|---:|"]
        for condition, flavour, press_m, press_b, base_m, ratio in rows:
            table.append(f"| {condition} | {flavour} | {press_m:.3f} ({press_b:.3f}) | {base_m:.3f} | {ratio:.2f}× |")
        table.append(f"\nMeasured {time.strftime('%Y-%m-%d')}, {args.runs} fresh processes each, {load()}.")
        replace_block("button", "\n".join(table))

    for label, code in (("pandas installed", press), ("no pandas/numpy", BLOCK + press)):
        runs = [json.loads(subprocess.run([py, "-c", code], check=True, env=env, capture_output=True,
                                          text=True).stdout) for _ in range(5)]
        detail = {key: min(run[key] for run in runs) for key in runs[0]}
        print(f"\none press in-process, each step's best of 5 presses ({label}):")
        for key, value in detail.items():
            print(f"  {key:52} {value:8.3f}s" if isinstance(value, float) else f"  {key:52} {value:>8}")

    for label, code in (("import kpi_xl.excel", "import kpi_xl.excel"),
                        ("a press's imports (no pandas)", BLOCK + "import xlwings.utils, kpi_xl.excel, kpi_xl.validate, "
                         "kpi_xl.marks\nkpi_xl.form.load_spec()"),
                        ("import xlwings.utils (pandas installed)", "import xlwings.utils")):
        print(f"\n-X importtime, heaviest (cumulative) — {label}:")
        for self_us, cumulative, name in importtime(code, env):
            print(f"  {cumulative / 1000:8.1f} ms cumulative {self_us / 1000:7.1f} ms self  {name}")


if __name__ == "__main__":
    main()
