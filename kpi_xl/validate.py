"""The validation engine: one workbook's contract cells → a scored, fully checked district report.

The same :func:`evaluate` runs behind ``kpi-xl validate``, the Excel button (over cells fetched by
xlwings) and head office's consolidation, so what passes in a district office passes at head
office. The rules themselves live in :mod:`kpi_xl.rules`; this module only orders them, chooses the
catalog that scores, and fills the report.

Decisions (documented in the validation docs as well):

- **Which catalog scores.** The catalog given by head office when the workbook was built from it
  (hashes equal); otherwise the catalog embedded in the metadata sheet — what the district saw, and
  all the Excel button has. A different given catalog is reported (KPI-E106), never silently used.
- **Reporting quarter.** ``quarter`` given to the run wins. Otherwise the cover sheet's choice; when
  that is blank or not 1–4 (KPI-E112) the engine assumes the latest quarter anything was filled for
  (quarterly values/narratives, levels' quarters; 1 if nothing), so the clerk sees the one real
  mistake instead of every later quarter's inputs reported missing, as assuming quarter 4 would.
- **Scores as of the reporting quarter.** Only what belongs to quarters up to the reporting
  quarter counts: levels after it (KPI-E402) are errors, not achievements; quarterly values after
  it (KPI-W404, a warning) are left out; the typed year's result belongs to the quarter the cover
  declares (or, when the cover is unreadable, the latest quarter filled), so a run for an earlier
  quarter scores the quarterly values up to it instead. The sheet's helper cells do the same with
  the cover's quarter, so the Python score equals the formula's.
- **Cached cells.** ``score``, ``target_met`` and ``year_value`` are recomputed; their
  :class:`~kpi_xl.model.FieldValue` carries the recomputed value (``target_met`` as the sheet shows
  it: "ผ่าน"/"ไม่ผ่าน"/"") with the cell to write it to.
- **A section's copy** (``kpi-xl build --split-by``): the other sections' missing inputs are not
  reported (their sheets are locked in this copy), and KPI-W620 says it is a copy to be merged.
- **Far from the usual** (KPI-W630, a warning): a workbook built with head office's history carries
  the district's own past values; a value far from them (median and MAD, :mod:`kpi_xl.outliers`) is
  pointed out. The other districts' spread is checked at head office (consolidation).
- **Missing indicator sheet** (KPI-E110): the indicator still applies, so it is listed with no
  score and counts as 0 in the district score.
"""

from __future__ import annotations

import gc
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import reference, rules, scoring
from .catalog import Catalog, ErrorScores, Indicator
from .form import FormSpec, load_spec
from .model import DistrictReport, IndicatorResult, Meta, RawWorkbook, SignoffState, parse_meta
from .problems import KpiError, Location, Problem, Report, problem

__all__ = ["evaluate", "validate_file"]


def validate_file(
    path: str | Path,
    *,
    catalog: Catalog | None = None,
    quarter: int | None = None,
    expected_district: int | None = None,
) -> DistrictReport:
    """Read a workbook file and :func:`evaluate` it. Never raises for bad input: an unreadable file
    (corrupt, .xls, encrypted, not ours) gives ``readable=False`` with its one located problem."""
    from .reader import read_workbook

    # The cyclic garbage collector paused for the read and the checks, as read_workbook pauses it
    # for the read alone: both make thousands of container objects and no reference cycle, and
    # the collections they triggered in between were as much again as the read's own. Left as
    # the caller had it; collected as usual afterwards.
    collecting = gc.isenabled()
    if collecting:
        gc.disable()
    try:
        try:
            raw = read_workbook(path)
        except KpiError as exc:
            return DistrictReport(file=str(path), readable=False, problems=Report(problems=list(exc.problems)))
        except Exception as exc:  # noqa: BLE001 - a file no reader foresaw must still give a located problem
            detail = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
            return DistrictReport(file=str(path), readable=False, problems=Report(
                problems=[problem("KPI-E100", Location(file=str(path)), detail=detail)]))
        return evaluate(raw, catalog=catalog, quarter=quarter, expected_district=expected_district)
    finally:
        if collecting:
            gc.enable()


