"""Usage errors come in Thai and English (English only with ``--lang en``), with the command's usage
line, exit code 2 and no traceback: run through the real entry point, as a person types them."""

from __future__ import annotations

import subprocess
import sys

import pytest


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kpi_xl", *args], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize(
    ("args", "thai", "english"),
    [
        (("consolidate", "inbox"), "ขาดตัวเลือกที่ต้องระบุ: --catalog", "Missing option '--catalog'"),
        (("consolidate", "inbox", "--catalog", "c.yaml", "--quarter", "5"), "ค่าของ --quarter ต้องไม่เกิน 4",
         "Invalid value for '--quarter'"),
        (("consolidat",), "ไม่มีคำสั่ง 'consolidat' — หมายถึง 'consolidate' หรือไม่", "No such command 'consolidat'"),
        (("validate", "--bogus", "x"), "ไม่มีตัวเลือก --bogus", "No such option: --bogus"),
        (("history", "--district", "abc"), "ค่าของ --district ต้องเป็นจำนวนเต็ม", "Invalid value for '--district'"),
        (("validate",), "ขาดอาร์กิวเมนต์ที่ต้องระบุ: FILES", "Missing argument 'files'"),
    ],
)
def test_usage_errors_are_bilingual(args: tuple[str, ...], thai: str, english: str) -> None:
    done = run(*args)
    assert done.returncode == 2, done.stderr
    first = done.stderr.splitlines()[0]
    assert first.startswith(thai) and english in first, first
    assert "วิธีใช้ / Usage: kpi-xl" in done.stderr
    assert "Traceback" not in done.stderr and "=True" not in done.stderr


def test_lang_en_switches_usage_errors_to_english() -> None:
    done = run("validate", "--lang", "en")
    assert done.returncode == 2
    assert done.stderr.splitlines()[0] == "Missing argument 'files'."
    assert not any("\u0e00" <= ch <= "\u0e7f" for ch in done.stderr), done.stderr


def test_piped_output_is_not_wrapped() -> None:
    """A long message piped to a file stays on one line, so the commands it names can be copied."""
    done = run("consolidate", "x" * 150, "--catalog", "c.yaml", "--quarter", "9")
    assert done.returncode == 2
    assert max(len(line) for line in done.stderr.splitlines()) > 80
