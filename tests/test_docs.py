"""Generated docs never drift: the committed pages equal what the code generates now."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kpi_xl import docs
from kpi_xl.cli import app
from kpi_xl.problems import REGISTRY

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.mark.parametrize(
    ("page", "make"),
    [("errors.md", docs.errors_markdown), ("cli.md", lambda: docs.cli_markdown(app)),
     ("contract.md", docs.contract_markdown)],
)
def test_committed_reference_equals_generated(page: str, make) -> None:  # noqa: ANN001
    committed = (DOCS / page).read_text(encoding="utf-8")
    assert committed == make(), f"docs/{page} is stale: run `kpi-xl docs all`"


def test_every_error_code_is_in_the_reference() -> None:
    text = (DOCS / "errors.md").read_text(encoding="utf-8")
    missing = [code for code in REGISTRY if f"`{code}`" not in text]
    assert missing == []


def _leaf_commands() -> list[list[str]]:
    return [path[1:] for path, _ in docs._walk(__import__("typer").main.get_command(app), ["kpi-xl"])]


@pytest.mark.parametrize("path", _leaf_commands(), ids=lambda p: " ".join(p))
def test_every_command_has_help_and_its_options_are_documented(path: list[str]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    section = (DOCS / "cli.md").read_text(encoding="utf-8").split(f"## `kpi-xl {' '.join(path)}`", 1)
    assert len(section) == 2, f"kpi-xl {' '.join(path)} is not documented"
    body = section[1].split("\n## ", 1)[0]
    options = set(re.findall(r"(--[a-z][a-z-]+)", result.output)) - {"--help"}
    assert "Usage" in result.output
    for option in options:
        assert f"`{option}`" in body, f"{option} of kpi-xl {' '.join(path)} is not in docs/cli.md"


def _links(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    return [t for t in re.findall(r"\]\(([^)#\s]+)\)", text) if "://" not in t]


@pytest.mark.parametrize("page", ["README.md", *(f"docs/{p.name}" for p in sorted(DOCS.glob("*.md")))])
def test_every_local_link_and_picture_exists(page: str) -> None:
    path = DOCS.parent / page
    missing = [t for t in _links(path) if not (path.parent / t).exists()]
    assert missing == [], f"{page} links to missing files: {missing}"


def test_the_readme_has_exactly_the_two_setup_commands() -> None:
    text = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    block = text.split("## Set-up: two commands", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line for line in block.splitlines() if line.strip() and not line.startswith("#")]
    assert commands == ['pip install -e ".[hq]" && kpi-xl demo kpi-demo', "bash tests/install-and-run.sh"]
    assert "tests/install-and-run.sh" in (DOCS.parent / ".ci" / "run").read_text(encoding="utf-8")
