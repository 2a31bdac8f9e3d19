"""Head office's one command: who sent, who is missing, what is wrong where, and the scores.

The district of a workbook is read from its hidden metadata, never from its file name: files come
back from e-mail, LINE and shared drives renamed ("KPI เขตจตุจักร ล่าสุด (2).xlsm"). The file name
is only compared with the metadata, to flag a file that claims to be another district (KPI-W501),
and used as a *hint* for a file that cannot be opened at all, so head office knows whose file broke.

Every file is validated by the same engine as the district's own button (:mod:`kpi_xl.validate`).
Files are checked in worker processes in chunks; a worker returns a small plain record, never a
library object or a DataFrame, and the parent keeps the full record (indicator values, narratives,
problems) only for the one workbook chosen per district. Memory therefore grows with the number
of districts, not with the number of files in the folder. The choice among several files of one
district uses a total order (usable first, then last saved, then file mtime, then path), so the
result does not depend on which worker finished first.

Workers are started fresh (``spawn``, on every platform, see :data:`START_METHOD`), not forked
from the parent: they import this module and the validator only, never pandas (imported inside the
functions that build the frames), SQLAlchemy or XlsxWriter that the parent may hold. As with any
``spawn`` pool, each worker imports the caller's main script: a script that calls
:func:`consolidate` at its top level without ``if __name__ == "__main__":`` would run again in every
worker, so :func:`_spawn_is_safe` checks the script's own call site and uses fork for such a script
where the platform has it (Windows has not: there, as always, guard the call).
"""

from __future__ import annotations

import datetime as dt
import math
import multiprocessing
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from functools import cache
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from .catalog import Catalog, ErrorScores, Kind
from .files import sha256_file
from .problems import KpiError, Location, problem

# The result model lives below the writers (kpi_xl.result); re-exported so old imports keep working.
from .result import BANGKOK as BANGKOK
from .result import ConsolidationResult as ConsolidationResult
from .result import Status as Status
from .result import Submission as Submission

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .model import DistrictReport

Progress = Callable[[int, int, str], None]
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls")
LOCK_PREFIX = "~$"
PARALLEL_MIN_FILES = 24  # below this, starting worker processes costs more than it saves
# Files per task. A worker returns its chunk's records at once (each ≈ 210 KB pickled: the
# narratives), and the parent holds up to 2 × jobs chunks in flight: at 64 files a chunk that was
# ≈ 13 MB pickled per chunk, ≈ 450 MB for the process tree at 1,000 files against ≈ 290 MB at 50.
# 8 files is ≈ 0.2 s of work per task now, so the per-task overhead (≈ 1 ms) stays negligible.
MAX_CHUNK = 8
HISTORY_FILE = "kpi_history.sqlite"
NOTE_FILES = 5  # other files named in a duplicate's note; every file is listed on its own row anyway
# A saved date inside a workbook is whatever the last program (or person) wrote into docProps. It
# chooses among duplicates only when plausible: not in the future (a day's slack for clocks and time
# zones) and within a month of the file's own modification time (copies and e-mail keep it close).
FUTURE_SLACK = dt.timedelta(days=1)
MTIME_DRIFT = dt.timedelta(days=30)


# Codes from the validator that decide a file's status (the first that applies wins).
_UNREADABLE_CODES = {"KPI-E100": Status.CORRUPT, "KPI-E101": Status.XLS, "KPI-E102": Status.ENCRYPTED,
                     "KPI-E103": Status.NOT_KPI_XL, "KPI-E113": Status.NOT_KPI_XL}
_STRUCTURE_STATUS = [("KPI-E109", Status.WRONG_YEAR), ("KPI-E106", Status.OTHER_CATALOG),
                     ("KPI-E105", Status.OTHER_CATALOG), ("KPI-E107", Status.UNKNOWN_DISTRICT)]


# ---------------------------------------------------------------------------------------------
# Discovery


def discover(inbox: Path, *, exclude: Iterable[Path] = (), skipped: list[Path] | None = None) -> list[Path]:
    """Every .xlsx/.xlsm/.xls under ``inbox`` (subfolders too), sorted; lock files included.

    ``.xls`` files are listed so they can be reported as unreadable rather than silently missed;
    lock files so they can be reported as skipped. ``exclude`` keeps our own outputs out.
    A symbolic link (file or folder) that leads outside the inbox is not followed: anyone who can
    drop a link in a shared folder could otherwise make head office score a file from elsewhere.
    Such links are appended to ``skipped`` (reported as KPI-W601); links inside the inbox are used.
    """
    inbox = Path(inbox)
    root_real = inbox.resolve()
    skip = {Path(p).resolve() for p in exclude}
    found: list[Path] = []
    outside: list[Path] = []
    for root, dirs, files in os.walk(inbox):
        dirs.sort()
        for name in dirs:
            path = Path(root) / name
            if path.is_symlink() and not _within(path.resolve(), root_real):
                outside.append(path)  # os.walk does not enter linked folders; say so instead of silence
        for name in files:
            if not name.lower().endswith(WORKBOOK_SUFFIXES):
                continue
            path = Path(root) / name
            real = path.resolve()
            if real in skip:
                continue
            if path.is_symlink() and not _within(real, root_real):
                outside.append(path)
                continue
            found.append(path)
    if skipped is not None:
        skipped.extend(sorted(outside, key=lambda p: _rel(p, inbox)))
    return sorted(found, key=lambda p: _rel(p, inbox))


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _rel(path: Path, inbox: Path) -> str:
    try:
        return path.relative_to(inbox).as_posix()
    except ValueError:
        return path.as_posix()


@cache
def _name_patterns(codes: tuple[int, ...]) -> list[tuple[str, int]]:
    """(normalised name, code) for every way a file name may carry a district, longest first.

    Longest first so "ทวีวัฒนา" is not also read as "วัฒนา" (and "Thawi Watthana" as "Watthana").
    """
    from .reference import districts

    known = districts()
    pairs: list[tuple[str, int]] = []
    for code in codes:
        d = known.get(code)
        if d is None:
            continue
        pairs.append((_normalise(d.name_th), code))
        pairs.append((_normalise(d.name_en), code))
    return sorted(pairs, key=lambda p: (-len(p[0]), p[0]))