def evaluate(
    raw: RawWorkbook,
    *,
    catalog: Catalog | None = None,
    quarter: int | None = None,
    expected_district: int | None = None,
) -> DistrictReport:
    """Check and score one workbook's cells; every problem is collected, none stops the run."""
    if quarter is not None and quarter not in rules.QUARTERS:
        raise ValueError(f"quarter must be 1–4, got {quarter!r}")
    spec = load_spec()
    not_ours = rules.is_kpi_workbook(raw, spec)
    if not_ours:
        return DistrictReport(file=raw.file, readable=False, modified=raw.modified, problems=Report(problems=not_ours))

    structure: list[Problem] = [*rules.meta_sheet_present(raw, spec)]
    meta = _meta(raw, spec)
    embedded = _embedded_catalog(meta.catalog_json) if meta is not None else None
    given_hash = _content_hash(catalog) if catalog is not None else None
    structure += rules.meta_intact(raw, spec, meta, catalog_readable=embedded is not None)
    if catalog is not None and meta is not None and meta.catalog_hash == given_hash:
        used = catalog
    else:
        used = embedded or catalog
    if meta is not None:
        # Head office's catalog lists the districts it covers; without one, the 50 official codes
        # (the embedded catalog always agrees with its own workbook, so it proves nothing).
        known = {d.code for d in catalog.districts} if catalog is not None else set(reference.districts())
        reference_catalog = catalog or used
        structure += rules.template_version_known(raw, spec, meta)
        structure += rules.catalog_matches(raw, spec, meta, catalog, given_hash)
        structure += rules.district_known(raw, spec, meta, known)
        structure += rules.district_expected(raw, spec, meta, expected_district)
        structure += rules.fiscal_year_matches(raw, spec, meta, reference_catalog.fiscal_year if reference_catalog else None)
    # A contract name pointing elsewhere (KPI-E115, found by the reader) is not read; it is not
    # also reported as missing (KPI-E111).
    misdirected = {(p.location.sheet, p.location.name) for p in raw.problems if p.code == "KPI-E115"}
    misdirected_names = {name for _, name in misdirected}
    structure += raw.problems
    structure += [p for p in rules.workbook_names_present(raw, spec) if p.params.get("value") not in misdirected_names]

    fiscal_year = meta.fiscal_year if meta is not None else (used.fiscal_year if used is not None else None)
    if meta is not None:
        codes = list(meta.indicator_codes)
    elif used is not None:
        codes = [ind.code for ind in used.indicators if ind.code in raw.sheets]
    else:
        codes = []
    by_code = {ind.code: ind for ind in used.indicators} if used is not None else {}

    pages: list[tuple[Indicator, rules.Page | None, list[Problem]]] = []
    for code in codes:
        found = rules.indicator_sheet_present(raw, spec, code)
        structure += found
        ind = by_code.get(code)
        if ind is None or fiscal_year is None:
            continue  # only with a tampered metadata sheet (KPI-E104/E106 say so): nothing to score by
        if found:
            pages.append((ind, None, []))
            continue
        page = rules.Page(file=raw.file, spec=spec, indicator=ind, sheet=code, cells=raw.sheets[code],
                          fiscal_year=fiscal_year)
        page_problems = [p for p in rules.defined_names_present(page)
                         if (p.location.sheet, p.location.name) not in misdirected]
        for rule in rules.READ_RULES:
            page_problems += rule(page)
        pages.append((ind, page, page_problems))

    cover = rules.read_report_quarter(raw)  # what the cover itself says (head office checks it, E612)
    declared = cover or _latest_quarter([p for _, p, _ in pages if p is not None])
    if quarter is None:
        structure += rules.report_quarter_chosen(raw, spec)
        quarter = declared

    results: list[IndicatorResult] = []
    problems: list[Problem] = list(structure)
    for ind, page, page_problems in pages:
        if page is None:
            results.append(IndicatorResult(code=ind.code, sheet=ind.code, name_th=ind.name_th, weight=ind.weight,
                                           scoring=ind.scoring.value, explanation_th="อ่านแผ่นงานของตัวชี้วัดไม่ได้",
                                           explanation_en="the indicator's sheet could not be read"))
            continue
        page.quarter, page.declared_quarter = quarter, declared
        for rule in rules.PAGE_RULES:
            page_problems += rule(page)
        problems += sorted(page_problems, key=_position)
        results.append(_score(ind, page, page_problems))

    if meta is not None and meta.past_json:
        problems += _own_past(raw.file, results, quarter, meta.past_json)
    if meta is not None and meta.section:
        problems = _for_section(problems, meta.section, [ind for ind, _, _ in pages])
        cell = raw.meta.get("section")
        problems.append(problem("KPI-W620", Location(file=raw.file, sheet=spec.meta_sheet, name="section",
                                                     cell=cell.cell if cell is not None else None),
                                value=meta.section))

    rule = used.error_scores if used is not None else ErrorScores.SCORED
    scored = _weighted(results, rule)
    signed = _signoff(raw, spec, meta, problems)
    return DistrictReport(
        file=raw.file,
        meta=meta,
        district_code=meta.district_code if meta is not None else None,
        district_name_th=meta.district_name_th if meta is not None else None,
        district_name_en=meta.district_name_en if meta is not None else None,
        fiscal_year=fiscal_year,
        report_quarter=quarter,
        declared_quarter=cover,
        modified=raw.modified,
        indicators=results,
        district_score=scoring.district_score(scored) if results else None,
        problems=Report(problems=problems),
        signoff=signed,
    )


