"""Scoring as the catalog defines it: properties over random indicators and values (hypothesis).

The independent references here (exact fractions, a from-scratch milestone count) are written
without looking at ``kpi_xl.scoring``'s arithmetic, so a slip there shows up as a counterexample.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kpi_xl import scoring
from kpi_xl.catalog import Aggregation, Direction, Indicator, Scoring

LEVEL_TEXTS = ["ขั้นที่ 1", "ขั้นที่ 2", "ขั้นที่ 3", "ขั้นที่ 4", "ขั้นที่ 5"]


def indicator(scoring_kind: Scoring, *, thresholds: list[float] | None = None, target: float = 5.0,
              direction: Direction = Direction.HIGHER, aggregation: Aggregation = Aggregation.LAST) -> Indicator:
    return Indicator(
        code="KPI-T", name_th="ตัวชี้วัดทดสอบ", result_type="output", dimension=1, definition="-", method="-",
        unit="หน่วย", target=target, direction=direction, scoring=scoring_kind,
        levels=LEVEL_TEXTS if scoring_kind is Scoring.MILESTONE else [],
        thresholds=thresholds or [], aggregation=aggregation, weight=10,
    )


# Catalog numbers: what head office types (whole numbers or up to two decimals), any sign.
catalog_numbers = st.integers(-1_000_000, 1_000_000).map(lambda n: n / 100) | st.integers(-10_000, 10_000).map(float)
# Values a district reports: anything finite in a wide range, including awkward binary fractions.
values = st.floats(-2e6, 2e6, allow_nan=False, allow_infinity=False) | catalog_numbers


@st.composite
def threshold_indicators(draw: st.DrawFn) -> Indicator:
    marks = sorted(draw(st.lists(catalog_numbers, min_size=5, max_size=5, unique=True)))
    direction = draw(st.sampled_from(Direction))
    if direction is Direction.LOWER:
        marks = marks[::-1]
    target = draw(st.sampled_from(marks))
    return indicator(Scoring.THRESHOLDS, thresholds=marks, target=target, direction=direction)


def score_of(ind: Indicator, v: float) -> float:
    result = scoring.score_indicator(ind, result_value=v)
    assert result.value is not None
    return result.value


def better(ind: Indicator, a: float, b: float) -> bool:
    """Whether b is at least as good as a in the indicator's direction."""
    return b >= a if ind.direction is Direction.HIGHER else b <= a


# ---------------------------------------------------------------------------------------------
# Thresholds


@given(threshold_indicators(), values)
def test_threshold_score_stays_in_0_to_5(ind: Indicator, v: float) -> None:
    s = score_of(ind, v)
    assert 0.0 <= s <= 5.0
    assert s == scoring.round2(s)  # two decimals, like the sheet's ROUND(…, 2)


@given(threshold_indicators(), values, values)
def test_threshold_score_never_falls_as_the_value_improves(ind: Indicator, a: float, b: float) -> None:
    if not better(ind, a, b):
        a, b = b, a
    assert score_of(ind, a) <= score_of(ind, b)


@given(threshold_indicators(), st.integers(0, 4))
def test_threshold_hit_exactly(ind: Indicator, n: int) -> None:
    assert score_of(ind, ind.thresholds[n]) == n + 1


@given(threshold_indicators(), values)
def test_below_t1_is_0_beyond_t5_is_5(ind: Indicator, v: float) -> None:
    t1, t5 = ind.thresholds[0], ind.thresholds[4]
    if not better(ind, t1, v):
        assert score_of(ind, v) == 0.0
    elif better(ind, t5, v):
        assert score_of(ind, v) == 5.0
    else:
        assert 1.0 <= score_of(ind, v) <= 5.0


@given(threshold_indicators(), values)
def test_threshold_score_is_the_linear_interpolation(ind: Indicator, v: float) -> None:
    """Against exact rational arithmetic, rounded half away from zero to two decimals."""
    t = [Fraction(x) for x in ind.thresholds]
    x = Fraction(v)
    if ind.direction is Direction.LOWER:  # mirror: lower is better ⇔ higher is better for −v
        t, x = [-m for m in t], -x
    if x < t[0]:
        exact = Fraction(0)
    elif x >= t[4]:
        exact = Fraction(5)
    else:
        n = max(i for i in range(4) if t[i] <= x)
        exact = n + 1 + (x - t[n]) / (t[n + 1] - t[n])
    expected = float(Decimal(exact.numerator) / Decimal(exact.denominator))
    got = score_of(ind, v)
    # Float division can differ from the exact ratio in the last bits; a tie at .xx5 may then round
    # either way, never further than one cent.
    assert abs(got - float(Decimal(str(expected)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))) <= 0.01 + 1e-9