def _normalise(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.casefold())


_CODE_IN_NAME = re.compile(r"(?<!\d)(10[0-9]{2})(?!\d)")


def districts_in_name(file_name: str, codes: Iterable[int]) -> set[int]:
    """District codes a file name mentions, by official code (1001–1050) or by Thai/English name."""
    codes = tuple(sorted(codes))
    stem = Path(file_name).stem
    found = {int(m) for m in _CODE_IN_NAME.findall(stem) if int(m) in codes}
    text = _normalise(stem)
    for name, code in _name_patterns(codes):
        if name and name in text:
            found.add(code)
            text = text.replace(name, "\x00")
    return found


# ---------------------------------------------------------------------------------------------
# The worker: one file → one small plain record


_WORKER: dict[str, Any] = {}
# How worker processes start. Not "fork": a forked worker begins as a copy of the parent, and the
# parent of a head-office run has pandas, SQLAlchemy and XlsxWriter loaded (≈100 MB resident), all
# of which stays resident in each worker although a worker never uses it (≈88 MB per worker, against
# ≈41 MB for a fresh interpreter that imports only the validator). "spawn" is also what Windows uses,
# so every platform now runs the same worker code path. Starting a worker costs ≈0.3 s of CPU, once
# per pool (≈0.5 s more for a 50-file inbox; no more CPU in all at 1,000 files, where forked workers paid
# the same in copy-on-write faults).
START_METHOD = "spawn"


def _context() -> BaseContext:
    return multiprocessing.get_context(START_METHOD if _spawn_is_safe() else _fallback_method())


def _fallback_method() -> str:
    """Where a spawned worker would re-run the caller's script: fork (the former way, more memory)."""
    return "fork" if "fork" in multiprocessing.get_all_start_methods() else START_METHOD


def _spawn_is_safe() -> bool:
    """Whether a spawned worker can start without re-running the caller's script.

    A spawned worker imports the parent's main script as ``__mp_main__``; a script calling
    :func:`consolidate` at its top level, unguarded (the README's example saved as a file), would
    call it again in every worker, each worker would fail, and every file would be re-checked alone
    and fail too. So this looks at the main script's own frame on the stack: the call must sit inside
    ``if __name__ == "__main__":`` (checked on the script's syntax tree), or come from no script at all
    (``kpi-xl``, ``python -c``, a REPL, a notebook, or a function the script defines and calls under
    the guard). Anything else falls back to fork where the platform has it."""
    import sys

    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or not path or not str(path).endswith(".py"):
        return True
    if str(getattr(getattr(main, "__spec__", None), "name", "")).endswith("__main__"):
        return True  # a package's __main__ (python -m pkg): multiprocessing never re-runs it in a worker
    frame = sys._getframe(1)
    while frame is not None and not (frame.f_globals is vars(main) and frame.f_code.co_name == "<module>"):
        frame = frame.f_back
    if frame is None:
        return True  # not running inside the script's top-level code (a thread, a callback)
    return _inside_main_guard(Path(path), frame.f_lineno)