def _signoff(raw: RawWorkbook, spec: FormSpec, meta: Meta | None, problems: list[Problem]) -> SignoffState | None:
    """The district's sign-off as the cells stand now; a change after signing or a damaged stamp
    is a warning (head office decides what it means), located on the first changed cell."""
    if meta is None:
        return None
    from .signoff import state_of

    state = state_of(raw, spec)
    if state.state == "changed":
        first = state.changed[0]
        sheet, _, cell = first.rpartition("!")
        shown = ", ".join(state.changed[:10]) + (f" …(+{len(state.changed) - 10})" if len(state.changed) > 10 else "")
        problems.append(problem("KPI-W701", Location(file=raw.file, sheet=sheet, cell=cell), quarter=state.quarter,
                                time=state.time, count=len(state.changed), cells=shown))
    elif state.state == "damaged":
        problems.append(problem("KPI-W702", Location(file=raw.file, sheet=spec.meta_sheet)))
    return state


def _own_past(file: str, results: list[IndicatorResult], quarter: int, past_json: str) -> list[Problem]:
    """KPI-W630 against the district's own past, carried in the workbook by ``kpi-xl build --history``
    (so the button warns as head office does); an unreadable history warns about nothing."""
    from .model import DistrictPast
    from .outliers import own_past_warnings

    try:
        past = DistrictPast.model_validate_json(past_json)
    except ValueError:
        return []
    return own_past_warnings(file, results, quarter, past)


def _for_section(problems: list[Problem], section: str, indicators: list[Indicator]) -> list[Problem]:
    """In a section's copy (kpi-xl build --split-by) the other sections' sheets are locked: their
    inputs missing is not this clerk's to fix, so those "required" errors are left to the merged
    workbook. Every other problem stays."""
    from .model import REQUIRED_CODES, section_owns

    others = {ind.code for ind in indicators if not section_owns(section, ind.responsible)}
    return [p for p in problems if not (p.code in REQUIRED_CODES and p.location.sheet in others)]


def _meta(raw: RawWorkbook, spec: FormSpec) -> Meta | None:
    if not raw.meta:
        return None
    from .keys import load_key

    key = load_key()  # head office's secret, from its environment only (None on a district PC)
    try:
        return parse_meta(raw.meta, key=key)
    except (ValueError, TypeError, KeyError):
        return None


_HASHES: dict[int, tuple[Catalog, str]] = {}


def _content_hash(catalog: Catalog) -> str:
    """The given catalog's hash, once per catalog object (a consolidation passes the same one to
    every workbook). The entry keeps the catalog alive, so its id cannot be reused meanwhile."""
    entry = _HASHES.get(id(catalog))
    if entry is None or entry[0] is not catalog:
        if len(_HASHES) > 8:
            _HASHES.clear()
        entry = _HASHES[id(catalog)] = (catalog, catalog.content_hash)
    return entry[1]


@lru_cache(maxsize=16)
def _embedded_catalog(catalog_json: str) -> Catalog | None:
    """The catalog the workbook carries (cached: a consolidation reads the same one 50 times)."""
    try:
        return Catalog.model_validate_json(catalog_json)
    except ValueError:
        return None