@given(threshold_indicators(), values)
def test_lower_is_better_mirrors_higher(ind: Indicator, v: float) -> None:
    mirrored = indicator(Scoring.THRESHOLDS, thresholds=[-m for m in ind.thresholds], target=-ind.target,
                         direction=Direction.LOWER if ind.direction is Direction.HIGHER else Direction.HIGHER)
    a, b = scoring.score_indicator(ind, result_value=v), scoring.score_indicator(mirrored, result_value=-v)
    assert (a.value, a.target_met) == (b.value, b.target_met)


@given(threshold_indicators(), values)
def test_target_met_in_the_indicator_direction(ind: Indicator, v: float) -> None:
    result = scoring.score_indicator(ind, result_value=v)
    assert result.target_met is better(ind, ind.target, v)
    assert result.target_met_th == ("ผ่าน" if result.target_met else "ไม่ผ่าน")


# ---------------------------------------------------------------------------------------------
# Pass/fail and milestone


@given(catalog_numbers, values, st.sampled_from(Direction))
def test_pass_fail_is_5_or_0(target: float, v: float, direction: Direction) -> None:
    ind = indicator(Scoring.PASS_FAIL, target=target, direction=direction)
    result = scoring.score_indicator(ind, result_value=v)
    assert result.value == (5.0 if better(ind, target, v) else 0.0)
    assert result.target_met is better(ind, target, v)


levels_reached = st.dictionaries(st.integers(1, 5), st.none() | st.integers(1, 4))


def highest_with_all_lower(levels: dict[int, int | None]) -> int:
    reached = {n for n, q in levels.items() if q is not None}
    best = 0
    for n in range(1, 6):
        if all(k in reached for k in range(1, n + 1)):
            best = n
    return best


@given(levels_reached)
def test_milestone_is_highest_level_with_all_lower_ones(levels: dict[int, int | None]) -> None:
    ind = indicator(Scoring.MILESTONE, target=5)
    result = scoring.score_indicator(ind, levels=levels)
    assert result.value == highest_with_all_lower(levels)
    assert result.target_met is (result.value == 5)


@given(levels_reached, st.integers(1, 5), st.integers(1, 4))
def test_milestone_never_falls_when_a_level_is_reached(levels: dict[int, int | None], n: int, q: int) -> None:
    ind = indicator(Scoring.MILESTONE, target=3)
    before = scoring.score_indicator(ind, levels=levels).value
    after = scoring.score_indicator(ind, levels={**levels, n: q}).value
    assert before is not None and after is not None and before <= after


@pytest.mark.parametrize(("levels", "score", "why"), [
    ({}, 0, "ยังไม่บรรลุระดับ 1 → 0.00"),
    ({1: 1, 3: 2}, 1, "บรรลุระดับ 1 → 1.00"),
    ({1: 2, 2: 3, 3: 3, 4: 4, 5: 4}, 5, "บรรลุระดับ 1–5 ครบ → 5.00"),  # the Chatuchak seed
    ({1: 1, 2: 1, 3: 2, 5: 4}, 3, "บรรลุระดับ 1–3 ครบ → 3.00"),
])
def test_milestone_examples(levels: dict[int, int], score: int, why: str) -> None:
    result = scoring.score_indicator(indicator(Scoring.MILESTONE), levels=levels)
    assert (result.value, result.explanation_th) == (score, why)


# ---------------------------------------------------------------------------------------------
# The year's value and the district score


quarter_values = st.dictionaries(st.integers(1, 4), st.none() | catalog_numbers)


