"""Scoring exactly as the catalog defines it — in Python and as the workbook's Excel formulas.

Both live here on purpose: the template's ``score``/``target_met`` formulas are generated from the
same structure as the Python functions (same branches, same arithmetic order), and a LibreOffice
test recalculates hundreds of random fills to prove they agree to 2 decimals.

Definitions:
- the value scored (``year_value``) is ``result_value`` when the clerk typed one, else the
  quarterly values combined with the catalog's aggregation (sum / last / max / mean);
- milestone: the highest level reached with every lower level reached (0 if none);
- thresholds: t1…t5 give scores 1…5; linear between them, 0 below t1, 5 at or beyond t5; mirrored
  when lower is better (t1 > … > t5);
- pass_fail: 5 when the target is met, else 0;
- district: weighted mean over the indicators that apply (no result counts as 0).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from .catalog import Aggregation, Direction, Indicator, Scoring

MET_TH, NOT_MET_TH = "ผ่าน", "ไม่ผ่าน"


@dataclass(frozen=True, slots=True)
class Score:
    """A score with its basis and a one-line Thai explanation of the calculation."""

    value: float | None
    target_met: bool | None
    basis: float | None
    explanation_th: str
    explanation_en: str = ""

    @property
    def target_met_th(self) -> str:
        return "" if self.target_met is None else (MET_TH if self.target_met else NOT_MET_TH)


def round2(x: float) -> float:
    """Round like Excel's ROUND(x, 2): to 15 significant digits first, then half away from zero.

    Values of 10^13 and more have no second decimal left within 15 digits (and Decimal's default
    28-digit context cannot quantize them), so they come back as the 15-digit value; infinities
    (an overflowing sum) come back unchanged.
    """
    if not math.isfinite(x):
        return x
    d = Decimal(f"{x:.15g}")
    if d.adjusted() >= 13:
        return float(d)
    return float(d.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def fmt(x: float | None, decimals: int = 2) -> str:
    """A number as the form prints it: thousands commas, at most ``decimals`` decimals, no trailing zeros."""
    if x is None:
        return "-"
    if not math.isfinite(x):
        return str(x)
    if float(x).is_integer():
        return f"{int(x):,}"
    text = f"{x:,.{decimals}f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _decimals(x: float) -> int:
    """Decimals (0–6) a catalog number needs to be shown exactly: 80 → 0, 85.5 → 1."""
    for d in range(7):
        if math.isclose(round(x, d), x, rel_tol=0, abs_tol=1e-9 * max(1.0, abs(x))):
            return d
    return 6


def _shown(v: float, marks: list[float]) -> tuple[str, list[str]]:
    """``v`` and the thresholds/target it is compared with, as the explanation shows them.

    Two decimals as the form prints, unless that would make the explanation contradict itself
    ("79.999" shown as "80 ต่ำกว่า 80"): then as many decimals as it takes to tell ``v`` from any
    mark it differs from. Marks are shown exactly (a catalog value has few decimals), and ``v`` with
    at least as many decimals as they have, so rounding cannot carry it across a mark.
    """
    shown_marks, decimals = _marks_shown(tuple(marks))
    shown_marks = list(shown_marks)
    if not math.isfinite(v):
        return str(v), shown_marks
    text = fmt(v, decimals)
    while any(m != v and text == fmt(m, decimals) for m in marks):
        if decimals >= 17:  # a value within 1e-17 of a mark: only the exact digits tell them apart
            return repr(v), shown_marks
        decimals += 1
        text = fmt(v, decimals)
    return text, shown_marks


@lru_cache(maxsize=1024)
def _marks_shown(marks: tuple[float, ...]) -> tuple[tuple[str, ...], int]:
    """The marks as shown and the decimals ``v`` needs at least (two, or the marks' own): one
    catalog's few threshold sets, each formatted once rather than twice per indicator and workbook
    (the Thai and English explanations), which was a seventh of the validation's time."""
    return tuple(fmt(m, _decimals(m)) for m in marks), max([2, *(_decimals(m) for m in marks)])


def aggregate(aggregation: Aggregation, values: Mapping[int, float | None]) -> float | None:
    """The year's value from the quarterly ones that are filled (quarter → value)."""
    filled = [values[q] for q in (1, 2, 3, 4) if values.get(q) is not None]
    if not filled:
        return None
    if aggregation is Aggregation.LAST:
        return filled[-1]
    if aggregation is Aggregation.MAX:
        return max(filled)
    total = _fsum(filled)
    return total if aggregation is Aggregation.SUM else total / len(filled)


def _fsum(values: Iterable[float]) -> float:
    """Exact sum; fsum raises on overflow where Excel's SUM gives a (huge) number, so fall back to inf."""
    values = list(values)
    try:
        return math.fsum(values)
    except OverflowError:
        return sum(values)


def milestone_level(levels: Mapping[int, int | None]) -> int:
    """Highest level n such that levels 1…n are all reached (level → quarter reached, or None)."""
    achieved = 0
    for n in (1, 2, 3, 4, 5):
        if levels.get(n) is None:
            break
        achieved = n
    return achieved


def thresholds_score(v: float, t: list[float], direction: Direction) -> float:
    """Linear interpolation over t1…t5 (unrounded). Mirrors the Excel formula branch for branch."""
    if direction is Direction.HIGHER:
        if v < t[0]:
            return 0.0
        if v >= t[4]:
            return 5.0
        for n in (1, 2, 3):
            if v < t[n]:
                return n + (v - t[n - 1]) / (t[n] - t[n - 1])
        return 4 + (v - t[3]) / (t[4] - t[3])
    if v > t[0]:
        return 0.0
    if v <= t[4]:
        return 5.0
    for n in (1, 2, 3):
        if v > t[n]:
            return n + (t[n - 1] - v) / (t[n - 1] - t[n])
    return 4 + (t[3] - v) / (t[3] - t[4])


def meets(value: float, target: float, direction: Direction) -> bool:
    return value >= target if direction is Direction.HIGHER else value <= target


def year_value(ind: Indicator, result_value: float | None, quarters: Mapping[int, float | None],
               levels: Mapping[int, int | None]) -> float | None:
    if ind.scoring is Scoring.MILESTONE:
        return float(milestone_level(levels))
    if result_value is not None:
        return result_value
    return aggregate(ind.aggregation, quarters)


def score_indicator(
    ind: Indicator,
    *,
    result_value: float | None = None,
    quarters: Mapping[int, float | None] | None = None,
    levels: Mapping[int, int | None] | None = None,
) -> Score:
    quarters = quarters or {}
    levels = levels or {}
    v = year_value(ind, result_value, quarters, levels)
    if ind.scoring is Scoring.MILESTONE:
        level = int(v or 0)
        met = meets(level, ind.target, ind.direction)
        if level == 0:
            why, why_en = "ยังไม่บรรลุระดับ 1 → 0.00", "level 1 not reached yet → 0.00"
        elif level == 1:
            why, why_en = "บรรลุระดับ 1 → 1.00", "level 1 reached → 1.00"
        else:
            why, why_en = f"บรรลุระดับ 1–{level} ครบ → {level:.2f}", f"levels 1–{level} all reached → {level:.2f}"
        return Score(float(level), met, float(level), why, why_en)
    if v is None:
        return Score(None, None, None, "ยังไม่มีผลการดำเนินงาน", "no result yet")
    met = meets(v, ind.target, ind.direction)
    if ind.scoring is Scoring.PASS_FAIL:
        value = 5.0 if met else 0.0
        sign = "≥" if ind.direction is Direction.HIGHER else "≤"
        sign = sign if met else {"≥": "<", "≤": ">"}[sign]
        shown, (target,) = _shown(v, [ind.target])
        why = f"{shown} {sign} เป้าหมาย {target} → {value:.2f}"
        return Score(value, met, v, why, f"{shown} {sign} target {target} → {value:.2f}")
    value = round2(thresholds_score(v, ind.thresholds, ind.direction))
    return Score(value, met, v, _explain_thresholds(v, ind.thresholds, ind.direction, value),
                 _explain_thresholds(v, ind.thresholds, ind.direction, value, english=True))


def _explain_thresholds(v: float, t: list[float], direction: Direction, value: float, *,
                        english: bool = False) -> str:
    higher = direction is Direction.HIGHER
    shown, marks = _shown(v, t)
    level = "level" if english else "ระดับ"
    if (v < t[0]) if higher else (v > t[0]):
        word = ("below" if higher else "above") if english else ("ต่ำกว่า" if higher else "สูงกว่า")
        return f"{shown} {word} {marks[0]} ({level} 1) → 0.00"
    if (v >= t[4]) if higher else (v <= t[4]):
        word = ("reaches" if higher else "at most") if english else ("ถึง" if higher else "ไม่เกิน")
        return f"{shown} {word} {marks[4]} ({level} 5) → 5.00"
    for n in range(4):
        inside = (t[n] <= v < t[n + 1]) if higher else (t[n] >= v > t[n + 1])
        if inside:
            between, both = ("between", "and") if english else ("อยู่ระหว่าง", "และ")
            return (f"{shown} {between} {marks[n]} ({level} {n + 1}) {both} {marks[n + 1]} ({level} {n + 2}) "
                    f"→ {value:.2f}")
    return f"{shown} → {value:.2f}"  # pragma: no cover - the branches above are exhaustive


def district_score(items: Iterable[tuple[float, float | None]]) -> float | None:
    """Weighted mean of (weight, score); an indicator without a score counts as 0."""
    pairs = list(items)
    total = _fsum(w for w, _ in pairs)
    if not pairs or total <= 0:
        return None
    return round2(_fsum(w * (s or 0.0) for w, s in pairs) / total)


def assessed_district_score(items: Iterable[tuple[float, float | None, float | None]]) -> float | None:
    """The ranking rule once head office has reviewed: (weight, own score, head office's score) per
    indicator; head office's score replaces the district's own where given, indicator by indicator."""
    return district_score((w, own if hq is None else hq) for w, own, hq in items)


# ---------------------------------------------------------------------------------------------
# Excel formulas over the sheet-scoped defined names (see form_spec.yaml).


def _num(x: float) -> str:
    return repr(float(x)).removesuffix(".0") if float(x).is_integer() else repr(float(x))


_THAI_DIGIT_CHARS = "๐๑๒๓๔๕๖๗๘๙"
QUARTER_LIST = "{1,2,3,4}"


def excel_number(ref: str) -> str:
    """The one normalisation every formula reads an input through: ``ref`` as a number.

    Thai digits become Arabic ones, surrounding spaces go, and VALUE reads the rest (thousands
    commas included), so "๑,๒๓๔" typed as text is 1234 as thai.parse_number reads it. Anything
    VALUE cannot read is an error, which the callers turn into "blank" (the engine's KPI-E301 cell
    does not count either). Short enough (under 255 characters with a cell reference) to sit inside
    a data validation rule, which Excel evaluates with the typed value before any helper recalculates.
    """
    expr = f"TRIM({ref})"
    for thai_digit, digit in zip(_THAI_DIGIT_CHARS, "0123456789", strict=True):
        expr = f'SUBSTITUTE({expr},"{thai_digit}","{digit}")'
    return f"VALUE({expr})"


def excel_quarter_helper() -> str:
    """The reporting quarter the sheet scores as of: the cover's choice (Thai digits read), 4 when
    it is blank or not 1–4 (then nothing after the latest filled quarter exists, so scoring as of
    quarter 4 equals the engine's "latest quarter filled")."""
    return f"=IFERROR(MATCH({excel_number('report_quarter')},{QUARTER_LIST},0),4)"


def excel_input_helper(field_type: str, ref: str, quarter: int | None, rq: str) -> str:
    """Hidden helper for one input: its number, or "" when blank, unreadable or after quarter ``rq``.

    - number of quarter q: blank at reporting quarters before q (a later quarter never counts);
    - the typed year's result: as typed (it belongs to the quarter the cover declares);
    - a level's quarter: the quarter 1–4 it was reached, blank when not by ``rq``.
    """
    if field_type == "quarter":
        found = f"MATCH({excel_number(ref)},{QUARTER_LIST},0)"
        return f'=IFERROR({found}/({found}<={rq}),"")'
    value = f'IF(ISNUMBER({ref}),{ref},IFERROR({excel_number(ref)},""))'
    return f'=IF({rq}<{quarter},"",{value})' if quarter is not None else f"={value}"


def _helpers() -> dict[str, str]:
    from .form import load_spec

    spec = load_spec()
    return {f.name: spec.helper_a1(f.name) for f in spec.helped_fields()}


def excel_year_value(ind: Indicator) -> str:
    """Formula for the hidden ``year_value`` cell, over the helper cells (as of the reporting quarter)."""
    h = _helpers()
    if ind.scoring is Scoring.MILESTONE:
        expr = "5"
        for n in (5, 4, 3, 2, 1):
            expr = f"IF(NOT(ISNUMBER({h[f'level_{n}']})),{n - 1},{expr})"
        return "=" + expr
    qs = [h[f"q{q}_value"] for q in (1, 2, 3, 4)]
    q = ",".join(qs)
    last = '""'
    for ref in qs:
        last = f"IF(ISNUMBER({ref}),{ref},{last})"
    agg = {
        Aggregation.SUM: f'IF(COUNT({q})=0,"",SUM({q}))',
        Aggregation.MAX: f'IF(COUNT({q})=0,"",MAX({q}))',
        Aggregation.MEAN: f'IF(COUNT({q})=0,"",AVERAGE({q}))',
        Aggregation.LAST: last,
    }[ind.aggregation]
    result = h["result_value"]
    return f"=IF(ISNUMBER({result}),{result},{agg})"


def excel_score(ind: Indicator) -> str:
    v = "year_value"
    if ind.scoring is Scoring.MILESTONE:
        return f"={v}"
    cmp = ">=" if ind.direction is Direction.HIGHER else "<="
    if ind.scoring is Scoring.PASS_FAIL:
        return f'=IF({v}="","",IF({v}{cmp}{_num(ind.target)},5,0))'
    t = [_num(x) for x in ind.thresholds]
    if ind.direction is Direction.HIGHER:
        expr = f"4+({v}-{t[3]})/({t[4]}-{t[3]})"
        for n in (3, 2, 1):
            expr = f"IF({v}<{t[n]},{n}+({v}-{t[n - 1]})/({t[n]}-{t[n - 1]}),{expr})"
        expr = f"IF({v}<{t[0]},0,IF({v}>={t[4]},5,{expr}))"
    else:
        expr = f"4+({t[3]}-{v})/({t[3]}-{t[4]})"
        for n in (3, 2, 1):
            expr = f"IF({v}>{t[n]},{n}+({t[n - 1]}-{v})/({t[n - 1]}-{t[n]}),{expr})"
        expr = f"IF({v}>{t[0]},0,IF({v}<={t[4]},5,{expr}))"
    return f'=IF({v}="","",ROUND({expr},2))'


def excel_target_met(ind: Indicator) -> str:
    cmp = ">=" if ind.direction is Direction.HIGHER else "<="
    return f'=IF(year_value="","",IF(year_value{cmp}{_num(ind.target)},"{MET_TH}","{NOT_MET_TH}"))'
