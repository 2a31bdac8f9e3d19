"""The template's score / target_met formulas give exactly what the Python engine gives.

Random catalogs and random fills (seeded): 200+ sheets of every scoring kind, both directions, every
aggregation, thresholds hit exactly; numbers often typed as text with Thai digits, thousands commas
and spaces, level quarters as Thai digits; covers declaring different reporting quarters, and one
year-end fill declared as each of quarters 1–4 (scores as of the reporting quarter). LibreOffice —
the real spreadsheet client — recalculates every workbook in one batch per core; its results must
equal the engine's (``validate_file`` on the same file) to 2 decimals.
"""

from __future__ import annotations

import random
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from kpi_xl import libreoffice, scoring, thai
from kpi_xl.catalog import Aggregation, Catalog, Direction, Indicator, ResultType, Scoring, ValueKind
from kpi_xl.catalog import load as load_catalog
from kpi_xl.fill import fill_workbook
from kpi_xl.template import build_workbook
from kpi_xl.validate import validate_file

pytestmark = [pytest.mark.libreoffice, pytest.mark.skipif(not libreoffice.soffice_available(), reason="needs soffice")]

SAMPLE = Path(__file__).resolve().parents[1] / "workbook_templates" / "catalog_2564.yaml"
PER_KIND = 50      # indicators of each kind in the random catalog
WORKBOOKS = 4      # districts filled independently → 200 fills of each kind
COVERS: list[int | str] = [4, "๓", 4, 2]  # each random workbook's reporting quarter (Thai digits too)
VARIANTS = (1, 2, 3)  # the first workbook's year-end fill declared as each earlier quarter as well


def typed(rng: random.Random, v: float) -> float | str:
    """``v`` as a clerk may type it: a number, or text with Thai digits, thousands commas, spaces."""
    if rng.random() < 0.5:
        return v
    text = f"{v:,.3f}" if rng.random() < 0.5 else f"{v:.3f}"
    if rng.random() < 0.7:
        text = thai.to_thai_digits(text)
    return " " * rng.randint(0, 2) + text + " " * rng.randint(0, 2)


def random_indicator(rng: random.Random, n: int, kind: Scoring) -> Indicator:
    direction = rng.choice(list(Direction)) if kind is not Scoring.MILESTONE else Direction.HIGHER
    base = dict(code=f"F{n:03d}", name_th=f"ตัวชี้วัดสุ่ม {n}", result_type=ResultType.OUTPUT, dimension=rng.randint(1, 7),
                definition="-", method="-", weight=1, scoring=kind, direction=direction)
    if kind is Scoring.MILESTONE:
        return Indicator(**base, unit="ระดับ", target=rng.randint(1, 5), value_kind=ValueKind.LEVEL,
                         levels=[f"ขั้นที่ {i}" for i in range(1, 6)], aggregation=Aggregation.LAST)
    start, steps = rng.uniform(-50, 500), [rng.choice([0, 0.5, 1, 2.5, 7, 10, 33.3]) for _ in range(4)]  # 0: equal neighbours
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
        levels = {f"level_{n}": rng.choice([None, 1, 2, 3, 4]) for n in range(1, 6) if rng.random() < 0.85}
        return {name: (thai.to_thai_digits(str(q)) if q is not None and rng.random() < 0.3 else q)
                for name, q in levels.items()}
    pool = [*ind.thresholds, ind.target] if ind.thresholds else [ind.target]
    lo, hi = min(pool) - 20, max(pool) + 20

    def value() -> float:
        return rng.choice(pool) if rng.random() < 0.3 else round(rng.uniform(lo, hi), rng.choice([0, 2, 3]))

    cells: dict[str, Any] = {f"q{q}_value": typed(rng, value()) for q in (1, 2, 3, 4) if rng.random() < 0.7}
    if rng.random() < 0.35:
        cells["result_value"] = typed(rng, value())
    return cells


Recalculated = list[tuple[Catalog, Any, dict[str, tuple[Any, str]], openpyxl.Workbook]]