def _inside_main_guard(script: Path, line: int) -> bool:
    import ast

    try:
        tree = ast.parse(script.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return False
    for node in tree.body:
        if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
            continue
        sides = [node.test.left, *node.test.comparators]
        names = {n.id for n in sides if isinstance(n, ast.Name)}
        texts = {n.value for n in sides if isinstance(n, ast.Constant)}
        if (names == {"__name__"} and texts == {"__main__"} and isinstance(node.test.ops[0], ast.Eq)
                and node.body[0].lineno <= line <= (node.end_lineno or line)):
            return True
    return False


def _init_worker(catalog: Catalog, quarter: int) -> None:
    """Runs once in each worker: parse the form spec and the reference districts now, so the first
    chunk's timing is not the odd one out."""
    from . import validate  # noqa: F401 - loaded once per worker, before any file
    from .form import load_spec
    from .reference import districts

    load_spec()
    districts()
    _WORKER["catalog"] = catalog
    _WORKER["quarter"] = quarter


def _check_chunk(items: list[tuple[str, str]]) -> list[dict[str, Any]]:
    catalog, quarter = _WORKER["catalog"], _WORKER["quarter"]
    return [check_file(Path(path), rel, catalog, quarter) for path, rel in items]


def check_file(path: Path, rel: str, catalog: Catalog, quarter: int) -> dict[str, Any]:
    """Hash, validate and summarise one file; never raises for a bad file (one never stops the batch)."""
    record: dict[str, Any] = {"file": rel, "size": None, "sha256": None, "mtime": None}
    try:
        stat = path.stat()
        record["size"] = stat.st_size
        record["mtime"] = stat.st_mtime
        record["sha256"] = sha256_file(path)
    except OSError as exc:
        record.update(status=Status.CORRUPT.value, problems=[_flat(problem(
            "KPI-E100", Location(file=rel), detail=str(exc)))])
        return record
    if path.name.startswith(LOCK_PREFIX):
        record.update(status=Status.LOCK_FILE.value, problems=[_flat(problem("KPI-W503", Location(file=rel)))])
        return record
    from .validate import validate_file

    try:
        report = validate_file(path, catalog=catalog, quarter=quarter)
        record.update(_summarise(report, rel, catalog))
    except (KeyboardInterrupt, SystemExit):
        raise  # head office stopping the run is not a bad file
    except BaseException as exc:  # noqa: BLE001 - MemoryError, a Rust panic, a bug: this file only
        detail = f"{type(exc).__name__}: {exc}".splitlines()[0][:200] if str(exc) else type(exc).__name__
        record.update(status=Status.CORRUPT.value, problems=[_flat(problem(
            "KPI-E100", Location(file=rel), detail=f"การตรวจแฟ้มล้มเหลว / the check failed ({detail})"))])
    return record


def _crashed(path: Path, rel: str, cause: str) -> dict[str, Any]:
    """The record of a file whose check killed its worker process (an abort in native code, the
    out-of-memory killer): unreadable, with the cause, so the batch goes on without it."""
    record: dict[str, Any] = {"file": rel, "size": None, "sha256": None, "mtime": None}
    try:
        stat = path.stat()
        record.update(size=stat.st_size, mtime=stat.st_mtime, sha256=sha256_file(path))
    except OSError:
        pass
    record.update(status=Status.CORRUPT.value, problems=[_flat(problem(
        "KPI-E100", Location(file=rel),
        detail=f"การตรวจแฟ้มนี้ทำให้โปรเซสที่ตรวจหยุดทำงาน / checking this file stopped its worker process ({cause})"))])
    return record


def _check_alone(item: tuple[str, str], catalog: Catalog, quarter: int) -> dict[str, Any]:
    """Check one file in a process of its own: after a worker died, this finds which file of its
    chunk killed it, and every other file of the chunk still gets its real result."""
    path, rel = item
    solo = ProcessPoolExecutor(max_workers=1, mp_context=_context(), initializer=_init_worker,
                               initargs=(catalog, quarter))
    try:
        return solo.submit(_check_chunk, [item]).result()[0]
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - BrokenProcessPool, or the result could not travel back
        return _crashed(Path(path), rel, type(exc).__name__)
    finally:
        solo.shutdown(wait=True, cancel_futures=True)


def _flat(p: Any, file: str | None = None) -> dict[str, Any]:
    loc = p.location
    return {"code": p.code, "severity": p.severity.value, "file": file if file is not None else loc.file,
            "sheet": loc.sheet, "cell": loc.cell, "name": loc.name,
            "message_th": p.message_th, "message_en": p.message_en}


def _summarise(report: DistrictReport, rel: str, catalog: Catalog) -> dict[str, Any]:
    from .outliers import compared_cell

    problems = [_flat(p, rel) for p in report.problems]
    for p in problems:  # messages name the file as it sits in the inbox, not by its absolute path
        p["message_th"] = p["message_th"].replace(f"[{report.file}]", f"[{rel}]")
        p["message_en"] = p["message_en"].replace(f"[{report.file}]", f"[{rel}]")
    codes = [p["code"] for p in problems]
    if not report.readable:
        status = next((_UNREADABLE_CODES[c] for c in codes if c in _UNREADABLE_CODES), Status.CORRUPT)
    else:
        status = next((s for code, s in _STRUCTURE_STATUS if code in codes), None)
        if status is None and report.district_code not in {d.code for d in catalog.districts}:
            status = Status.UNKNOWN_DISTRICT
        if status is None:
            status = Status.WITH_ERRORS if report.problems.errors else Status.CLEAN
    modified = report.modified
    if modified is not None and modified.tzinfo is not None:
        modified = modified.astimezone(dt.UTC).replace(tzinfo=None)
    indicators = []
    if status.usable:
        for ind in report.indicators:
            where = compared_cell(ind, report.report_quarter or 1, rel)
            indicators.append({
                "code": ind.code, "year_value": ind.year_value, "score": ind.score, "target_met": ind.target_met,
                "scoring": ind.scoring, "where": {"sheet": where.sheet, "cell": where.cell, "name": where.name},
                "explanation_th": ind.explanation_th,
                "flagged_cells": list(ind.flagged_cells), "value_source": ind.value_source,
                "typed_difference": ind.typed_difference, "counted": ind.counted,
                "content_hash": ind.content_hash,
                "fields": {name: fv.value for name, fv in ind.fields.items()},
            })
    return {
        "status": status.value,
        "district_code": report.district_code,
        "district_name_th": report.district_name_th,
        "district_name_en": report.district_name_en,
        "fiscal_year": report.fiscal_year,
        "report_quarter": report.report_quarter,
        "declared_quarter": report.declared_quarter,
        "catalog_hash": report.meta.catalog_hash if report.meta else None,
        "template_version": report.meta.template_version if report.meta else None,
        "signoff": report.signoff.model_dump() if report.signoff is not None else None,
        "modified": modified,
        "district_score": report.district_score if status.usable else None,
        "errors": sum(1 for p in problems if p["severity"] == "error"),
        "warnings": sum(1 for p in problems if p["severity"] != "error"),
        "indicators": indicators,
        "problems": problems,
    }


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Lists of ``size`` items, made as they are asked for: no second list of every file is built."""
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class InboxFiles(Sequence[tuple[Path, str]]):
    """The files to check as (path, name relative to the inbox), holding only the relative names.

    A ``Path`` costs ≈ 0.5 kB (its parts are kept as separate strings); the parent keeps this list
    for the whole read, so at 10,000 files the paths alone were ≈ 5 MB. Each path is rebuilt from the
    inbox when it is handed to a worker."""

    def __init__(self, inbox: Path, names: list[str]):
        self.inbox, self.names = inbox, names

    def __len__(self) -> int:
        return len(self.names)

    @overload
    def __getitem__(self, index: int) -> tuple[Path, str]: ...
    @overload
    def __getitem__(self, index: slice) -> list[tuple[Path, str]]: ...
    def __getitem__(self, index: int | slice) -> tuple[Path, str] | list[tuple[Path, str]]:
        if isinstance(index, slice):
            return [(self.inbox / name, name) for name in self.names[index]]
        name = self.names[index]
        return self.inbox / name, name


def _run_checks(files: Sequence[tuple[Path, str]], catalog: Catalog, quarter: int, jobs: int,
                progress: Progress | None) -> Iterator[dict[str, Any]]:
    """Yield one record per file, in whatever order they finish; workers hold only their chunk."""
    total = len(files)
    done = 0
    if progress:
        progress(0, total, "")

    def counted(records: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Every record leaves through here, so the progress count is the same on every path."""
        nonlocal done
        for record in records:
            done += 1
            if progress:
                progress(done, total, record["file"])
            yield record

    if jobs <= 1 or total < PARALLEL_MIN_FILES:
        yield from counted(check_file(path, rel, catalog, quarter) for path, rel in files)
        return
    size = max(1, min(MAX_CHUNK, math.ceil(total / (jobs * 4))))
    items = ((str(path), rel) for path, rel in files)
    in_flight: dict[Future[list[dict[str, Any]]], list[tuple[str, str]]] = {}
    chunks = _chunks(items, size)

    def new_pool() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=jobs, mp_context=_context(), initializer=_init_worker,
                                   initargs=(catalog, quarter))

    pool = new_pool()
    try:
        # Keep only a few chunks in flight so finished results never pile up in memory.
        while True:
            for chunk in chunks:
                in_flight[pool.submit(_check_chunk, chunk)] = chunk
                if len(in_flight) >= jobs * 2:
                    break
            if not in_flight:
                break
            finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            lost: list[tuple[str, str]] = []
            broken = False
            for future in finished:
                chunk = in_flight.pop(future)
                try:
                    records = future.result()
                except BrokenProcessPool:
                    broken = True
                    lost += chunk
                    continue
                except Exception:  # noqa: BLE001 - a result that cannot travel back: check its files alone
                    lost += chunk
                    continue
                yield from counted(records)
            del finished
            if broken:
                # A worker died (abort in native code, killed): every chunk in flight is lost with
                # the pool. Keep what finished, then check the lost files one per process.
                wait(in_flight)
                for future, chunk in in_flight.items():
                    try:
                        records = future.result()
                    except BaseException:  # noqa: BLE001 - lost with the pool
                        lost += chunk
                        continue
                    yield from counted(records)
                in_flight.clear()
                pool.shutdown(wait=True, cancel_futures=True)
            yield from counted(_check_alone(item, catalog, quarter) for item in lost)
            if broken:
                pool = new_pool()
    finally:
        # Interrupted (Ctrl+C, a failing progress callback): drop the chunks not started yet.
        pool.shutdown(wait=True, cancel_futures=True)


