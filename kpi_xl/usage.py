"""Usage errors (a missing option, ``--quarter 5``, an unknown command) in Thai and English.

click, under typer, words these in English only and draws them in a box sized to the terminal;
the clerks and analysts who type kpi-xl commands read Thai first, and a message piped into a log
must not be cut by a box. So the command runs in click's non-standalone mode and every usage error
arrives here as an exception object, whose *fields* (which option, which value, which command,
which alternatives) are turned into one bilingual message. The English half keeps click's own
words, so anything not recognised below still reads correctly.
"""

from __future__ import annotations

import re

try:  # typer ≥ 0.25 carries its own copy of click; older typer uses click itself
    from typer._click import exceptions as click
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import exceptions as click  # type: ignore[no-redef]

__all__ = ["click", "usage_message"]

_RANGE = re.compile(r"^'?(?P<value>[^']*?)'? is not in the range (?P<range>.+?)\.?$")
_NOT_INT = re.compile(r"^(?:'?(?P<value>[^']*?)'? is not a valid integer|Input should be a valid integer.*)$")
_NO_COMMAND = re.compile(r"^No such command '(?P<name>[^']+)'\.?(?: Did you mean '(?P<near>[^']+)'\?)?$")
_EXTRA = re.compile(r"^Got unexpected extra arguments? \((?P<args>.*)\)$")
_BOUND = re.compile(r"^Input should be (?P<side>less|greater) than(?P<equal> or equal to)? (?P<bound>\S+?)\.?$")
_PATH = re.compile(r"^(?:File|Path|Directory) '(?P<path>[^']*)' does not exist\.?$")


def _hint(error: click.UsageError) -> str:
    param = getattr(error, "param", None)
    if param is None:
        return getattr(error, "param_hint", None) or ""
    opts = [o for o in getattr(param, "opts", []) if o.startswith("--")] or list(getattr(param, "opts", []))
    if param.param_type_name == "argument":
        return (getattr(param, "human_readable_name", None) or param.name or "").upper()
    return " / ".join(opts) or param.name or ""


def _range_th(text: str) -> str:
    """``1<=x<=4`` → ``1–4`` (what a person writes)."""
    match = re.fullmatch(r"\s*(-?[\d.]+)\s*<=\s*x\s*<=\s*(-?[\d.]+)\s*", text)
    return f"{match.group(1)}–{match.group(2)}" if match else text


def _thai(error: click.UsageError) -> str:
    message = error.format_message() if isinstance(error, click.ClickException) else str(error)
    hint = _hint(error)
    if isinstance(error, click.MissingParameter):
        kind = "อาร์กิวเมนต์" if getattr(error, "param_type", None) == "argument" or (
            error.param is not None and error.param.param_type_name == "argument") else "ตัวเลือก"
        return f"ขาด{kind}ที่ต้องระบุ: {hint}"
    if isinstance(error, click.NoSuchOption):
        near = ", ".join(error.possibilities or [])
        return f"ไม่มีตัวเลือก {error.option_name}" + (f" — หมายถึง {near} หรือไม่" if near else "")
    if isinstance(error, click.BadOptionUsage):
        return f"ใช้ตัวเลือก {error.option_name} ไม่ถูกต้อง"
    if isinstance(error, click.BadParameter):
        detail = error.message or ""
        found = _RANGE.match(detail)
        if found:
            return f"ค่า {found.group('value')} ของ {hint} อยู่นอกช่วงที่ใช้ได้ ({_range_th(found.group('range'))})"
        found = _BOUND.match(detail)
        if found:
            side = "ไม่เกิน" if found.group("side") == "less" else "ไม่น้อยกว่า"
            if not found.group("equal"):
                side = "น้อยกว่า" if found.group("side") == "less" else "มากกว่า"
            return f"ค่าของ {hint} ต้อง{side} {found.group('bound')}"
        found = _NOT_INT.match(detail)
        if found:
            return f"ค่าของ {hint} ต้องเป็นจำนวนเต็ม"
        found = _PATH.match(detail)
        if found:
            return f"ไม่พบ {found.group('path')} ที่ระบุใน {hint}"
        return f"ค่าของ {hint} ไม่ถูกต้อง"
    found = _NO_COMMAND.match(error.message or "")
    if found:
        near = found.group("near")
        return f"ไม่มีคำสั่ง '{found.group('name')}'" + (f" — หมายถึง '{near}' หรือไม่" if near else "")
    found = _EXTRA.match(error.message or "")
    if found:
        return f"มีอาร์กิวเมนต์เกินมา: {found.group('args')}"
    return f"ใช้คำสั่งไม่ถูกต้อง: {message}"


def usage_message(error: click.UsageError, lang: str = "th") -> list[str]:
    """Lines to print for a usage error: Thai first and English beside (``lang="en"``: English
    only), then the command's usage line and where its help is."""
    english = error.format_message()
    ctx = error.ctx
    command = ctx.command_path if ctx is not None else "kpi-xl"
    try:
        thai = _thai(error)
    except Exception:  # noqa: BLE001 - a click/typer release with other fields: still a message
        thai = "ใช้คำสั่งไม่ถูกต้อง"
    lines = [f"{thai} / {english}"] if lang == "th" else [english]
    if ctx is not None:
        lines.append(ctx.get_usage().replace("Usage:", "วิธีใช้ / Usage:" if lang == "th" else "Usage:", 1))
    help_th = f"ดูรายละเอียด: {command} --help / " if lang == "th" else ""
    lines.append(f"{help_th}See: {command} --help")
    return lines