@pytest.fixture(scope="module")
def recalculated(tmp_path_factory: pytest.TempPathFactory) -> Recalculated:
    """(catalog, cover quarter, engine's {code: (score, target_met)}, LibreOffice's recalculated book)."""
    rng = random.Random(20210923)
    kinds = [Scoring.MILESTONE, Scoring.THRESHOLDS, Scoring.PASS_FAIL]
    indicators = [random_indicator(rng, i * len(kinds) + k, kind)
                  for i in range(PER_KIND) for k, kind in enumerate(kinds)]
    base = load_catalog(SAMPLE)
    catalog = base.model_copy(update={"indicators": indicators})
    work = tmp_path_factory.mktemp("formulas")
    jobs = []
    for i, district in enumerate([d.code for d in catalog.districts][:WORKBOOKS]):
        blank = build_workbook(catalog, district, work / "blank", macros=False, force=True)
        fills = {ind.code: random_fill(rng, ind) for ind in indicators}
        jobs.append((blank, work / "filled" / blank.name, fills, COVERS[i]))
        if i == 0:
            jobs += [(blank, work / "filled" / f"q{q}_{blank.name}", fills, q) for q in VARIANTS]
    # Both cores: openpyxl fills in processes, then two LibreOffice instances, each recalculating
    # half of the workbooks in one start.
    with ProcessPoolExecutor(2) as pool:
        filled = list(pool.map(_fill, jobs))
    halves = [filled[0::2], [*filled[1::2], _validation_book(work / "filled" / "validation_rules.xlsx")]]
    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(lambda half: libreoffice.convert_many(half, "xlsx", work / "recalc"), halves))
    converted = {path.stem: path for half in done for path in half}
    VALIDATION_RESULTS.update(_validation_results(converted["validation_rules"]))
    # Read LibreOffice's results once: each test compares against these.
    return [(catalog, cover, _engine(path), openpyxl.load_workbook(converted[path.stem], data_only=True))
            for (_, _, _, cover), path in zip(jobs, filled, strict=True)]


# --- The number cells' validation rules, evaluated by LibreOffice in the same batch -------------

TYPED = [85, 85.5, 100, 0, 120, -1, "85", "๘๕", " ๘๕ ", "๑๐๐", "๑๒๐", "-๑", "๕๐.๕", "1,000", "๑,๒๓๔",
         "สิบ", "abc", "", "12.5", "๑๒.๕", 1234, 12.5, "1e3x"]
VALIDATION_KINDS = {"percent": ValueKind.PERCENT, "count": ValueKind.COUNT, "level": ValueKind.LEVEL,
                    "number": ValueKind.NUMBER}
VALIDATION_RESULTS: dict[tuple[str, int], Any] = {}


def _rule(kind: ValueKind, ref: str) -> str:
    from kpi_xl.form import load_spec
    from kpi_xl.template import _validation

    ind = Indicator(code="V", name_th="v", result_type=ResultType.OUTPUT, dimension=1, definition="-", method="-",
                    unit="u", target=1, scoring=Scoring.THRESHOLDS, thresholds=[1, 2, 3, 4, 5], weight=1,
                    value_kind=kind, aggregation=Aggregation.LAST)
    return _validation(load_spec().fields["q1_value"], ind, 2564, ref)["value"]


def _validation_book(path: Path) -> Path:
    """One sheet: each typed entry in column A, each kind's validation rule over it in B…E."""
    import xlsxwriter

    path.parent.mkdir(parents=True, exist_ok=True)
    book = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False})
    ws = book.add_worksheet("rules")
    for r, typed in enumerate(TYPED):
        (ws.write_number if isinstance(typed, (int, float)) else ws.write_string)(r, 0, typed)
        for c, kind in enumerate(VALIDATION_KINDS.values(), start=1):
            ws.write_formula(r, c, _rule(kind, f"A{r + 1}"))
    book.close()
    return path


def _validation_results(path: Path) -> dict[tuple[str, int], Any]:
    ws = openpyxl.load_workbook(path, data_only=True)["rules"]
    return {(name, r): ws.cell(r + 1, c + 1).value for r in range(len(TYPED))
            for c, name in enumerate(VALIDATION_KINDS, start=1)}


def _allowed(kind: ValueKind, typed: Any) -> bool:
    """What the guide allows in a number cell of ``kind``: one number (Thai digits, commas, spaces
    fine) in the kind's range; a count typed into a quarter is whole."""
    try:
        v = thai.parse_number(typed)
    except thai.ThaiParseError:
        return False
    if v is None:
        return False
    if kind is ValueKind.PERCENT:
        return 0 <= v <= 100
    if kind is ValueKind.COUNT:
        return v >= 0 and float(v).is_integer()
    if kind is ValueKind.LEVEL:
        return 0 <= v <= 5
    return abs(v) <= 1e15