# ---------------------------------------------------------------------------------------------
# Deciding per district


def _distrust(sub: Submission, run_at: dt.datetime) -> None:
    """Mark an implausible internal saved date, so choosing falls back to the file's mtime."""
    if sub.modified is None or sub.mtime is None:
        return
    now = run_at.astimezone(dt.UTC).replace(tzinfo=None) if run_at.tzinfo else run_at
    mtime = dt.datetime.fromtimestamp(sub.mtime, dt.UTC).replace(tzinfo=None)
    if sub.modified > now + FUTURE_SLACK:
        sub.claimed_reason = "future"
    elif abs(sub.modified - mtime) > MTIME_DRIFT:
        sub.claimed_reason = "drift"


_SHARED_FIELDS = ("district_code", "district_name_th", "district_name_en", "fiscal_year", "catalog_hash",
                  "template_version")


def _submission(record: dict[str, Any], run_at: dt.datetime | None = None,
                shared: dict[Any, Any] | None = None) -> Submission:
    """The parent's record of one file. ``shared`` (one dict per run) keeps one object per distinct
    value of the fields every file repeats (district, names, catalog hash, template version): each
    record arrives unpickled with its own copies, ≈ 0.4 kB per file that would otherwise stay."""
    if shared is not None:
        for key in _SHARED_FIELDS:
            value = record.get(key)
            if value is not None:
                record[key] = shared.setdefault((key, value), value)
    sub = Submission(
        file=record["file"], size=record.get("size"), sha256=record.get("sha256"), mtime=record.get("mtime"),
        status=Status(record["status"]),
        district_code=record.get("district_code"),
        district_name_th=record.get("district_name_th"), district_name_en=record.get("district_name_en"),
        fiscal_year=record.get("fiscal_year"), report_quarter=record.get("report_quarter"),
        declared_quarter=record.get("declared_quarter"),
        catalog_hash=record.get("catalog_hash"), template_version=record.get("template_version"),
        modified=record.get("modified"), district_score=record.get("district_score"),
        errors=record.get("errors", 0), warnings=record.get("warnings", 0),
        problems=record.get("problems", []), indicators=record.get("indicators"),
        signoff=record.get("signoff"),
    )
    if sub.district_code is not None and not sub.status.unreadable and sub.status is not Status.LOCK_FILE:
        sub.identified_by = "metadata"
    if sub.status is Status.LOCK_FILE:
        sub.errors, sub.warnings = 0, 1
    if run_at is not None:
        _distrust(sub, run_at)
    return sub


def _slim(sub: Submission) -> None:
    """A file that will not be used keeps only the problems that explain why; its indicators and
    sign-off (read only from the chosen workbook of each district) are dropped."""
    sub.indicators = None
    sub.signoff = None
    if sub.status.usable or sub.status is Status.DUPLICATE:
        sub.problems = []
    else:
        sub.problems = [p for p in sub.problems if p["code"].startswith("KPI-E1") or p["code"] == "KPI-W503"]