def _latest_quarter(pages: list[rules.Page]) -> int:
    latest = 1
    for page in pages:
        for spec in page.fields():
            if spec.quarter is not None and page.filled(spec.name):
                latest = max(latest, spec.quarter)
        for q in page.level_quarters().values():
            if q is not None:
                latest = max(latest, q)
    return latest


def _weighted(results: list[IndicatorResult], rule: ErrorScores) -> list[tuple[float, float | None]]:
    """(weight, score) pairs for the district score under the catalog's rule for flagged scores."""
    pairs: list[tuple[float, float | None]] = []
    for r in results:
        if r.flagged and rule is ErrorScores.EXCLUDED:
            r.counted = False
            continue
        pairs.append((r.weight, 0.0 if r.flagged and rule is ErrorScores.ZERO else r.score))
    return pairs


def _score_inputs(ind: Indicator, page: rules.Page, typed: bool) -> list[str]:
    """The input names a score rests on: the levels, or the typed result, or the quarterly values
    up to the reporting quarter (the typed result too: an unreadable one was meant to score)."""
    if ind.scoring.value == "milestone":
        return [f"level_{n}" for n in rules.LEVELS]
    if typed:
        return ["result_value"]
    return ["result_value", *(f"q{q}_value" for q in rules.QUARTERS if q <= page.quarter)]


def _score(ind: Indicator, page: rules.Page, page_problems: list[Problem]) -> IndicatorResult:
    typed = page.scored_result()
    result = scoring.score_indicator(
        ind,
        result_value=typed,
        quarters=page.scored_quarter_values(),
        levels=page.scored_levels(),
    )
    names = set(_score_inputs(ind, page, typed is not None))
    cells = {page.cells[name].cell for name in names if name in page.cells} - {None, ""}
    # An error at an input's cell, or at its name when the cell is gone (KPI-E111, #REF!)
    flagged = sorted({p.location.cell or p.location.name or "" for p in page_problems
                      if p.is_error and p.location.sheet == page.sheet
                      and (p.location.cell in cells if p.location.cell else p.location.name in names)},
                     key=lambda where: _position_of(where))
    difference = None
    if typed is not None and any(p.code == "KPI-W402" for p in page_problems):
        if ind.scoring.value == "milestone":
            expected: float | None = float(scoring.milestone_level(page.scored_levels()))
        else:
            expected = scoring.aggregate(ind.aggregation, page.scored_quarter_values())
        difference = None if expected is None else typed - expected
    if result.value is None:
        source = None
    elif ind.scoring.value != "milestone" and typed is not None:
        source = "typed"
    else:
        source = "computed"
    computed: dict[str, Any] = {"year_value": result.basis, "score": result.value, "target_met": result.target_met_th}
    # Plain dicts, made FieldValues by IndicatorResult's one validation: ~23 FieldValue(...) calls
    # per indicator cost more than the rest of the scoring (the reader builds its Cells the same way).
    fields: dict[str, Any] = {
        name: {"cell": cell, "value": computed[name] if name in computed else page.values.get(name)}
        for name, cell in page.cells.items()
    }
    from .signoff import sheet_hash

    return IndicatorResult(
        code=ind.code,
        sheet=page.sheet,
        name_th=ind.name_th,
        weight=ind.weight,
        scoring=ind.scoring.value,
        fields=fields,
        content_hash=sheet_hash(page.cells, page.spec),
        year_value=result.basis,
        score=result.value,
        target_met=result.target_met,
        explanation_th=result.explanation_th,
        explanation_en=result.explanation_en,
        flagged_cells=flagged,
        value_source=source,
        typed_difference=scoring.round2(difference) if difference is not None else None,
    )


_A1 = re.compile(r"^\$?([A-Z]{1,3})\$?(\d+)$")


def _position(item: Problem) -> tuple[int, int]:
    """Sheet order for a clerk reading top to bottom: row, then column; unlocated last."""
    return _position_of(item.location.cell)


def _position_of(cell: str | None) -> tuple[int, int]:
    m = _A1.match(cell or "")
    if m is None:
        return (1 << 30, 0)
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    return (int(m.group(2)), col)
