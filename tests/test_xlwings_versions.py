"""The button on the xlwings releases the package allows, with the real released packages.

``pyproject.toml`` allows ``xlwings>=0.33`` while the button is tested end to end on the pinned
release (tests/test_excel.py). Here the oldest allowed release (0.33.0) and the last one without
``Range.add_note`` (0.37.4) are downloaded from PyPI as wheels (no dependencies: they run on this
venv's packages), put first on ``sys.path`` of a fresh Python, and the button's code runs on their
remote engine: every xlwings member it uses exists, notes take the COM fallback path, and (0.37.4)
reading gives the same cells as on the pinned release and the version warning fires. 0.33.0's remote
engine lacks ``Sheet.used_range`` (its API and COM have it), so there the run stops at reading. What the remote engine
cannot show — the COM call itself — is on the Windows checklist in docs/it-guide.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")

import xlwings as xw  # noqa: E402

from kpi_xl import excel, fill, xlcompat  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OLD = ("0.33.0", "0.37.4")

PROBE = r"""
import json, os, sys
os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")
import xlwings as xw
from kpi_xl import excel, xlcompat
book = xw.Book(json=excel.remote_payload(sys.argv[1]))
seen = {"version": xw.__version__, "file": xw.__file__, "missing": xlcompat.missing_members(xw),
        "fallbacks": xlcompat.fallbacks_in_use(xw)}
try:
    xlcompat.add_note(book.sheets["KPI-01"].range("B2"), "x")
    seen["note"] = "xlwings"
except NotImplementedError as exc:
    seen["note"] = "com: " + str(exc)
try:  # the remote engine of old releases lacks some members desktop Excel (COM) has had for years
    raw = excel.read_book(book)
    seen["cells"] = {s: {n: repr(c.raw) for n, c in named.items()} for s, named in raw.sheets.items()}
    seen["warned"] = excel.warn_version(book)
except NotImplementedError as exc:
    seen["remote_gap"] = "".join(__import__("traceback").format_exception(exc)[-2:])
seen["actions"] = [a["func"] for a in book.json()["actions"]]
print(json.dumps(seen))
"""


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """version → folder holding that release's unpacked wheel (PyPI, this platform)."""
    out = tmp_path_factory.mktemp("xlwings-old")
    for version in OLD:  # one call per version: pip resolves requirements together and refuses two
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
                        "-d", str(out), f"xlwings=={version}"], check=True, timeout=300)
    folders = {}
    for version in OLD:
        wheel, = out.glob(f"xlwings-{version}-*.whl")
        folder = out / version
        with zipfile.ZipFile(wheel) as package:
            package.extractall(folder)
        folders[version] = folder
    return folders


@pytest.fixture(scope="module")
def wrong(chatuchak_workbook: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    values = {"KPI-01": {"q1_value": "สิบ", "q2_value": 100}, "KPI-03": {"q1_value": 700, "q2_value": 650}}
    return fill.fill_workbook(chatuchak_workbook, tmp_path_factory.mktemp("versions") / "wrong.xlsm",
                              values=values, report_quarter=2)


@pytest.mark.parametrize("version", OLD)
def test_button_code_on_an_older_released_xlwings(version: str, wheels: dict[str, Path], wrong: Path,
                                                  tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(wheels[version]), str(ROOT)]),
           excel.LOG_ENV: str(tmp_path / "logs")}
    done = subprocess.run([sys.executable, "-c", PROBE, str(wrong)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["version"] == version and seen["file"].startswith(str(wheels[version]))
    assert seen["missing"] == []
    assert seen["fallbacks"] == ["Range.add_note → Range.api.AddComment(text) (COM, Excel 97+)"]
    assert seen["note"].startswith("com: Range.AddComment is not available")  # the fallback was taken
    if version == "0.33.0":
        # 0.33.0's *remote engine* (not its API) lacks Sheet.used_range, which COM has always had: the
        # rest of the button cannot run on this engine; on a desktop it runs through COM (checklist).
        assert "used_range" in seen["remote_gap"] and "base_classes.py" in seen["remote_gap"]
        assert seen["actions"] == []
        return
    # Reading is the same on the old release as on the pinned one.
    raw = excel.read_book(xw.Book(json=excel.remote_payload(wrong)))
    assert seen["cells"] == {s: {n: repr(c.raw) for n, c in named.items()} for s, named in raw.sheets.items()}
    # The workbook was built with the pinned xlwings: the clerk is told, first and only that.
    assert seen["actions"] == ["alert"]
    assert f"เครื่องนี้ติดตั้ง xlwings รุ่น {version} แต่แฟ้มนี้สร้างด้วย xlwings รุ่น {xlcompat.PINNED}" in seen["warned"]


def test_add_note_is_where_the_compat_table_says() -> None:
    """The pinned release has Range.add_note; the version constants are in order."""
    assert xw.__version__ == xlcompat.PINNED
    assert hasattr(xw.Range, "add_note")
    floor, since, pinned = (xlcompat.version_tuple(v) for v in (xlcompat.MINIMUM, xlcompat.ADD_NOTE_SINCE,
                                                                 xlcompat.PINNED))
    assert floor < since <= pinned
    assert all(xlcompat.version_tuple(v) < since for v in OLD)


def test_pyproject_allows_the_floor_and_pins_the_tested_release() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert f'"xlwings>={xlcompat.MINIMUM.rsplit(".", 1)[0]}"' in text
    assert f"xlwings=={xlcompat.PINNED}" in text
