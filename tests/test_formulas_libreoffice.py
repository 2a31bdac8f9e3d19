"""The template's score / target_met formulas give exactly what the Python scoring gives.

Random catalogs and random fills (seeded): 200+ sheets of every scoring kind, both directions, every
aggregation, thresholds hit exactly. LibreOffice — the real spreadsheet client — recalculates the
workbooks; its results must equal kpi_xl.scoring to 2 decimals.
"""

from __future__ import annotations

import random
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from kpi_xl import libreoffice, scoring
from kpi_xl.catalog import Aggregation, Catalog, Direction, Indicator, ResultType, Scoring, ValueKind
from kpi_xl.catalog import load as load_catalog
from kpi_xl.fill import fill_workbook
from kpi_xl.template import build_workbook

pytestmark = [pytest.mark.libreoffice, pytest.mark.skipif(not libreoffice.soffice_available(), reason="needs soffice")]

SAMPLE = Path(__file__).resolve().parents[1] / "workbook_templates" / "catalog_2564.yaml"
PER_KIND = 50      # indicators of each kind in the random catalog
WORKBOOKS = 4      # districts filled independently → 200 fills of each kind


def random_indicator(rng: random.Random, n: int, kind: Scoring) -> Indicator:
    direction = rng.choice(list(Direction)) if kind is not Scoring.MILESTONE else Direction.HIGHER
    base = dict(code=f"F{n:03d}", name_th=f"ตัวชี้วัดสุ่ม {n}", result_type=ResultType.OUTPUT, dimension=rng.randint(1, 7),
                definition="-", method="-", weight=1, scoring=kind, direction=direction)
    if kind is Scoring.MILESTONE:
        return Indicator(**base, unit="ระดับ", target=rng.randint(1, 5), value_kind=ValueKind.LEVEL,
                         levels=[f"ขั้นที่ {i}" for i in range(1, 6)], aggregation=Aggregation.LAST)
    start, steps = rng.uniform(-50, 500), [rng.choice([0.5, 1, 2.5, 7, 10, 33.3]) for _ in range(4)]
    t = [round(start, 2)]
    for s in steps:
        t.append(round(t[-1] + s, 2))
    if direction is Direction.LOWER:
        t = t[::-1]
    extra: dict[str, Any] = {"thresholds": t} if kind is Scoring.THRESHOLDS else {}
    return Indicator(**base, unit="หน่วย", target=rng.choice(t), value_kind=ValueKind.NUMBER,
                     aggregation=rng.choice(list(Aggregation)), **extra)


def random_fill(rng: random.Random, ind: Indicator) -> dict[str, Any]:
    if ind.scoring is Scoring.MILESTONE:
        return {f"level_{n}": rng.choice([None, 1, 2, 3, 4]) for n in range(1, 6) if rng.random() < 0.85}
    pool = [*ind.thresholds, ind.target] if ind.thresholds else [ind.target]
    lo, hi = min(pool) - 20, max(pool) + 20

    def value() -> float:
        return rng.choice(pool) if rng.random() < 0.3 else round(rng.uniform(lo, hi), rng.choice([0, 2, 3]))

    cells: dict[str, Any] = {f"q{q}_value": value() for q in (1, 2, 3, 4) if rng.random() < 0.7}
    if rng.random() < 0.35:
        cells["result_value"] = value()
    return cells


@pytest.fixture(scope="module")
def recalculated(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Catalog, dict, openpyxl.Workbook]]:
    rng = random.Random(20210923)
    kinds = [Scoring.MILESTONE, Scoring.THRESHOLDS, Scoring.PASS_FAIL]
    indicators = [random_indicator(rng, i * len(kinds) + k, kind)
                  for i in range(PER_KIND) for k, kind in enumerate(kinds)]
    base = load_catalog(SAMPLE)
    catalog = base.model_copy(update={"indicators": indicators})
    work = tmp_path_factory.mktemp("formulas")
    jobs = []
    for district in [d.code for d in catalog.districts][:WORKBOOKS]:
        blank = build_workbook(catalog, district, work / "blank", macros=False, force=True)
        fills = {ind.code: random_fill(rng, ind) for ind in indicators}
        jobs.append((blank, work / "filled" / blank.name, fills))
    # Both cores: openpyxl fills in processes, LibreOffice conversions as two concurrent instances.
    with ProcessPoolExecutor(2) as pool:
        filled = list(pool.map(_fill, jobs))
    with ThreadPoolExecutor(2) as pool:
        converted = list(pool.map(lambda p: libreoffice.convert(p, to="xlsx", outdir=p.parent.parent / "recalc"), filled))
    # Read LibreOffice's results once: each test compares against these.
    return [(catalog, fills, openpyxl.load_workbook(path, data_only=True))
            for (_, _, fills), path in zip(jobs, converted, strict=True)]


def _fill(job: tuple[Path, Path, dict]) -> Path:
    blank, dst, fills = job
    return fill_workbook(blank, dst, values=fills, report_quarter=4)


def named_value(wb: openpyxl.Workbook, sheet: str, name: str) -> Any:
    ws = wb[sheet]
    ref = ws.defined_names[name].attr_text.split("!")[1].replace("$", "")
    return ws[ref].value


def python_score(ind: Indicator, cells: dict[str, Any]) -> scoring.Score:
    return scoring.score_indicator(
        ind,
        result_value=cells.get("result_value"),
        quarters={q: cells.get(f"q{q}_value") for q in (1, 2, 3, 4)},
        levels={n: cells.get(f"level_{n}") for n in range(1, 6)},
    )


def test_libreoffice_recalculates_the_same_scores(recalculated: list[tuple[Catalog, dict, openpyxl.Workbook]]) -> None:
    compared = {kind: 0 for kind in Scoring}
    mismatches = []
    for catalog, fills, wb in recalculated:
        for ind in catalog.indicators:
            expected = python_score(ind, fills[ind.code])
            got_score = named_value(wb, ind.code, "score")
            got_met = named_value(wb, ind.code, "target_met")
            want_score = "" if expected.value is None else expected.value
            if got_score in (None, ""):
                got_score = ""
            same_score = (got_score == want_score) if want_score == "" else (
                isinstance(got_score, (int, float)) and round(got_score, 2) == round(want_score, 2))
            if not same_score or (got_met or "") != expected.target_met_th:
                mismatches.append((ind.code, fills[ind.code], got_score, got_met, expected))
            compared[ind.scoring] += 1
    assert mismatches == []
    assert all(n >= 200 for n in compared.values()), compared


def test_thresholds_are_hit_exactly_in_libreoffice(recalculated: list[tuple[Catalog, dict, openpyxl.Workbook]]) -> None:
    """Among the random fills, values equal to a threshold score exactly that level."""
    hits = 0
    for catalog, fills, wb in recalculated:
        for ind in catalog.indicators:
            if ind.scoring is not Scoring.THRESHOLDS:
                continue
            v = python_score(ind, fills[ind.code]).basis
            if v in ind.thresholds:
                assert named_value(wb, ind.code, "score") == ind.thresholds.index(v) + 1
                hits += 1
    assert hits >= 20