def test_number_validation_accepts_exactly_what_the_guide_allows(recalculated: Recalculated) -> None:
    """Each kind's custom rule, evaluated by LibreOffice: Thai digits and commas pass as their number
    does, out-of-range numbers and words are refused (the rule is a formula Excel also evaluates)."""
    wrong = []
    for name, kind in VALIDATION_KINDS.items():
        for r, typed in enumerate(TYPED):
            if typed == "":
                continue  # blank: the rule ignores blank cells (ignore_blank)
            got = VALIDATION_RESULTS[(name, r)]
            if (got is True) != _allowed(kind, typed):
                wrong.append((name, typed, got))
    assert wrong == []


def _fill(job: tuple[Path, Path, dict, Any]) -> Path:
    blank, dst, fills, cover = job
    return fill_workbook(blank, dst, values=fills, report_quarter=cover)


def _engine(path: Path) -> dict[str, tuple[Any, str]]:
    """What the engine scores for the file as filled (cover's quarter): {code: (score, target_met)}."""
    report = validate_file(path)
    met = {True: scoring.MET_TH, False: scoring.NOT_MET_TH, None: ""}
    return {r.code: ("" if r.score is None else r.score, met[r.target_met]) for r in report.indicators}


def named_value(wb: openpyxl.Workbook, sheet: str, name: str) -> Any:
    ws = wb[sheet]
    ref = ws.defined_names[name].attr_text.split("!")[1].replace("$", "")
    return ws[ref].value


def _mismatches(catalog: Catalog, engine: dict[str, tuple[Any, str]], wb: openpyxl.Workbook) -> list[tuple]:
    found = []
    for ind in catalog.indicators:
        want_score, want_met = engine[ind.code]
        got_score = named_value(wb, ind.code, "score")
        got_met = named_value(wb, ind.code, "target_met") or ""
        if got_score in (None, ""):
            got_score = ""
        same_score = (got_score == want_score) if want_score == "" else (
            isinstance(got_score, (int, float)) and round(got_score, 2) == round(want_score, 2))
        if not same_score or got_met != want_met:
            found.append((ind.code, got_score, got_met, want_score, want_met))
    return found


def test_libreoffice_recalculates_the_same_scores(recalculated: Recalculated) -> None:
    """Every sheet of every workbook (Thai-digit text included): LibreOffice's score = the engine's."""
    compared = {kind: 0 for kind in Scoring}
    mismatches = []
    for catalog, _, engine, wb in recalculated:
        mismatches += _mismatches(catalog, engine, wb)
        for ind in catalog.indicators:
            compared[ind.scoring] += 1
    assert mismatches == []
    assert all(n >= 200 for n in compared.values()), compared


def test_libreoffice_scores_as_of_each_reporting_quarter(recalculated: Recalculated) -> None:
    """One year-end fill declared as quarter 1, 2, 3, 4: the sheet and the engine agree for each,
    and the scores really change with the quarter (later quarters do not count)."""
    by_cover = {cover: (engine, wb) for _, cover, engine, wb in recalculated[:1 + len(VARIANTS)]}
    assert sorted(by_cover) == [1, 2, 3, 4]
    catalog = recalculated[0][0]
    for engine, wb in by_cover.values():
        assert _mismatches(catalog, engine, wb) == []
    changed = sum(by_cover[1][0][code] != by_cover[4][0][code] for code in by_cover[4][0])
    assert changed >= len(catalog.indicators) // 3


def test_thresholds_are_hit_exactly_in_libreoffice(recalculated: Recalculated) -> None:
    """Among the random fills, values equal to a threshold score exactly that level."""
    hits = 0
    for catalog, _, engine, wb in recalculated:
        for ind in catalog.indicators:
            if ind.scoring is not Scoring.THRESHOLDS:
                continue
            v = _basis(wb, ind)
            if v in ind.thresholds:
                level = len(ind.thresholds) - ind.thresholds[::-1].index(v)  # equal thresholds: the higher
                assert named_value(wb, ind.code, "score") == level == engine[ind.code][0]
                hits += 1
    assert hits >= 20


def _basis(wb: openpyxl.Workbook, ind: Indicator) -> Any:
    return named_value(wb, ind.code, "year_value")