@given(quarter_values, st.sampled_from(Aggregation))
def test_year_value_from_the_quarters(quarters: dict[int, float | None], aggregation: Aggregation) -> None:
    ind = indicator(Scoring.THRESHOLDS, thresholds=[1, 2, 3, 4, 5], target=3, aggregation=aggregation)
    filled = [quarters[q] for q in sorted(quarters) if quarters[q] is not None]
    got = scoring.year_value(ind, None, quarters, {})
    if not filled:
        assert got is None
        return
    expected = {
        Aggregation.SUM: float(sum(Fraction(x) for x in filled)),
        Aggregation.LAST: filled[-1],
        Aggregation.MAX: max(filled),
        Aggregation.MEAN: float(sum(Fraction(x) for x in filled) / len(filled)),
    }[aggregation]
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-9)


@given(quarter_values, catalog_numbers)
def test_typed_result_wins_over_the_quarters(quarters: dict[int, float | None], result: float) -> None:
    ind = indicator(Scoring.THRESHOLDS, thresholds=[1, 2, 3, 4, 5], target=3, aggregation=Aggregation.SUM)
    assert scoring.year_value(ind, result, quarters, {}) == result


weights = st.integers(1, 100).map(float) | st.floats(0.5, 100)
scores = st.none() | st.integers(0, 500).map(lambda n: n / 100)


@given(st.lists(st.tuples(weights, scores), min_size=1, max_size=40))
def test_district_score_is_the_weighted_mean(items: list[tuple[float, float | None]]) -> None:
    got = scoring.district_score(items)
    exact = sum(Fraction(w) * Fraction(s or 0) for w, s in items) / sum(Fraction(w) for w, _ in items)
    expected = Decimal(exact.numerator) / Decimal(exact.denominator)
    assert got is not None
    assert abs(Decimal(str(got)) - expected) <= Decimal("0.005") + Decimal("1e-12")
    assert 0 <= got <= 5
    plain = [s or 0 for _, s in items]
    assert min(plain) - 0.005 <= got <= max(plain) + 0.005


def test_district_score_examples() -> None:
    assert scoring.district_score([(10, 5.0), (10, 0.0)]) == 2.5
    assert scoring.district_score([(30, 4.0), (10, None)]) == 3.0  # no result counts as 0
    assert scoring.district_score([(10, 3.33), (20, 3.34)]) == 3.34  # 3.33666… → 3.34
    assert scoring.district_score([]) is None


# ---------------------------------------------------------------------------------------------
# Explanations


def test_explanation_reads_like_the_issue() -> None:
    ind = indicator(Scoring.THRESHOLDS, thresholds=[60, 70, 80, 90, 100], target=80)
    assert scoring.score_indicator(ind, result_value=87).explanation_th == \
        "87 อยู่ระหว่าง 80 (ระดับ 3) และ 90 (ระดับ 4) → 3.70"


@pytest.mark.parametrize(("thresholds", "v", "why"), [
    ([60, 70, 80, 90, 100], 55, "55 ต่ำกว่า 60 (ระดับ 1) → 0.00"),
    ([60, 70, 80, 90, 100], 100, "100 ถึง 100 (ระดับ 5) → 5.00"),
    ([60, 70, 80, 90, 100], 1234.5, "1,234.5 ถึง 100 (ระดับ 5) → 5.00"),
    ([60, 70, 80, 90, 100], 86.666666, "86.67 อยู่ระหว่าง 80 (ระดับ 3) และ 90 (ระดับ 4) → 3.67"),
    # 79.999 shown as "80" would contradict "between 70 and 80": more decimals instead
    ([60, 70, 80, 90, 100], 79.999, "79.999 อยู่ระหว่าง 70 (ระดับ 2) และ 80 (ระดับ 3) → 3.00"),
    ([60, 70, 80.5, 90, 100], 80.25, "80.25 อยู่ระหว่าง 70 (ระดับ 2) และ 80.5 (ระดับ 3) → 2.98"),
    ([10, 8, 6, 4, 2], 12, "12 สูงกว่า 10 (ระดับ 1) → 0.00"),
    ([10, 8, 6, 4, 2], 5, "5 อยู่ระหว่าง 6 (ระดับ 3) และ 4 (ระดับ 4) → 3.50"),
    ([10, 8, 6, 4, 2], 2, "2 ไม่เกิน 2 (ระดับ 5) → 5.00"),
])
def test_threshold_explanations(thresholds: list[float], v: float, why: str) -> None:
    direction = Direction.LOWER if thresholds[0] > thresholds[-1] else Direction.HIGHER
    ind = indicator(Scoring.THRESHOLDS, thresholds=thresholds, target=thresholds[2], direction=direction)
    assert scoring.score_indicator(ind, result_value=v).explanation_th == why