def consolidate(
    inbox: str | Path,
    catalog: Catalog,
    quarter: int,
    *,
    out: str | Path | None = None,
    db: str | Path | Literal[False] | None = None,
    into: str | Path | None = None,
    into_out: str | Path | None = None,
    progress: Progress | None = None,
    jobs: int | None = None,
    run_at: dt.datetime | None = None,
    replace: bool = False,
) -> ConsolidationResult:
    """Consolidate every workbook under ``inbox`` for ``quarter`` of the catalog's fiscal year.

    ``out``: the summary workbook (its manifest JSON goes beside it, ``<out>.manifest.json``).
    ``db``: SQLAlchemy URL or SQLite file path of the history; ``None`` = ``kpi_history.sqlite``
    beside ``out`` (no history when there is no ``out``); ``False`` = no history.
    ``into``: head office's own template, filled into a new file (``into_out``, default
    ``<into stem>_<fy>_Q<q><suffix>`` beside ``out`` or ``into``).
    ``progress(done, total, file)`` is called once per file. ``jobs``: worker processes
    (default: every core). Inputs are only read; every output is replaced atomically.

    Every output (summary, manifest, ``into_out``, the SQLite history file) is checked before the
    first file is read (:func:`kpi_xl.files.check_output`): a mistake costs seconds, not a batch.
    A run that would replace a stored period with an empty inbox, fewer usable workbooks, or a
    quarter the workbooks' covers contradict raises :class:`KpiError` before anything is written
    (:func:`kpi_xl.history.check_replacement`), unless ``replace=True`` (the CLI's
    ``--replace-history``); the replaced run stays in the history and can be restored.
    """
    if quarter not in (1, 2, 3, 4):
        raise ValueError(f"quarter must be 1–4, got {quarter!r}")
    if into is not None:
        from .hq import check_template

        check_template(into)  # a wrong --into fails now, not after the whole folder was checked
    inbox = Path(inbox)
    if not inbox.is_dir():  # a mistyped folder must not read as "all 50 districts missing"
        raise FileNotFoundError(f"ไม่พบโฟลเดอร์ {inbox} / folder not found: {inbox}")
    out_path = Path(out) if out is not None else None
    run_at = run_at or dt.datetime.now(dt.UTC).replace(microsecond=0)
    url = None
    if db is not False and (db is not None or out_path is not None):
        from .history import default_location

        url = db if db is not None else default_location(out_path.parent)  # type: ignore[union-attr]
    into_target = _check_outputs(inbox, catalog, quarter, out_path, into, into_out, url, db_given=db is not None)
    exclude = [p for p in (out_path, into, into_target) if p is not None]
    if out_path is not None:
        from .headoffice.review import review_path

        exclude += [manifest_path(out_path), review_path(out_path, catalog.fiscal_year, quarter)]
    skipped: list[Path] = []
    files = InboxFiles(inbox, [_rel(p, inbox) for p in discover(inbox, exclude=exclude, skipped=skipped)])
    jobs = jobs or os.cpu_count() or 1

    catalog_codes = {d.code for d in catalog.districts}
    best: dict[int, Submission] = {}
    by_district: dict[int, list[Submission]] = {}
    subs: list[Submission] = []
    shared: dict[Any, Any] = {}
    for record in _run_checks(files, catalog, quarter, jobs, progress):
        sub = _submission(record, run_at, shared)
        subs.append(sub)
        code = sub.district_code
        if sub.identified_by == "metadata" and code in catalog_codes:
            by_district.setdefault(code, []).append(sub)
            current = best.get(code)
            if current is None or sub.sort_key() > current.sort_key():
                best[code] = sub
                if current is not None:
                    _slim(current)
            else:
                _slim(sub)
        else:
            _slim(sub)
    _release_memory()

    _flag_far_from_peers(best)
    problems = _decide(subs, best, by_district, catalog)
    problems += [_flat(problem("KPI-W601", Location(file=_rel(p, inbox)), value=_rel(p, inbox)))
                 | {"district_code": None} for p in skipped]
    groups = {code: len(group) for code, group in by_district.items()}
    result = _frames(catalog, quarter, inbox, run_at, subs, best, groups, problems)
    if not replace and (url is not None or out_path is not None or into is not None):
        from .history import check_replacement

        declared = [s.declared_quarter for s in subs if s.declared_quarter is not None and not s.status.unreadable]
        refused = check_replacement(url, result, files_found=len(files), declared=declared)
        if refused:
            raise KpiError(refused)
    history_engine = None
    if url is not None:
        from . import history

        history_engine = history.open_db(url)
        history.attach_previous(history_engine, result)
        history.attach_assessments(history_engine, result)
        history.attach_changes(history_engine, result)
        result.paths["db"] = history.display_url(url)
    if into is not None and into_target is not None:  # before the summary, so its warnings (KPI-W504) are listed
        from .hq import fill_template

        result.paths["into"] = fill_template(Path(into), into_target, result)
    if out_path is not None:
        from .summary import write_manifest_json, write_summary

        write_summary(result, out_path)
        result.paths["summary"] = out_path
        result.paths["manifest"] = write_manifest_json(result, manifest_path(out_path), summary=out_path)
        from .headoffice.review import review_path, write_review

        result.paths["review"] = write_review(result, review_path(out_path, result.fiscal_year, quarter))
    if history_engine is not None:
        from . import history

        history.record_run(history_engine, result, forced=replace)
        history_engine.dispose()
    return result


