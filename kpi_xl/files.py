"""Atomic output and read-only input: the two promises every command keeps.

A run killed half-way must leave the previous output intact, so everything is written to a temp
file in the target's folder (same file system) and renamed over the target in one step.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: Path, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temp path beside ``target``; on success it replaces ``target`` atomically."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not overwrite and target.exists():
        raise FileExistsError(target)
    fd, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=target.suffix + ".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        if tmp.exists():  # mkstemp makes 0600; outputs go to shared drives, so honour the umask instead
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(target: Path, data: bytes) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return target


def atomic_write_text(target: Path, text: str) -> Path:
    return atomic_write_bytes(target, text.encode("utf-8"))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# Outputs checked before any work


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_output(
    path: str | Path,
    *,
    inputs: Iterable[str | Path] = (),
    suffixes: tuple[str, ...] | None = (".xlsx",),
    option: str = "--out",
) -> Path:
    """Refuse an output that would destroy an input or fail only after the whole batch ran.

    Checked, symlinks resolved: not a folder, the right suffix, not one of ``inputs`` and not inside
    an input folder (the inbox being read), its folder exists and a file can really be created there
    (a probe file, not ``os.access``, which says yes to root on a read-only share). Raises
    :class:`~kpi_xl.problems.KpiError` with the first problem, worst first; returns the path.
    """
    from .problems import KpiError, Location, problem

    path = Path(path)
    where = Location()
    resolved = path.resolve()
    for item in inputs:  # the worst mistake first, alone: one clear message
        source = Path(item).resolve()
        if resolved == source or (source.is_dir() and _inside(resolved, source) and resolved.is_file()):
            raise KpiError([problem("KPI-E601", where, option=option, path=str(path))])
        if source.is_dir() and _inside(resolved, source):
            raise KpiError([problem("KPI-E602", where, option=option, path=str(path), folder=str(item))])
    if path.is_dir():
        raise KpiError([problem("KPI-E604", where, option=option, path=str(path),
                                example=str(path / ("summary.xlsx" if suffixes else "kpi_history.sqlite")))])
    if suffixes and path.suffix.lower() not in suffixes:
        raise KpiError([problem("KPI-E603", where, option=option, path=str(path), expected=", ".join(suffixes))])
    folder = resolved.parent
    if not folder.is_dir():
        raise KpiError([problem("KPI-E605", where, option=option, path=str(path), folder=str(path.parent))])
    try:
        fd, probe = tempfile.mkstemp(prefix=".kpi-xl-probe.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise KpiError([problem("KPI-E606", where, option=option, path=str(path), folder=str(path.parent),
                                detail=exc.strerror or type(exc).__name__)]) from None
    return path


def check_output_folder(folder: str | Path, *, inputs: Iterable[str | Path] = (), option: str = "--out") -> Path:
    """A folder that will receive many files (``build --out``): not a file, not an input, and the
    nearest existing folder on its way is writable (the folder itself may still be created)."""
    from .problems import KpiError, Location, problem

    folder = Path(folder)
    where = Location()
    if folder.exists() and not folder.is_dir():
        raise KpiError([problem("KPI-E607", where, option=option, path=str(folder))])
    resolved = folder.resolve()
    for item in inputs:
        if resolved == Path(item).resolve():
            raise KpiError([problem("KPI-E601", where, option=option, path=str(folder))])
    existing = resolved
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise KpiError([problem("KPI-E607", where, option=option, path=str(existing))])
    try:
        fd, probe = tempfile.mkstemp(prefix=".kpi-xl-probe.", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise KpiError([problem("KPI-E606", where, option=option, path=str(folder), folder=str(existing),
                                detail=exc.strerror or type(exc).__name__)]) from None
    return folder


def annotate_targets(annotate: str | Path, files: list[Path], *, option: str = "--annotate") -> list[Path]:
    """Where each marked copy of ``validate --annotate`` goes, every one checked before any work.

    One input and a file name: that file (the input's own suffix, so macros stay in an .xlsm).
    Otherwise a folder (it may be created, one level) receiving ``<stem>_checked<suffix>`` per input.
    An existing file is never replaced — it may be a district's workbook typed by mistake (KPI-E608),
    and neither is an input, nor a copy another input of the same command would also write."""
    from .problems import KpiError, Location, problem

    annotate = Path(annotate)
    where = Location()
    if len(files) == 1 and annotate.suffix and not annotate.is_dir():
        targets = [check_output(annotate, inputs=files, suffixes=(files[0].suffix.lower(),), option=option)]
    else:
        if annotate.exists() and not annotate.is_dir():
            raise KpiError([problem("KPI-E607", where, option=option, path=str(annotate))])
        if not annotate.exists() and not annotate.resolve().parent.is_dir():
            raise KpiError([problem("KPI-E605", where, option=option, path=str(annotate),
                                    folder=str(annotate.parent))])
        check_output_folder(annotate, inputs=files, option=option)
        targets = [annotate / f"{f.stem}_checked{f.suffix}" for f in files]
    sources = {f.resolve() for f in files}
    seen: set[Path] = set()
    for target in targets:
        resolved = target.resolve()
        if resolved in sources:
            raise KpiError([problem("KPI-E601", where, option=option, path=str(target))])
        if target.exists() or resolved in seen:
            raise KpiError([problem("KPI-E608", where, option=option, path=str(target))])
        seen.add(resolved)
    return targets


def stale_temps(target: str | Path, *, older_than: float) -> list[Path]:
    """Temp files :func:`atomic_path` left beside ``target`` when a run was killed.

    Only our exact pattern (``.<stem>.<8 mkstemp characters><suffix>.tmp``) and only files older than
    ``older_than`` (a timestamp: this run's start), so a run going on in parallel keeps its own.
    """
    target = Path(target)
    pattern = re.compile(rf"\.{re.escape(target.stem)}\.[a-z0-9_]{{8}}{re.escape(target.suffix)}\.tmp")
    found = []
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return []
    for entry in entries:
        if not pattern.fullmatch(entry.name) or entry.is_symlink() or not entry.is_file():
            continue
        try:
            if entry.stat().st_mtime < older_than:
                found.append(entry)
        except OSError:
            continue
    return sorted(found)


def clean_stale_temps(target: str | Path, *, older_than: float) -> list[Path]:
    """Delete what :func:`stale_temps` finds; returns what was removed."""
    removed = []
    for path in stale_temps(target, older_than=older_than):
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path)
    return removed