@pytest.mark.parametrize(("target", "direction", "v", "why"), [
    (100, Direction.HIGHER, 100, "100 ≥ เป้าหมาย 100 → 5.00"),
    (100, Direction.HIGHER, 99.999, "99.999 < เป้าหมาย 100 → 0.00"),
    (4, Direction.LOWER, 5, "5 > เป้าหมาย 4 → 0.00"),
    (4, Direction.LOWER, 3, "3 ≤ เป้าหมาย 4 → 5.00"),
])
def test_pass_fail_explanations(target: float, direction: Direction, v: float, why: str) -> None:
    ind = indicator(Scoring.PASS_FAIL, target=target, direction=direction)
    assert scoring.score_indicator(ind, result_value=v).explanation_th == why


NUMBER = r"(-?[\d,]+(?:\.\d+)?(?:e[-+]\d+)?)"
BETWEEN = re.compile(rf"^{NUMBER} อยู่ระหว่าง {NUMBER} \(ระดับ (\d)\) และ {NUMBER} \(ระดับ (\d)\) → (\d\.\d\d)$")
OUTSIDE = re.compile(rf"^{NUMBER} (ต่ำกว่า|สูงกว่า|ถึง|ไม่เกิน) {NUMBER} \(ระดับ ([15])\) → (\d\.\d\d)$")


def number(text: str) -> Fraction:
    return Fraction(text.replace(",", ""))


@given(threshold_indicators(), values)
@example(indicator(Scoring.THRESHOLDS, thresholds=[60, 70, 80, 90, 100], target=80), 79.99999999999999)
@example(indicator(Scoring.THRESHOLDS, thresholds=[10, 8, 6, 4, 2], target=6, direction=Direction.LOWER), 6.000001)
@settings(max_examples=300)
def test_explanation_never_contradicts_itself(ind: Indicator, v: float) -> None:
    """The numbers shown satisfy the relation the sentence states, and it ends with the score."""
    result = scoring.score_indicator(ind, result_value=v)
    why = result.explanation_th
    assert why.endswith(f"→ {result.value:.2f}")
    higher = ind.direction is Direction.HIGHER
    if m := BETWEEN.match(why):
        x, lo, n, hi, n2 = number(m[1]), number(m[2]), int(m[3]), number(m[4]), int(m[5])
        assert n2 == n + 1 and lo == Fraction(str(ind.thresholds[n - 1])) and hi == Fraction(str(ind.thresholds[n]))
        assert (lo <= x < hi) if higher else (lo >= x > hi), why
        assert n <= result.value <= n + 1
    else:
        m = OUTSIDE.match(why)
        assert m is not None, why
        x, word, mark = number(m[1]), m[2], number(m[3])
        relation = {"ต่ำกว่า": x < mark, "สูงกว่า": x > mark, "ถึง": x >= mark, "ไม่เกิน": x <= mark}[word]
        assert relation, why


# ---------------------------------------------------------------------------------------------
# Robustness: huge values never crash the engine's arithmetic


@pytest.mark.parametrize("x", [4e30, -4e30, 1e15 + 0.125, float("inf"), 1.005, 2.675, -1.005])
def test_round2_never_raises(x: float) -> None:
    got = scoring.round2(x)
    if abs(x) < 1e13:
        assert got == float(Decimal(f"{x:.15g}").quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    else:
        assert got == x or abs(got - x) <= abs(x) * 1e-14


def test_round2_like_excel() -> None:
    assert scoring.round2(2.675) == 2.68  # binary 2.67499…; Excel rounds the 15-digit value up
    assert scoring.round2(-1.005) == -1.01  # half away from zero
    assert scoring.round2(3.3366666) == 3.34


def test_sum_of_huge_quarters_does_not_crash() -> None:
    ind = indicator(Scoring.THRESHOLDS, thresholds=[1, 2, 3, 4, 5], target=3, aggregation=Aggregation.SUM)
    result = scoring.score_indicator(ind, quarters={1: 9e307, 2: 9e307})
    assert result.value == 5.0