def _release_memory() -> None:
    """Give the C heap's free pages back to the system after the read phase (glibc only).

    Every record arrives with the workbook's narratives (≈ 200 kB each, long strings that Python
    allocates with ``malloc``); all but the chosen workbooks' are dropped at once, and glibc keeps
    the freed pages mapped. Returning them (≈ 5 MB at 1,000 files) leaves that much more room for
    the summary and the history, which come next and run in the parent alone."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # musl or another libc: nothing to trim, nothing lost
        pass


def _flag_far_from_peers(best: dict[int, Submission]) -> None:
    """KPI-W630 (a warning) on each used workbook's values far from the other districts' this quarter."""
    from .outliers import Scored, peer_warnings

    values = {
        code: [Scored(i["code"], i.get("scoring", ""), i.get("year_value"),
                      Location(file=sub.file, **i.get("where", {"sheet": i["code"]})))
               for i in sub.indicators or []]
        for code, sub in best.items() if sub.status.usable
    }
    for code, found in peer_warnings(values).items():
        sub = best[code]
        sub.problems.extend(_flat(p, sub.file) for p in found)
        sub.warnings += len(found)


def _check_outputs(inbox: Path, catalog: Catalog, quarter: int, out: Path | None, into: str | Path | None,
                   into_out: str | Path | None, db: str | Path | None, *, db_given: bool = True) -> Path | None:
    """Every output checked before the batch (KpiError with all problems); stale temps of a killed
    earlier run removed. Returns where ``into`` will be filled (None without ``into``).

    A history file that was not given but derived from ``--out`` is not checked when ``--out``
    itself failed: one mistake, one message."""
    from types import SimpleNamespace

    from .files import check_output, clean_stale_temps
    from .keys import KeyProblem, load_key

    found: list[Any] = []
    try:
        load_key()  # a configured key that cannot be read must stop the run, not weaken every check
    except KeyProblem as exc:
        found.append(problem("KPI-E615", source=exc.source, detail=exc.detail))
    targets: list[Path] = []
    inputs: list[Path] = [inbox] + ([Path(into)] if into is not None else [])

    def check(path: Path, option: str, suffixes: tuple[str, ...] | None) -> None:
        try:
            check_output(path, inputs=inputs, suffixes=suffixes, option=option)
            targets.append(path)
        except KpiError as exc:
            found.extend(exc.problems)

    if out is not None:
        check(out, "--out", (".xlsx",))
        if not found:
            check(manifest_path(out), "--out (manifest)", (".json",))
        if not found:
            from .headoffice.review import review_path

            check(review_path(out, catalog.fiscal_year, quarter), "--out (review)", (".xlsx",))
    into_target = None
    if into is not None:
        from .hq import default_output

        period = SimpleNamespace(fiscal_year=catalog.fiscal_year, quarter=quarter)
        into_target = Path(into_out) if into_out is not None else default_output(
            Path(into), period, out.parent if out is not None else None)  # type: ignore[arg-type]
        check(into_target, "--into", (".xlsx", ".xlsm"))
    if db is not None and (db_given or not found):
        from .history import sqlite_file

        db_file = sqlite_file(db)
        if db_file is not None:
            check(db_file, "--db", None)
            if targets and targets[-1] == db_file:
                targets.pop()  # a database is updated in place by transactions: it has no temp files
    if found:
        raise KpiError(found)
    started = dt.datetime.now().timestamp()
    for target in targets:
        clean_stale_temps(target, older_than=started - 1)
    return into_target


def manifest_path(out: Path) -> Path:
    return out.with_name(out.stem + ".manifest.json")


def _decide(subs: list[Submission], best: dict[int, Submission], by_district: dict[int, list[Submission]],
            catalog: Catalog) -> list[dict[str, Any]]:
    """Statuses per file and the consolidation problems (W501, W502, W503, E501)."""
    codes = [d.code for d in catalog.districts]
    extra: list[dict[str, Any]] = []
    for code, group in by_district.items():
        chosen = best[code]
        chosen.used = chosen.status.usable
        if len(group) > 1:
            others = sorted((s for s in group if s is not chosen), key=lambda s: s.file)
            note_th = f"ใช้แฟ้ม {chosen.file} ที่บันทึกล่าสุดแทน"  # one string for the whole group, not per file
            note_en = f"{chosen.file}, saved later, is used instead"
            for other in others:
                if other.status.usable:
                    other.status = Status.DUPLICATE
                other.note_th, other.note_en = note_th, note_en
            listed = ", ".join(o.file for o in others[:NOTE_FILES])
            more_th = f" และอีก {len(others) - NOTE_FILES} แฟ้ม" if len(others) > NOTE_FILES else ""
            more_en = f" and {len(others) - NOTE_FILES} more" if len(others) > NOTE_FILES else ""
            for sub in sorted(group, key=lambda s: s.file):
                if sub.claimed_reason and sub.modified is not None and sub.trusted_saved is not None:
                    future = sub.claimed_reason == "future"
                    extra.append(_flat(problem(
                        "KPI-W602", Location(file=sub.file), value=f"{sub.modified:%Y-%m-%d %H:%M} UTC",
                        expected=f"{sub.trusted_saved:%Y-%m-%d %H:%M} UTC",
                        reason_th="อยู่ในอนาคต" if future else "ห่างจากเวลาของแฟ้มเกิน 30 วัน",
                        reason_en="lies in the future" if future else "is more than 30 days from the file's own time",
                    )) | {"district_code": code})
                    sub.warnings += 1
            chosen.note_th = f"ส่งซ้ำ แฟ้มอื่น: {listed}{more_th}"
            chosen.note_en = f"duplicate; other files: {listed}{more_en}"
            extra.append(_flat(problem("KPI-W502", Location(file=chosen.file), value=_label(catalog, code),
                                       expected=chosen.file)) | {"district_code": code})
    for sub in subs:
        if sub.identified_by != "metadata":
            continue
        named = districts_in_name(Path(sub.file).name, codes)
        if named and sub.district_code not in named:
            value = ", ".join(_label(catalog, c) for c in sorted(named))
            extra.append(_flat(problem("KPI-W501", Location(file=sub.file), value=value,
                                       expected=_label(catalog, sub.district_code))) | {"district_code": sub.district_code})
            sub.warnings += 1
    # A file nobody can open may still be recognised by its name: tell head office whose it is.
    for sub in sorted(subs, key=lambda s: (s.saved or dt.datetime.min, s.file), reverse=True):
        if not sub.status.unreadable:
            continue
        named = districts_in_name(Path(sub.file).name, codes)
        if len(named) == 1:
            (code,) = named
            sub.district_code = code
            sub.identified_by = "file name"
            district = catalog.district(code)
            sub.district_name_th, sub.district_name_en = district.name_th, district.name_en
            if code not in best:
                best[code] = sub
    for code in codes:
        if code not in best:
            extra.append(_flat(problem("KPI-E501", Location(), value=_label(catalog, code))) | {"district_code": code})
    return extra


def _label(catalog: Catalog, code: int | None) -> str:
    if code is None:
        return "-"
    try:
        return f"{code} {catalog.district(code).name_th}"
    except KeyError:
        return str(code)


# ---------------------------------------------------------------------------------------------
# Frames


def _cell_order(cell: str | None) -> tuple[int, int]:
    if not cell:
        return (0, 0)
    m = re.fullmatch(r"\$?([A-Z]{1,3})\$?(\d+)", cell)
    if not m:
        return (0, 0)
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    return (int(m.group(2)), col)


def level_of(score: float | None) -> int | None:
    """The 0–5 level a score falls in (the whole part), for the distribution chart."""
    if score is None or (isinstance(score, float) and math.isnan(score)):
        return None
    return max(0, min(5, int(math.floor(score + 1e-9))))


def _frames(catalog: Catalog, quarter: int, inbox: Path, run_at: dt.datetime, subs: list[Submission],
            best: dict[int, Submission], groups: dict[int, int],
            extra: list[dict[str, Any]]) -> ConsolidationResult:
    import pandas as pd

    fy = catalog.fiscal_year
    subs = sorted(subs, key=lambda s: s.file)
    sub_rows = []
    for s in subs:
        sub_rows.append({
            "file": s.file, "district_code": s.district_code, "district_name_th": s.district_name_th,
            "district_name_en": s.district_name_en, "identified_by": s.identified_by,
            "fiscal_year": s.fiscal_year, "report_quarter": s.report_quarter,
            "saved": s.saved, "size": s.size, "sha256": s.sha256,
            "status": s.status.value, "status_th": s.status.th, "status_en": s.status.en,
            "used": s.used, "errors": s.errors, "warnings": s.warnings, "score": s.district_score,
            "catalog_hash": s.catalog_hash, "template_version": s.template_version,
            "note_th": s.note_th, "note_en": s.note_en,
        })
    sub_cols = ["file", "district_code", "district_name_th", "district_name_en", "identified_by", "fiscal_year",
                "report_quarter", "saved", "size", "sha256", "status", "status_th", "status_en", "used", "errors",
                "warnings", "score", "catalog_hash", "template_version", "note_th", "note_en"]
    submissions = _frame(pd, sub_rows, sub_cols)
    _ints(submissions, ["district_code", "fiscal_year", "report_quarter", "size", "errors", "warnings"])

    # Districts: one row each, in code order.
    dist_rows = []
    counts: dict[int, int] = {}
    for s in subs:
        if s.district_code is not None:
            counts[s.district_code] = counts.get(s.district_code, 0) + 1
    for d in sorted(catalog.districts, key=lambda d: d.code):
        chosen = best.get(d.code)
        status = Status.MISSING if chosen is None else chosen.status
        dist_rows.append({
            "district_code": d.code, "district_name_th": d.name_th, "district_name_en": d.name_en,
            "status": status.value, "status_th": status.th, "status_en": status.en,
            "file": chosen.file if chosen else None,
            "identified_by": chosen.identified_by if chosen else "",
            "saved": chosen.saved if chosen else None,
            "report_quarter": chosen.report_quarter if chosen else None,
            "files": counts.get(d.code, 0),
            "duplicate": groups.get(d.code, 0) > 1,
            "errors": chosen.errors if chosen else 0,
            "warnings": chosen.warnings if chosen else 0,
            "score": chosen.district_score if chosen and status.usable else None,
            "flagged": _flagged_count(chosen) if chosen and status.usable else 0,
            "note_th": chosen.note_th if chosen else "", "note_en": chosen.note_en if chosen else "",
            **_signoff_columns(chosen.signoff if chosen else None, quarter),
        })
    _rank(dist_rows)
    for row in dist_rows:  # a rank among districts whose data still has errors is marked
        row["rank_marked"] = row["rank"] is not None and row["status"] == Status.WITH_ERRORS.value
    dist_cols = ["district_code", "district_name_th", "district_name_en", "status", "status_th", "status_en",
                 "file", "identified_by", "saved", "report_quarter", "files", "duplicate", "errors", "warnings",
                 "score", "rank", "prev_quarter_score", "prev_year_score", "note_th", "note_en", "flagged",
                 "rank_marked", "signoff", "signoff_quarter", "signoff_signer", "signoff_time", "signoff_changed",
                 "signoff_th", "signoff_en"]
    for row in dist_rows:
        row["prev_quarter_score"] = None
        row["prev_year_score"] = None
    districts = _frame(pd, dist_rows, dist_cols)
    # Ranks stay Python ints (None when unranked) so printing them never shows "3.0".
    districts["rank"] = pd.Series([r["rank"] for r in dist_rows], dtype=object)
    _ints(districts, ["report_quarter"])

    # Scores: district × applicable indicator, every field, long form (the pivot-ready sheet).
    field_names = _field_names()
    score_rows = []
    status_of = {r["district_code"]: r for r in dist_rows}
    for d in sorted(catalog.districts, key=lambda d: d.code):
        chosen = best.get(d.code)
        values = {}
        if chosen is not None and chosen.status.usable and chosen.indicators is not None:
            values = {i["code"]: i for i in chosen.indicators}
        row_status = status_of[d.code]
        for ind in catalog.for_district(d.code):
            got = values.get(ind.code, {})
            score = got.get("score")
            row = {
                "fiscal_year": fy, "quarter": quarter,
                "district_code": d.code, "district_name_th": d.name_th, "district_name_en": d.name_en,
                "status": row_status["status"], "status_th": row_status["status_th"],
                "indicator_code": ind.code, "indicator_name_th": ind.name_th, "dimension": ind.dimension,
                "kind": ind.kind.value, "scoring": ind.scoring.value, "weight": ind.weight, "target": ind.target, "unit": ind.unit,
                "direction": ind.direction.value,
                "year_value": got.get("year_value"), "score": score,
                "level": level_of(score),
                "target_met": got.get("target_met"),
                "explanation_th": got.get("explanation_th", ""),
                "flagged": bool(got.get("flagged_cells")),
                "flagged_cells": ", ".join(got.get("flagged_cells") or []) or None,
                "value_source": got.get("value_source"),
                "typed_difference": got.get("typed_difference"),
                "counted": got.get("counted", True) if got else None,
                "content_hash": got.get("content_hash"),
            }
            fields = got.get("fields", {})
            for name in field_names:
                row[name] = fields.get(name)
            score_rows.append(row)
    score_cols = ["fiscal_year", "quarter", "district_code", "district_name_th", "district_name_en", "status",
                  "status_th", "indicator_code", "indicator_name_th", "dimension", "kind", "scoring", "weight", "target",
                  "unit", "direction", "year_value", "score", "level", "target_met", "explanation_th", "flagged",
                  "flagged_cells", "value_source", "typed_difference", "counted", "content_hash", *field_names]
    scores = _frame(pd, score_rows, score_cols)
    _ints(scores, ["level"])
    for kind in Kind:  # the district score per KPI kind, beside the overall one
        by_district = _kind_scores(score_rows, kind, catalog.error_scores)
        districts[f"score_{kind.value}"] = [by_district.get(code) for code in districts["district_code"]]

    # Indicators.
    ind_rows = []
    for ind in catalog.indicators:
        part = [r for r in score_rows if r["indicator_code"] == ind.code]
        usable = [r for r in part if Status(r["status"]).usable]
        scored = [r["score"] for r in usable if r["score"] is not None]
        met = [r for r in usable if r["target_met"] is not None]
        row = {
            "indicator_code": ind.code, "indicator_name_th": ind.name_th, "indicator_name_en": ind.name_en,
            "dimension": ind.dimension, "kind": ind.kind.value, "scoring": ind.scoring.value, "weight": ind.weight,
            "target": ind.target,
            "unit": ind.unit, "direction": ind.direction.value,
            "districts_applicable": len(part), "districts_reporting": len(scored),
            "mean_score": _round(math.fsum(scored) / len(scored)) if scored else None,
            "min_score": min(scored) if scored else None,
            "max_score": max(scored) if scored else None,
            "met": sum(1 for r in met if r["target_met"]),
            "met_share": (sum(1 for r in met if r["target_met"]) / len(met)) if met else None,
            "flagged": sum(1 for r in usable if r["flagged"]),
        }
        for level in range(6):
            row[f"level_{level}"] = sum(1 for r in usable if r["level"] == level)
        ind_rows.append(row)
    ind_cols = ["indicator_code", "indicator_name_th", "indicator_name_en", "dimension", "kind", "scoring", "weight",
                "target", "unit", "direction", "districts_applicable", "districts_reporting", "mean_score",
                "min_score", "max_score", "met", "met_share", *[f"level_{n}" for n in range(6)], "flagged"]
    indicators = _frame(pd, ind_rows, ind_cols)

    # Problems: the used files' own, the unusable files' reasons, and the consolidation ones.
    names = {d.code: d for d in catalog.districts}
    prob_rows = []
    for s in subs:
        for p in s.problems:
            prob_rows.append(p | {"district_code": s.district_code})
    prob_rows.extend(extra)
    for p in prob_rows:
        d = names.get(p.get("district_code")) if p.get("district_code") is not None else None
        p["district_name_th"] = d.name_th if d else None
    prob_rows.sort(key=lambda p: (p["district_code"] if p["district_code"] is not None else 1 << 30,
                                  p["file"] or "", _sheet_order(catalog, p["sheet"]), _cell_order(p["cell"]),
                                  p["code"], p["message_th"]))
    prob_cols = ["district_code", "district_name_th", "file", "sheet", "cell", "name", "code", "severity",
                 "message_th", "message_en"]
    problems_frame = _frame(pd, prob_rows, prob_cols)
    _ints(problems_frame, ["district_code"])

    manifest = submissions[["file", "size", "sha256", "status", "status_th", "status_en", "district_code",
                            "used", "saved"]].copy()
    return ConsolidationResult(
        fiscal_year=fy, quarter=quarter, catalog_hash=catalog.content_hash, catalog_title_th=catalog.title_th,
        inbox=inbox, run_at=run_at, submissions=submissions, districts=districts, scores=scores,
        indicators=indicators, problems=problems_frame, manifest=manifest,
        error_scores=catalog.error_scores.value,
    )


def _signoff_columns(found: dict[str, Any] | None, quarter: int) -> dict[str, Any]:
    """The district's sign-off as the summary and history show it (kpi_xl.signoff.describe)."""
    from .model import SignoffState
    from .signoff import describe

    if found is None:
        return {"signoff": None, "signoff_quarter": None, "signoff_signer": None, "signoff_time": None,
                "signoff_changed": None, "signoff_th": "", "signoff_en": ""}
    state = SignoffState.model_validate(found)
    th, en = describe(state, quarter)
    return {"signoff": state.state, "signoff_quarter": state.quarter, "signoff_signer": state.signer or None,
            "signoff_time": state.time or None, "signoff_changed": ", ".join(state.changed) or None,
            "signoff_th": th, "signoff_en": en}


