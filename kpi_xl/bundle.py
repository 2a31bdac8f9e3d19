"""An offline installer for district PCs: a wheelhouse, an install script, and a completeness check.

Government PCs often cannot reach a package index, so IT carries one folder to each office::

    kpi-xl-bundle/
      wheels/        kpi-xl's wheel (built here) and every dependency, for Windows x64 and
                     CPython 3.11, 3.12 and 3.13 side by side (pip picks what fits the PC)
      install.cmd    makes %LOCALAPPDATA%\\kpi_xl\\venv, installs with --no-index, runs kpi-xl doctor
      install.sh     the same steps for Linux/macOS (CI runs them offline, see tests/test_bundle.py)
      bundle.json    what is inside: targets, files with SHA-256, the pinned xlwings

Why a check of our own after ``pip download``: pip evaluates environment markers against the
Python running it, not the ``--platform`` it downloads for, so on a Linux head-office machine
``pywin32; sys_platform == 'win32'`` (our ``windows`` extra) and ``colorama; platform_system ==
'Windows'`` (click's) are silently skipped. :func:`unresolved` walks every wheel's
``Requires-Dist`` with the *target's* markers and wheel tags, and :func:`bundle` downloads whatever
is missing until the wheelhouse resolves completely or nothing more can be found.

The venv lives in ``%LOCALAPPDATA%\\kpi_xl\\venv`` (no admin rights needed), whose
``Scripts\\python.exe`` is the interpreter the workbooks name by default (``template.DEFAULT_INTERPRETER``).
"""

from __future__ import annotations

import email.parser
import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the source tree kpi-xl's wheel is built from
SUPPORTED_PYTHONS = ("3.11", "3.12", "3.13")
WINDOWS_X64 = "win_amd64"
REQUIREMENT = "kpi-xl[windows]"
WHEELS = "wheels"


@dataclass(frozen=True, slots=True)
class Target:
    """A PC the wheelhouse is for: CPython ``python`` on ``platform`` (None: this machine)."""

    python: str
    platform: str | None = WINDOWS_X64

    @property
    def label(self) -> str:
        return f"cp{self.python.replace('.', '')}-{self.platform or 'this-machine'}"

    def environment(self) -> dict[str, str]:
        """PEP 508 marker values of the target PC (this machine's when ``platform`` is None)."""
        from packaging.markers import default_environment

        env = dict(default_environment())
        env.update(python_version=self.python, python_full_version=f"{self.python}.0")
        if self.platform == WINDOWS_X64:
            env.update(sys_platform="win32", platform_system="Windows", os_name="nt", platform_machine="AMD64",
                       implementation_name="cpython", platform_python_implementation="CPython")
        return env

    def tags(self) -> set[object]:
        from packaging import tags

        if self.platform is None:
            return set(tags.sys_tags())
        version = tuple(int(p) for p in self.python.split("."))
        return {*tags.cpython_tags(python_version=version, platforms=[self.platform]),
                *tags.compatible_tags(python_version=version, interpreter=f"cp{self.python.replace('.', '')}",
                                      platforms=[self.platform])}

    def pip_args(self) -> list[str]:
        if self.platform is None:
            return ["--only-binary=:all:"]
        return ["--only-binary=:all:", "--platform", self.platform, "--python-version", self.python,
                "--implementation", "cp"]


def windows_targets(pythons: Iterable[str] = SUPPORTED_PYTHONS) -> list[Target]:
    return [Target(p, WINDOWS_X64) for p in pythons]


def this_machine() -> Target:
    return Target(f"{sys.version_info.major}.{sys.version_info.minor}", None)


@dataclass
class BundleReport:
    """What :func:`bundle` made, and what could not be resolved per target (empty: complete)."""

    out: Path
    wheels: list[Path] = field(default_factory=list)
    unresolved: dict[str, list[str]] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not any(self.unresolved.values())


# ---------------------------------------------------------------------------------------------
# Building and downloading (pip does the work; its output goes to the log on failure).


def _pip(args: Sequence[str], *, timeout: float = 900) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", *args, "--disable-pip-version-check"],
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise RuntimeError(f"pip {' '.join(args[:2])} failed / pip ทำงานไม่สำเร็จ:\n{tail}")


