"""Shared fixtures: the sample catalog and real workbooks built from it once per test session.

Tests that change a workbook copy it first (``workbook_copy``); the session's files stay pristine.
Tests marked ``libreoffice`` are skipped only when LibreOffice (soffice) is not installed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from kpi_xl import catalog as catalog_mod
from kpi_xl import fill, libreoffice, template
from kpi_xl.catalog import Catalog

REPO = Path(__file__).resolve().parent.parent
SAMPLE_CATALOG = REPO / "workbook_templates" / "catalog_2564.yaml"
CHATUCHAK = 1030
# Districts built for the session: Chatuchak (the seed), one with KPI-02 (riverside), one with KPI-09.
SESSION_DISTRICTS = (1030, 1001, 1003)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if libreoffice.soffice_available():
        return
    skip = pytest.mark.skip(reason="LibreOffice (soffice) is not installed")
    for item in items:
        if "libreoffice" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _no_head_office_settings() -> None:
    """A key or a history location set on the developer's machine must not change what tests see."""
    for name in ("KPI_XL_KEY", "KPI_XL_KEY_FILE", "KPI_XL_HISTORY"):
        os.environ.pop(name, None)


@pytest.fixture(scope="session")
def sample_catalog_path() -> Path:
    return SAMPLE_CATALOG


@pytest.fixture(scope="session")
def sample_catalog() -> Catalog:
    return catalog_mod.load(SAMPLE_CATALOG)


@pytest.fixture(scope="session")
def built_dir(tmp_path_factory: pytest.TempPathFactory, sample_catalog: Catalog) -> Path:
    """Macro workbooks (.xlsm) for SESSION_DISTRICTS, built once; do not modify them in place."""
    out = tmp_path_factory.mktemp("built")
    template.build_all(sample_catalog, out, districts=SESSION_DISTRICTS, jobs=1)
    return out


@pytest.fixture(scope="session")
def built_xlsx_dir(tmp_path_factory: pytest.TempPathFactory, sample_catalog: Catalog) -> Path:
    """The macro-free variant (.xlsx) of the same districts."""
    out = tmp_path_factory.mktemp("built_xlsx")
    template.build_all(sample_catalog, out, districts=SESSION_DISTRICTS, macros=False, jobs=1)
    return out


@pytest.fixture(scope="session")
def built_workbooks(built_dir: Path, sample_catalog: Catalog) -> dict[int, Path]:
    """District code → built .xlsm."""
    return {code: built_dir / template.output_name(sample_catalog, code) for code in SESSION_DISTRICTS}


@pytest.fixture(scope="session")
def chatuchak_workbook(built_workbooks: dict[int, Path]) -> Path:
    return built_workbooks[CHATUCHAK]


@pytest.fixture(scope="session")
def seed_filled_workbook(tmp_path_factory: pytest.TempPathFactory, chatuchak_workbook: Path) -> Path:
    """Chatuchak's workbook with the seed page filled into KPI-05, reported for quarter 4."""
    out = tmp_path_factory.mktemp("seed") / chatuchak_workbook.name
    return fill.fill_workbook(chatuchak_workbook, out, values={fill.SEED_SHEET: fill.seed_values()},
                              report_quarter=fill.SEED_QUARTER)


@pytest.fixture
def workbook_copy(tmp_path: Path) -> Callable[[Path], Path]:
    """Copy a session workbook into this test's folder, to modify it freely."""
    def copy(path: Path) -> Path:
        target = tmp_path / Path(path).name
        shutil.copyfile(path, target)
        return target

    return copy
