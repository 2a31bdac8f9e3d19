"""The hostile corpus (``tests/hostile.py``) through the real commands, each under a 1 GiB
address-space limit: a regression that reads a stray cell's dense grid or inflates a bomb fails
here with a MemoryError or a killed process instead of passing slowly.

Every command runs in a subprocess (the CLI as head office runs it), many corpus files per call so
the file stays fast. Asserted for each case: the documented exit code, no traceback, a located,
coded message in Thai and English naming the file, the good files used by ``consolidate``, and
every input byte-identical afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from kpi_xl import consolidate as consolidate_mod
from kpi_xl.catalog import Catalog

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hostile  # noqa: E402 - the generator sits beside this file

_SCRIPT = Path(sys.executable).with_name("kpi-xl")
KPI_XL = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "kpi_xl"]
ADDRESS_SPACE = 1 << 30  # 1 GiB: the reader's bound is 200 MB per workbook, the interpreter needs the rest


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "250", "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([*KPI_XL, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env,
                          preexec_fn=_limit, timeout=300, check=False)


def digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    text = result.stdout + result.stderr
    assert "Traceback" not in text and "MemoryError" not in text, text[-3000:]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, seed_filled_workbook: Path) -> dict[str, Path]:
    """Every case written once into one folder; case name → path."""
    folder = tmp_path_factory.mktemp("hostile")
    return {case.name: hostile.make_case(case, seed_filled_workbook, folder) for case in hostile.CASES}


@pytest.fixture(scope="module")
def good_json(seed_filled_workbook: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    result = run("validate", "--json", seed_filled_workbook, cwd=tmp_path_factory.mktemp("good"))
    assert result.returncode == 1, result.stderr  # the seed fills one indicator: the others miss inputs
    return json.loads(result.stdout)[0]


def test_corpus_has_at_least_60_distinct_cases() -> None:
    assert len({c.name for c in hostile.CASES}) == len(hostile.CASES) >= 60


def _comparable(report: dict[str, Any]) -> Any:
    problems = [(p["code"], p["sheet"], p["cell"], p["name"], p["message_en"]) for p in report["problems"]]
    return problems, report["district_score"], report["indicators"], report["readable"]


def test_validate_every_case(corpus: dict[str, Path], good_json: dict[str, Any], tmp_path: Path) -> None:
    """One ``validate --json`` over the whole corpus: per file, read or not as expected, the
    expected code located and in both languages; far cells change nothing at all."""
    before = {name: digest(path) for name, path in corpus.items()}
    result = run("validate", "--json", *corpus.values(), cwd=tmp_path)
    no_traceback(result)
    assert result.returncode == 2, result.stderr[-2000:]  # some files cannot be read
    reports = json.loads(result.stdout)
    assert len(reports) == len(corpus)
    failures = []
    for case, report in zip(hostile.CASES, reports, strict=True):
        path = corpus[case.name]
        assert report["file"] == str(path)
        if report["readable"] != case.readable:
            failures.append((case.name, "readable", report["readable"], report["problems"][:1]))
            continue
        if case.expect is None:
            if _comparable(report) != _comparable(good_json):
                failures.append((case.name, "differs from the good workbook", report["problems"][:3]))
            continue
        found = [p for p in report["problems"] if p["code"] == case.expect]
        if not found:
            failures.append((case.name, "expected", case.expect, [p["code"] for p in report["problems"]]))
            continue
        for p in found:
            assert p["message_th"] and p["message_en"] and p["message_th"] != p["message_en"]
            assert any("\u0e00" <= ch <= "\u0e7f" for ch in p["message_th"]), p  # Thai script
            assert p["file"] == str(path)
            if p["sheet"]:  # located in the file: the sheet (and cell or defined name) in both languages
                assert p["sheet"] in p["message_th"] and p["sheet"] in p["message_en"], p
                assert p["cell"] or (p["name"] and p["name"] in p["message_en"]), p
            else:  # a file-level problem names the file
                assert path.name in p["message_th"] and path.name in p["message_en"], p
    assert failures == []
    assert {name: digest(path) for name, path in corpus.items()} == before


@pytest.mark.parametrize(("case", "code"), [("catalog_parts_huge", 2), ("name_to_range", 1),
                                            ("stray_XFD1048576", 1), ("bomb_sheet_1_2_GiB", 2)])
def test_validate_exit_code_of_one_file(corpus: dict[str, Path], tmp_path: Path, case: str, code: int) -> None:
    """Exit codes as documented (0 valid, 1 errors, 2 unreadable), with the plain-text report."""
    result = run("validate", "--lang", "en", corpus[case], cwd=tmp_path)
    no_traceback(result)
    assert result.returncode == code
    expect = hostile.by_name(case).expect
    if expect:
        assert expect in result.stdout + result.stderr


# Packages calamine reads but openpyxl cannot open: --annotate gives one coded error for them.
ANNOTATE_REFUSED = ("missing_content_types", "wrong_content_types", "missing_styles", "deep_nesting_in_sheet",
                    "stray_far_cell_without_r")


def test_annotate_every_readable_case(corpus: dict[str, Path], tmp_path: Path) -> None:
    """``validate --annotate`` on every case in one run: no traceback, a marked copy of each one
    ``validate`` reads (none of the others), and no string of theirs became a formula."""
    # many_rows_100k: openpyxl loads all 100,000 rows (≈ 17 s); validate and consolidate cover it.
    readable = [c.name for c in hostile.CASES
                if c.readable and c.name not in ANNOTATE_REFUSED and c.name != "many_rows_100k"]
    unreadable = [c.name for c in hostile.CASES if not c.readable]
    files = [corpus[n] for n in [*readable, *unreadable]]
    before = {f: digest(f) for f in files}
    out = tmp_path / "marked"
    out.mkdir()
    result = run("validate", "--annotate", out, *files, cwd=tmp_path)
    no_traceback(result)
    assert result.returncode == 2, result.stderr[-2000:]
    for name in readable:
        marked = out / f"{name}{corpus[name].suffix.replace('.', '_checked.')}"
        assert marked.is_file(), (name, result.stderr[-1500:])
    for name in ("formula_narrative", "plus_at_narrative"):
        marked = out / f"{name}_checked{corpus[name].suffix}"
        with zipfile.ZipFile(marked) as z:
            xml = "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist() if n.endswith(".xml"))
        assert "cmd|" in xml  # the narrative is still there …
        assert "<f>cmd" not in xml and "<f>@SUM" not in xml  # … as text, never as a formula
    for name in unreadable:  # nothing to mark in a file that cannot be read
        assert not (out / f"{corpus[name].stem}_checked{corpus[name].suffix}").exists(), name
    assert {f: digest(f) for f in files} == before


@pytest.mark.parametrize("case", ANNOTATE_REFUSED)
def test_annotate_refuses_what_openpyxl_cannot_open(corpus: dict[str, Path], tmp_path: Path, case: str) -> None:
    before = digest(corpus[case])
    result = run("validate", "--annotate", tmp_path / "marked.xlsm", corpus[case], cwd=tmp_path)
    no_traceback(result)
    assert result.returncode == 2
    text = result.stdout + result.stderr
    assert "KPI-E100" in text and "openpyxl" in text and corpus[case].name in text
    assert not (tmp_path / "marked.xlsm").exists()
    assert digest(corpus[case]) == before


def _manifest(out: Path) -> dict[str, dict[str, Any]]:
    data = json.loads(out.with_name(out.stem + ".manifest.json").read_text(encoding="utf-8"))
    return {Path(f["file"]).name: f for f in data["files"]}


@pytest.mark.parametrize("group", ["all", "worst"])
def test_consolidate_uses_the_good_files(corpus: dict[str, Path], built_workbooks: dict[int, Path],
                                         sample_catalog_path: Path, tmp_path: Path, group: str) -> None:
    """Good workbooks + corpus files in one inbox: the run finishes and the good ones are used.
    "all": every case at once (the parallel path, > 24 files); "worst": the worst cases alone (the
    sequential path)."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    goods = [built_workbooks[1001], built_workbooks[1003]]
    worst = ["stray_XFD1048576", "stray_AZ300000", "bomb_sheet_1_2_GiB", "bomb_lying_header_200_MiB",
             "catalog_parts_huge", "many_rows_100k", "duplicate_member_sheet", "name_to_range"]
    chosen = list(corpus) if group == "all" else worst
    for path in [*goods, *(corpus[n] for n in chosen)]:
        target = inbox / path.name
        if path.is_dir():
            target.mkdir()
        else:
            shutil.copyfile(path, target)
    before = {p: digest(p) for p in inbox.iterdir()}
    out = tmp_path / "result" / "summary.xlsx"
    out.parent.mkdir()
    result = run("consolidate", inbox, "--catalog", sample_catalog_path, "--quarter", "4", "--out", out,
                 "--db", f"sqlite:///{tmp_path / 'history.sqlite'}", cwd=tmp_path)
    no_traceback(result)
    assert result.returncode in (0, 1), result.stderr[-2000:]
    files = _manifest(out)
    for good in goods:
        assert files[good.name]["used"] is True, files[good.name]
    unreadable = {c.name for c in hostile.CASES if not c.readable and c.expect and c.name in chosen}
    for name in unreadable:
        entry = next((f for n, f in files.items() if n.startswith(name) or n.startswith("~$" + name)), None)
        if entry is not None:  # a folder is not a file: discovery may skip it
            assert entry["used"] is False and entry["status"] not in ("clean", "with_errors"), entry
    assert {p: digest(p) for p in before} == before


