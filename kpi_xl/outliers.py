"""Values far from the usual: a warning (KPI-W630), never an error.

A typo such as 2500 for 25.00, or a figure in the wrong unit, passes every type and range check.
What gives it away is that it is far from what the same district reported in earlier years, or
from what the other districts report this quarter. The measure is robust, so one odd district
does not hide another:

    modified z = 0.6745 × (value − median) / MAD        (Iglewicz & Hoaglin)

where MAD is the median of the absolute deviations from the median. A value warns when
``|z| > THRESHOLD`` (3.5). With too little to compare — fewer than ``MIN_OWN`` earlier years of the
district, fewer than ``MIN_PEERS`` other districts — or no spread at all (MAD = 0), nothing is said.

The value compared is the value scored (``year_value``) of thresholds and pass/fail indicators;
milestone levels are not measured this way. The warning points at the reporting quarter's value
cell (else the result cell) — the cell a clerk would correct.

The district's own past travels inside the workbook (``kpi-xl build --history``), so the Excel
button gives the same warning as head office; the other districts' spread exists only at head
office, where :func:`peer_warnings` runs over the whole quarter.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .model import DistrictPast, IndicatorResult
from .problems import Location, Problem, problem

__all__ = ["THRESHOLD", "MIN_OWN", "MIN_PEERS", "modified_z", "own_past_warnings", "peer_warnings"]

THRESHOLD = 3.5
MIN_OWN = 3
MIN_PEERS = 8
_SCALE = 0.6745


@dataclass(frozen=True, slots=True)
class Spread:
    median: float
    mad: float
    z: float


def modified_z(value: float, sample: Sequence[float], minimum: int) -> Spread | None:
    """The value's modified z-score against ``sample``; None with fewer than ``minimum`` values or no spread."""
    if len(sample) < minimum:
        return None
    median = statistics.median(sample)
    mad = statistics.median(abs(x - median) for x in sample)
    if mad == 0:
        return None
    return Spread(median, mad, _SCALE * (value - median) / mad)


def _where(result: IndicatorResult, quarter: int, file: str) -> Location:
    for name in (f"q{quarter}_value", "result_value"):
        field = result.fields.get(name)
        if field is not None and field.value is not None:
            return field.cell.location(file)
    field = result.fields.get("year_value")
    return field.cell.location(file) if field is not None else Location(file=file, sheet=result.sheet)


def _warning(result: IndicatorResult, quarter: int, file: str, spread: Spread, basis: tuple[str, str]) -> Problem:
    return problem("KPI-W630", _where(result, quarter, file), value=result.year_value,
                   basis_th=basis[0], basis_en=basis[1], median=spread.median,
                   z=f"{spread.z:.1f}", threshold=THRESHOLD)


def own_past_warnings(file: str, results: Sequence[IndicatorResult], quarter: int,
                      past: DistrictPast) -> list[Problem]:
    """KPI-W630 for every value far from the district's own values of the same quarter in earlier years."""
    out = []
    for result in results:
        if result.year_value is None or result.scoring == "milestone":
            continue
        sample = past.own.get(result.code, {}).get(quarter, [])
        spread = modified_z(result.year_value, sample, MIN_OWN)
        if spread is not None and abs(spread.z) > THRESHOLD:
            out.append(_warning(result, quarter, file, spread, (
                f"ผลของเขตเองในไตรมาส {quarter} ของปีก่อน ๆ ({len(sample)} ปี)",
                f"the district's own quarter-{quarter} values of earlier years ({len(sample)})")))
    return out


def compared_cell(result: IndicatorResult, quarter: int, file: str) -> Location:
    """The cell a value warning points at (public for head office's records, which keep no cells)."""
    return _where(result, quarter, file)


@dataclass(frozen=True, slots=True)
class Scored:
    """One district's value scored for one indicator, and the cell to point at: head office's view."""

    code: str
    scoring: str
    year_value: float | None
    location: Location


def peer_warnings(values: Mapping[int, Sequence[Scored]]) -> dict[int, list[Problem]]:
    """KPI-W630 for every value far from the other districts' values this quarter.

    ``values``: district code → its scored indicators. Each district is compared with the others
    (itself left out), at least ``MIN_PEERS`` of them.
    """
    by_indicator: dict[str, dict[int, float]] = {}
    for district, items in values.items():
        for item in items:
            if item.year_value is not None and item.scoring != "milestone":
                by_indicator.setdefault(item.code, {})[district] = item.year_value
    out: dict[int, list[Problem]] = {}
    for district, items in values.items():
        for item in items:
            if item.year_value is None or item.scoring == "milestone":
                continue
            others = [v for d, v in by_indicator.get(item.code, {}).items() if d != district]
            spread = modified_z(item.year_value, others, MIN_PEERS)
            if spread is not None and abs(spread.z) > THRESHOLD:
                out.setdefault(district, []).append(problem(
                    "KPI-W630", item.location, value=item.year_value,
                    basis_th=f"ผลของเขตอื่นในไตรมาสนี้ ({len(others)} เขต)",
                    basis_en=f"the other districts this quarter ({len(others)})",
                    median=spread.median, z=f"{spread.z:.1f}", threshold=THRESHOLD))
    return out