def build_wheel(dest: Path, source: Path = ROOT) -> Path:
    """kpi-xl's own wheel, built from ``source`` (pip's isolated build: needs setuptools once)."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kpi-wheel-") as tmp:
        _pip(["wheel", "--no-deps", "-q", "-w", tmp, str(source)])
        built, = Path(tmp).glob("kpi_xl-*.whl")
        target = dest / built.name
        target.write_bytes(built.read_bytes())
    return target


def download(wheelhouse: Path, target: Target, requirements: Sequence[str]) -> None:
    """``pip download`` of ``requirements`` and their dependencies, as wheels for ``target``."""
    _pip(["download", "-q", "-d", str(wheelhouse), *target.pip_args(), "--find-links", str(wheelhouse),
          *requirements])


# ---------------------------------------------------------------------------------------------
# The completeness check: every requirement, with the target's markers, has a fitting wheel.


@dataclass(frozen=True, slots=True)
class _Wheel:
    path: Path
    name: str
    version: object
    tags: frozenset[object]


def _wheels(wheelhouse: Path) -> list[_Wheel]:
    from packaging.utils import parse_wheel_filename

    out = []
    for path in sorted(wheelhouse.glob("*.whl")):
        name, version, _build, tags = parse_wheel_filename(path.name)
        out.append(_Wheel(path, name, version, frozenset(tags)))
    return out


def _requires(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as package:
        meta = next(n for n in package.namelist() if n.endswith(".dist-info/METADATA") and n.count("/") == 1)
        message = email.parser.Parser().parsestr(package.read(meta).decode("utf-8"))
    return message.get_all("Requires-Dist") or []


def unresolved(wheelhouse: Path, target: Target, root: str = REQUIREMENT) -> list[str]:
    """Requirements (as text, with who needs them) that no wheel in ``wheelhouse`` satisfies for
    ``target``; empty when ``pip install --no-index --find-links`` will find everything."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    env, tags = target.environment(), target.tags()
    by_name: dict[str, list[_Wheel]] = {}
    for wheel in _wheels(wheelhouse):
        if wheel.tags & tags:
            by_name.setdefault(canonicalize_name(wheel.name), []).append(wheel)
    missing: list[str] = []
    seen: set[tuple[str, frozenset[str]]] = set()
    todo: list[tuple[Requirement, str]] = [(Requirement(root), "(bundle)")]
    while todo:
        req, needed_by = todo.pop()
        name = canonicalize_name(req.name)
        fitting = [w for w in by_name.get(name, []) if req.specifier.contains(w.version, prereleases=True)]
        if not fitting:
            missing.append(f"{req} (needed by {needed_by})")
            continue
        key = (name, frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        best = max(fitting, key=lambda w: w.version)
        for text in _requires(best.path):
            dep = Requirement(text)
            wanted = dep.marker is None or any(dep.marker.evaluate({**env, "extra": extra})
                                               for extra in ("", *req.extras))
            if wanted:
                todo.append((dep, f"{best.name} {best.version}"))
    return sorted(set(missing))


def _bare(requirement: str) -> str:
    """``pywin32; sys_platform == 'win32' (needed by …)`` → ``pywin32`` for an explicit download."""
    from packaging.requirements import Requirement

    req = Requirement(requirement.split(" (needed by ", 1)[0])
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    return f"{req.name}{extras}{req.specifier}"


def fill_wheelhouse(wheelhouse: Path, target: Target, roots: Sequence[str], *, rounds: int = 4) -> list[str]:
    """Download for ``target`` until the check passes; returns what is still unresolved."""
    download(wheelhouse, target, roots)
    missing = unresolved(wheelhouse, target)
    for _ in range(rounds):
        if not missing:
            break
        download(wheelhouse, target, sorted({_bare(m) for m in missing}))
        again = unresolved(wheelhouse, target)
        if again == missing:
            break
        missing = again
    return missing


# ---------------------------------------------------------------------------------------------
# The install scripts and the bundle.

INSTALL_CMD = r"""@echo off
rem kpi-xl offline install: a venv under %LOCALAPPDATA%\kpi_xl, packages from .\wheels only.
rem ติดตั้ง kpi-xl แบบไม่ใช้อินเทอร์เน็ต (สร้าง venv ใน %LOCALAPPDATA%\kpi_xl แล้วตรวจตัวเอง)
chcp 65001 >nul
setlocal
if not defined KPI_XL_HOME set "KPI_XL_HOME=%LOCALAPPDATA%\kpi_xl"
set "HERE=%~dp0"
set "PY="
for %%V in (3.13 3.12 3.11) do (
  if not defined PY py -%%V -c "import sys" >nul 2>&1 && set "PY=py -%%V"
)
if not defined PY (
  python -c "import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] <= (3, 13) else 1)" >nul 2>&1 && set "PY=python"
)
if not defined PY (
  echo ไม่พบ Python 3.11-3.13 ในเครื่องนี้ ให้ติดตั้ง Python จาก python.org ^(แบบ for me only^) ก่อน
  echo No Python 3.11-3.13 found: install Python from python.org ^(for me only^) first.
  exit /b 1
)
echo Python: %PY%
%PY% -m venv "%KPI_XL_HOME%\venv" || goto failed
"%KPI_XL_HOME%\venv\Scripts\python.exe" -m pip install --no-index --find-links "%HERE%wheels" --upgrade "kpi-xl[windows]" || goto failed
rem Run the check from the venv's folder: "python -m" looks in the current folder first.
cd /d "%KPI_XL_HOME%"
"%KPI_XL_HOME%\venv\Scripts\python.exe" -m kpi_xl doctor || goto failed
echo ติดตั้งเสร็จ / Installed: %KPI_XL_HOME%\venv\Scripts\python.exe
exit /b 0
:failed
echo ติดตั้งไม่สำเร็จ ส่งข้อความบนจอนี้ให้ส่วนกลาง / Install failed: send this screen to head office.
exit /b 1
"""

INSTALL_SH = """#!/bin/sh
# kpi-xl offline install (Linux/macOS; the Windows steps are install.cmd): a venv, packages from ./wheels only.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
KPI_XL_HOME="${KPI_XL_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/kpi_xl}"
PY="${PYTHON:-python3}"
"$PY" -m venv "$KPI_XL_HOME/venv"
"$KPI_XL_HOME/venv/bin/python" -m pip install --no-index --find-links "$HERE/wheels" --upgrade "kpi-xl[windows]"
cd "$KPI_XL_HOME"  # "python -m" looks in the current folder first: check the installed package
"$KPI_XL_HOME/venv/bin/python" -m kpi_xl doctor
echo "Installed / ติดตั้งเสร็จ: $KPI_XL_HOME/venv/bin/python"
"""


def write_scripts(out: Path) -> list[Path]:
    """install.cmd (CRLF, UTF-8 for ``chcp 65001``) and install.sh (LF, executable)."""
    cmd, sh = out / "install.cmd", out / "install.sh"
    cmd.write_bytes(INSTALL_CMD.replace("\n", "\r\n").encode("utf-8"))
    sh.write_text(INSTALL_SH, encoding="utf-8", newline="\n")
    sh.chmod(0o755)
    return [cmd, sh]


def bundle(out: Path, targets: Sequence[Target] | None = None, *, source: Path = ROOT) -> BundleReport:
    """Build kpi-xl's wheel, fill ``out/wheels`` for every target, write the scripts and manifest."""
    from . import __version__
    from .xlcompat import PINNED

    targets = list(targets) if targets is not None else windows_targets()
    wheelhouse = out / WHEELS
    own = build_wheel(wheelhouse, source)
    report = BundleReport(out=out)
    for target in targets:
        report.unresolved[target.label] = fill_wheelhouse(wheelhouse, target, [f"{own}[windows]"])
    scripts = write_scripts(out)
    report.wheels = sorted(wheelhouse.glob("*.whl"))
    manifest = {
        "kpi_xl": __version__,
        "xlwings_pinned": PINNED,
        "requirement": REQUIREMENT,
        "targets": [t.label for t in targets],
        "unresolved": report.unresolved,
        "files": {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
                  for p in [*report.wheels, *scripts]},
    }
    (out / "bundle.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return report
