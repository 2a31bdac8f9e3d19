"""Reference data shipped inside the package: the 50 districts and the plan's dimensions.

They live as data files (``kpi_xl/data``) rather than code because head office changes them on
its own schedule: the 20-year plan renames its dimensions when a new plan starts, so dimensions
are looked up by fiscal year.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path


@dataclass(frozen=True, slots=True)
class District:
    code: int
    name_th: str
    name_en: str

    @property
    def office_th(self) -> str:
        return f"สำนักงานเขต{self.name_th}"

    @property
    def slug(self) -> str:
        """File-name form of the English name: "Bang Rak" → "Bang_Rak"."""
        return "_".join(self.name_en.replace("-", " ").split())


@dataclass(frozen=True, slots=True)
class Dimension:
    number: int
    name_th: str
    name_en: str


def _data(name: str) -> str:
    """A shipped data file, found beside this module (``importlib.resources`` would add its import,
    a few ms, to every press of the Excel button, which reads the district list)."""
    return (Path(__file__).parent / "data" / name).read_text(encoding="utf-8")


@cache
def districts() -> dict[int, District]:
    """Official district codes (1001–1050) → district, in code order."""
    rows = csv.DictReader(_data("districts.csv").splitlines())
    found = [District(int(r["code"]), r["name_th"].strip(), r["name_en"].strip()) for r in rows]
    return {d.code: d for d in sorted(found, key=lambda d: d.code)}


@cache
def _plans() -> list[dict]:
    import yaml  # only for the plan's dimensions (building, catalogs): not on the Excel button's path

    return yaml.safe_load(_data("dimensions.yaml"))["plans"]


def dimensions(fiscal_year: int) -> dict[int, Dimension]:
    """The plan dimensions in force in a fiscal year (BE)."""
    for plan in _plans():
        first, last = plan["fiscal_years"]
        if first <= fiscal_year <= last:
            return {
                int(d["number"]): Dimension(int(d["number"]), d["name_th"], d["name_en"])
                for d in plan["dimensions"]
            }
    raise LookupError(
        f"ไม่มีข้อมูลด้านยุทธศาสตร์ของปีงบประมาณ {fiscal_year} / no plan dimensions for fiscal year {fiscal_year}"
    )