def _kind_scores(rows: list[dict[str, Any]], kind: Kind, rule: ErrorScores) -> dict[int, float | None]:
    """Weighted score of one KPI kind per district (weights rescaled within the kind), by the same
    rule as the overall score: a missing score counts 0, a flagged one as the catalog's rule says."""
    from .scoring import district_score

    pairs: dict[int, list[tuple[float, float | None]]] = {}
    for r in rows:
        if r["kind"] != kind.value or not Status(r["status"]).usable:
            continue
        if r["flagged"] and rule is ErrorScores.EXCLUDED:
            continue
        pairs.setdefault(r["district_code"], []).append(
            (r["weight"], 0.0 if r["flagged"] and rule is ErrorScores.ZERO else r["score"]))
    return {code: district_score(items) for code, items in pairs.items()}


def _flagged_count(sub: Submission) -> int:
    """How many of the district's scores rest on a cell with an error."""
    return sum(1 for i in sub.indicators or [] if i.get("flagged_cells"))


def _sheet_order(catalog: Catalog, sheet: str | None) -> tuple[int, str]:
    if not sheet:
        return (-1, "")
    codes = [i.code for i in catalog.indicators]
    return (codes.index(sheet) if sheet in codes else len(codes), sheet)


def _round(x: float) -> float:
    from .scoring import round2

    return round2(x)