KILL_SCENARIO = """
import json, multiprocessing, os, sys, threading
from pathlib import Path
from kpi_xl import catalog, consolidate
cat = catalog.load(Path(sys.argv[1]))
files = [(Path(p), Path(p).name) for p in sys.argv[2:]]
killed = []

def kill_one():
    for child in multiprocessing.active_children():
        if child.pid is not None:
            os.kill(child.pid, 9)
            killed.append(child.pid)
            return

def progress(done, total, file):
    if done == 0:  # the pool starts right after this call; its first chunks take ~1 s each
        threading.Timer(0.4, kill_one).start()

records = list(consolidate._run_checks(files, cat, 4, jobs=2, progress=progress))
print(json.dumps({"killed": killed, "records": {r["file"]: [r["status"], r["sha256"], r.get("district_score")]
                                                for r in records}}))
"""


def test_a_killed_worker_loses_no_file(corpus: dict[str, Path], sample_catalog_path: Path, sample_catalog: Catalog,
                                       tmp_path: Path) -> None:
    """A worker process killed mid-read (as the out-of-memory killer or an abort in native code
    would) breaks the pool; the files it held are checked again one per process and every file
    gets its real result, exactly as in a sequential run.

    The kill lands while the workers read (the first chunks' files have 100,000 extra rows: ≈ 0.4 s
    each), not
    while one writes its result: a worker killed in the middle of that write leaves a partial
    message that CPython's pool waits for forever (a known limit of ProcessPoolExecutor, left
    open in the notes). The scenario runs in its own process group with a timeout, so a hang
    fails this test instead of stopping the suite."""
    import signal

    # The reader's own parser reads 100,000 plain rows in milliseconds; a comment in the sheet sends
    # the file to its calamine path, which still takes ≈ 0.4 s, so the kill lands during a read.
    slow = hostile.edit(corpus["many_rows_100k"], tmp_path / "slow_source.xlsx", hostile.on_sheet(hostile.INDICATOR),
                        lambda xml: xml.replace(b"<sheetData>", b"<sheetData><!-- read by calamine -->", 1))
    files = []
    for i in range(consolidate_mod.PARALLEL_MIN_FILES + 2):  # the first chunks slow, the rest quick
        source = slow if i < 8 else corpus["stray_XFD1048576"]
        target = tmp_path / f"{i:02d}_{source.name}"
        shutil.copyfile(source, target)
        files.append(target)
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCENARIO, str(sample_catalog_path), *map(str, files)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("the consolidation hung after a worker was killed")
    assert proc.returncode == 0, err[-2000:]
    result = json.loads(out)
    assert result["killed"]
    sequential = consolidate_mod._run_checks([(f, f.name) for f in files], sample_catalog, 4, jobs=1, progress=None)
    expected = {r["file"]: [r["status"], r["sha256"], r.get("district_score")] for r in sequential}
    assert result["records"] == expected
