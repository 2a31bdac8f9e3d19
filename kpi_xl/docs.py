"""Generated reference pages: errors (from the registry), CLI (from the commands' own help) and the
workbook contract (from the form spec). Tests regenerate them and compare with the committed
files, so the docs cannot drift from the code.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .files import atomic_write_text
from .form import load_spec
from .problems import errors_markdown


def cli_markdown(app: Any) -> str:
    """Every command's usage, description and options, taken from the click objects behind --help.
    The CLI hands its own typer app in, so this module (below the CLI) never imports it."""
    import typer.main

    root = typer.main.get_command(app)
    lines = [
        "# คำสั่ง kpi-xl / CLI reference",
        "",
        "สร้างจาก `--help` ของแต่ละคำสั่งด้วย `kpi-xl docs all` — อย่าแก้ด้วยมือ.",
        "Generated from each command's `--help` by `kpi-xl docs all`; do not edit by hand.",
        "",
    ]
    for path, command in _walk(root, ["kpi-xl"]):
        ctx = command.context_class(command, info_name=" ".join(path))
        lines += [f"## `{' '.join(path)}`", "", "```", " ".join(path) + " " + " ".join(command.collect_usage_pieces(ctx)), "```", ""]
        if command.help:
            lines += [_clean(command.help), ""]
        params = [p for p in command.params if p.name != "help"]
        if params:
            lines += ["| argument / option | help | default |", "|---|---|---|"]
            for p in params:
                names = (", ".join(f"`{o}`" for o in (p.opts + p.secondary_opts)) if p.param_type_name == "option"
                         else f"`{(p.name or '').upper()}`")
                default = "" if p.default in (None, False) or callable(p.default) else f"`{p.default}`"
                required = " (required)" if p.required else ""
                lines.append(f"| {names}{required} | {_clean(getattr(p, 'help', '') or '')} | {default} |")
            lines.append("")
    return "\n".join(lines) + "\n"


def _walk(command: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
    """Leaf commands depth-first (typer ships its own click, so groups are recognised by shape)."""
    if hasattr(command, "commands"):
        for name in sorted(command.commands):
            yield from _walk(command.commands[name], [*path, name])
    else:
        yield path, command


def _clean(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def contract_markdown() -> str:
    """The defined names of a district workbook: the public contract for other tools."""
    spec = load_spec()
    lines = [
        "# สัญญาของแฟ้ม: ชื่อที่กำหนด / The workbook contract: defined names",
        "",
        "สร้างจาก `workbook_templates/form_spec.yaml` — อย่าแก้ด้วยมือ.",
        "Generated from `workbook_templates/form_spec.yaml`; do not edit by hand.",
        "",
        "Readers use these names only, never cell addresses, so a clerk who inserts a row breaks nothing.",
        f"Template version: `{spec.template_version}`. Indicator sheets are named by indicator code (e.g. `KPI-05`).",
        "",
        "## Sheet-scoped names (on every indicator sheet)",
        "",
        "| name | cell in a fresh workbook | type | required from quarter | only for | ไทย | English |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, field in spec.fields.items():
        only = ", ".join(field.only) if field.only else "all"
        lines.append(
            f"| `{name}` | {spec.a1(name)} | {field.type} | {field.required_from or ''} | {only} "
            f"| {field.label_th} | {field.label_en} |"
        )
    lines += ["", "## Workbook-scoped names", "", "| name | where |", "|---|---|"]
    for name, where in spec.workbook_names.items():
        sheet = spec.sheets[where.sheet]
        place = f"`{sheet}` key `{where.key}` (column B)" if where.key else f"`{sheet}!{where.cell}`"
        lines.append(f"| `{name}` | {place} |")
    lines += ["", "## Sheets", "", "| role | name |", "|---|---|"]
    lines += [f"| {role} | `{name}` |" for role, name in spec.sheets.items()]
    lines += [
        "",
        "The hidden metadata sheet holds, key in column A and value in column B: template_version, fiscal_year,",
        "district_code, district_name_th, district_name_en, catalog_hash, indicator_codes, build_time,",
        "catalog_parts, catalog_json_1…n (the catalog as JSON), checksum_kind (only when built with head office's",
        "secret key: hmac-sha256), meta_checksum (SHA-256 of the rows above, or HMAC-SHA256 under the key).",
        "",
        "A signed-off workbook (ยืนยันส่งรายงาน, `kpi-xl submit`; kpi_xl.signoff) has, below those rows, all text:",
        "signoff_quarter, signoff_signer, signoff_time (Bangkok, Buddhist year), signoff_errors, signoff_content_hash",
        "(SHA-256 of every input contract cell), signoff_cells_parts, signoff_cells_1…n (JSON: `Sheet!A1` → a 12-hex",
        "digest of that cell, so head office can name the cells changed after signing) and signoff_checksum (SHA-256",
        "of the signoff rows above it; the district holds no key, so it reveals slips, not forgeries).",
        "",
    ]
    return "\n".join(lines)


def write_docs(directory: Path | None = None, *, errors: Path | None = None, app: Any = None) -> list[Path]:
    written = []
    if errors is not None:
        written.append(atomic_write_text(errors, errors_markdown()))
    if directory is not None:
        directory = Path(directory)
        written.append(atomic_write_text(directory / "errors.md", errors_markdown()))
        if app is not None:
            written.append(atomic_write_text(directory / "cli.md", cli_markdown(app)))
        written.append(atomic_write_text(directory / "contract.md", contract_markdown()))
    return written