def _rank(rows: list[dict[str, Any]]) -> None:
    """Competition ranking ("1, 2, 2, 4") by weighted score, highest first; no score, no rank."""
    scored = sorted((r for r in rows if r["score"] is not None), key=lambda r: (-r["score"], r["district_code"]))
    previous, rank = None, 0
    for position, row in enumerate(scored, start=1):
        if row["score"] != previous:
            rank, previous = position, row["score"]
        row["rank"] = rank
    for row in rows:
        row.setdefault("rank", None)


@cache
def _field_names() -> list[str]:
    from .form import load_spec

    spec = load_spec()
    return [name for name, f in spec.fields.items() if f.is_input]


def _frame(pd: Any, rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """Text columns stay Python objects so a blank is ``None``, not pandas' NaN; others are inferred."""
    data = {}
    for column in columns:
        values = [row.get(column) for row in rows]
        text = all(v is None or isinstance(v, str) for v in values)
        data[column] = pd.Series(values, dtype=object) if text else pd.Series(values)
    return pd.DataFrame(data, columns=columns)


def _ints(frame: pd.DataFrame, columns: list[str]) -> None:
    """Whole-number columns with gaps as nullable integers (1030, not 1030.0)."""
    for column in columns:
        frame[column] = frame[column].astype("Int64")
