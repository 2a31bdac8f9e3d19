"""Every validation rule: one small function per check, named for what it checks.

A rule reads plain models — the fetched :class:`~kpi_xl.model.RawWorkbook`, the parsed
:class:`~kpi_xl.model.Meta`, the :class:`~kpi_xl.catalog.Catalog`, or one indicator sheet as a
:class:`Page` — and returns every problem it finds, located at the cell (file, sheet, A1, defined
name). Rules never raise on bad input and never stop at the first problem. The engine
(:mod:`kpi_xl.validate`) decides the order and scores.

:data:`RULES` maps each registry code to the rule(s) that report it, so a code quoted in a message
leads to its check in one hop (and a test keeps every structure/required/type/meaning code covered).
Codes KPI-E100…E102 (file cannot be opened, .xls, encrypted) belong to the reader, which has the
file; KPI-E103 is also raised there for files that are no workbook of ours at all.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from . import scoring, thai
from .catalog import Aggregation, Catalog, Indicator, Scoring, ValueKind
from .form import FieldSpec, FormSpec
from .model import Cell, Meta, RawWorkbook
from .problems import Location, Problem, problem

QUARTERS = (1, 2, 3, 4)
LEVELS = (1, 2, 3, 4, 5)
TOLERANCE = 0.005
"""How far ``result_value`` may be from the quarterly values' aggregate: half a unit in the second
decimal, the precision the form prints, so a typed 86.67 for a mean of 86.666… passes."""

AGGREGATION_TH = {
    Aggregation.SUM: "ผลรวมรายไตรมาส",
    Aggregation.LAST: "ค่าของไตรมาสล่าสุด",
    Aggregation.MAX: "ค่าสูงสุดรายไตรมาส",
    Aggregation.MEAN: "ค่าเฉลี่ยรายไตรมาส",
}
MILESTONE_AGGREGATION_TH = "ระดับสูงสุดที่บรรลุครบทุกระดับก่อนหน้า"


# ---------------------------------------------------------------------------------------------
# One indicator sheet, as the rules see it


@dataclass(slots=True)
class Page:
    """One indicator sheet: catalog entry, the cells found by name, and their typed values.

    ``values`` holds the typed value of every field read so far (``None`` for blank or
    unreadable); ``unreadable`` the names whose text could not be read (already reported), so the
    "required" rules do not call a wrongly filled cell empty. ``quarter`` is the reporting quarter
    the page is scored as of; ``declared_quarter`` the one the cover declares (the typed year's
    result belongs to it), ``None`` when unknown.
    """

    file: str
    spec: FormSpec
    indicator: Indicator
    sheet: str
    cells: dict[str, Cell]
    fiscal_year: int
    quarter: int = 4
    declared_quarter: int | None = None
    values: dict[str, Any] = field(default_factory=dict)
    unreadable: set[str] = field(default_factory=set)
    present: tuple[FieldSpec, ...] = ()
    required: dict[str, tuple[FieldSpec, ...]] = field(default_factory=dict)
    """Required kind (``quarterly``, ``year_end``, ``signature``) → the present fields of that
    kind: three "required" rules each asked every field its kind, ~1,800 times a workbook."""

    def __post_init__(self) -> None:
        cells = self.cells
        self.present = tuple(spec for spec in fields_for(self.spec, self.indicator.scoring.value)
                             if spec.name in cells and cells[spec.name].cell)
        required: dict[str, list[FieldSpec]] = {}
        for spec in self.present:
            kind = spec.required_kind
            if kind is not None:
                required.setdefault(kind, []).append(spec)
        self.required = {kind: tuple(specs) for kind, specs in required.items()}

    def fields(self, *types: str) -> Iterator[FieldSpec]:
        """Fields of this indicator's scoring kind that the sheet has (optionally of given types)."""
        if not types:
            return iter(self.present)
        return (spec for spec in self.present if spec.type in types)

    def at(self, name: str) -> Location:
        return self.cells[name].location(self.file)

    def filled(self, name: str) -> bool:
        cell = self.cells.get(name)
        return cell is not None and not cell.blank

    def labels(self, name: str) -> dict[str, str]:
        spec = self.spec.fields[name]
        return {"label_th": spec.label_th, "label_en": spec.label_en}

    def number(self, name: str) -> float | None:
        value = self.values.get(name)
        return value if isinstance(value, float) else None

    def quarter_values(self) -> dict[int, float | None]:
        """Quarter → typed value, every quarter filled (for checks on the cells themselves)."""
        return {q: self.number(f"q{q}_value") for q in QUARTERS}

    def scored_quarter_values(self) -> dict[int, float | None]:
        """Quarter → value that counts for the score: quarters up to the reporting quarter only.

        A later quarter's value is a warning (KPI-W404) and never counts, in the engine as in the
        sheet's helper cells, so a Q2 score is the same whether or not the district typed ahead.
        """
        return {q: (self.number(f"q{q}_value") if q <= self.quarter else None) for q in QUARTERS}

    def scored_result(self) -> float | None:
        """The typed year's result when it counts: it belongs to the quarter the cover declares, so
        scoring as of an earlier quarter uses the quarterly values up to that quarter instead."""
        if self.declared_quarter is not None and self.quarter < self.declared_quarter:
            return None
        return self.number("result_value")

    def level_quarters(self) -> dict[int, int | None]:
        """Level → quarter reached, as typed (``None`` when blank or unreadable)."""
        return {n: self.values.get(f"level_{n}") for n in LEVELS}

    def scored_levels(self) -> dict[int, int | None]:
        """Levels that count for the score: those reached up to the reporting quarter.

        A level dated after the reporting quarter is an error (KPI-E402), not an achievement; on
        valid input this equals what the sheet's formula counts (every level with a quarter).
        """
        return {n: (q if q is not None and q <= self.quarter else None) for n, q in self.level_quarters().items()}


_FIELDS_FOR: dict[tuple[int, str], tuple[FieldSpec, ...]] = {}


def fields_for(spec: FormSpec, scoring_kind: str) -> tuple[FieldSpec, ...]:
    """``spec.fields_for`` memoised: every rule asks it for every sheet of every workbook."""
    key = (id(spec), scoring_kind)
    found = _FIELDS_FOR.get(key)
    if found is None:
        found = _FIELDS_FOR[key] = tuple(spec.fields_for(scoring_kind))
        _KEEP.append(spec)  # the id stays this spec's while the entry exists
    return found


_KEEP: list[FormSpec] = []


def _show(raw: Any, limit: int = 60) -> str:
    """A cell's content as the clerk sees it, one line and short enough for a cell note."""
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, dt.datetime) and raw.time() == dt.time():
        raw = raw.date()
    if isinstance(raw, dt.date):
        return thai.format_thai_date(raw) if raw.year < 2400 else raw.isoformat()
    text = " ".join(str(raw).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _meta_at(raw: RawWorkbook, spec: FormSpec, key: str) -> Location:
    cell = raw.meta.get(key)
    if cell is not None:
        return cell.location(raw.file)
    return Location(file=raw.file, sheet=spec.meta_sheet)


def workbook_name_at(raw: RawWorkbook, spec: FormSpec, name: str) -> Location:
    """Where a workbook-scoped name is; when it is gone, the sheet the spec puts it on (if that
    sheet still exists: a location never names a sheet that is not there)."""
    cell = raw.workbook_cells.get(name)
    if cell is not None and cell.cell:
        return cell.location(raw.file)
    sheet = spec.sheets[spec.workbook_names[name].sheet]
    return Location(file=raw.file, sheet=sheet if sheet in raw.sheet_names else None, name=name)


# ---------------------------------------------------------------------------------------------
# Structure (KPI-E1xx)


def has_contract_names(raw: RawWorkbook, spec: FormSpec) -> bool:
    """Whether any sheet carries names of our contract (an indicator sheet of a kpi-xl workbook)."""
    return any(name in spec.fields for cells in raw.sheets.values() for name in cells)


def meta_sheet_exists(raw: RawWorkbook, spec: FormSpec) -> bool:
    return bool(raw.meta) or spec.meta_sheet in raw.sheet_names


def is_kpi_workbook(raw: RawWorkbook, spec: FormSpec) -> list[Problem]:
    """KPI-E103: neither the metadata sheet nor any indicator sheet of ours: some other workbook."""
    if meta_sheet_exists(raw, spec) or has_contract_names(raw, spec):
        return []
    return [problem("KPI-E103", Location(file=raw.file))]


def meta_sheet_present(raw: RawWorkbook, spec: FormSpec) -> list[Problem]:
    """KPI-E113: indicator sheets of ours, but the hidden metadata sheet was deleted."""
    if meta_sheet_exists(raw, spec) or not has_contract_names(raw, spec):
        return []
    return [problem("KPI-E113", Location(file=raw.file), sheet=spec.meta_sheet)]


def meta_intact(raw: RawWorkbook, spec: FormSpec, meta: Meta | None, catalog_readable: bool) -> list[Problem]:
    """KPI-E104: the metadata sheet is there but its rows are unreadable, or the checksum fails,
    or the catalog it carries cannot be read back."""
    if not meta_sheet_exists(raw, spec):
        return []
    if meta is not None and meta.checksum_ok and catalog_readable:
        return []
    return [problem("KPI-E104", _meta_at(raw, spec, "meta_checksum"), sheet=spec.meta_sheet)]


def template_version_known(raw: RawWorkbook, spec: FormSpec, meta: Meta) -> list[Problem]:
    """KPI-E105: the workbook was built by a template version this kpi-xl does not read."""
    if meta.template_version in spec.known_versions:
        return []
    return [problem("KPI-E105", _meta_at(raw, spec, "template_version"), value=meta.template_version,
                    expected=", ".join(spec.known_versions))]


def catalog_matches(raw: RawWorkbook, spec: FormSpec, meta: Meta, catalog: Catalog | None,
                    catalog_hash: str | None = None) -> list[Problem]:
    """KPI-E106: the workbook was built from another catalog than the one head office gave."""
    if catalog is None:
        return []
    expected = catalog_hash or catalog.content_hash
    if meta.catalog_hash == expected:
        return []
    return [problem("KPI-E106", _meta_at(raw, spec, "catalog_hash"), value=meta.catalog_hash[:12],
                    expected=expected[:12])]


def district_known(raw: RawWorkbook, spec: FormSpec, meta: Meta, known: set[int]) -> list[Problem]:
    """KPI-E107: the district code on the metadata sheet is no district of the catalog."""
    if meta.district_code in known:
        return []
    return [problem("KPI-E107", _meta_at(raw, spec, "district_code"), value=meta.district_code)]


def district_expected(raw: RawWorkbook, spec: FormSpec, meta: Meta, expected: int | None) -> list[Problem]:
    """KPI-E108: the workbook belongs to another district than the one it was sent for."""
    if expected is None or meta.district_code == expected:
        return []
    return [problem("KPI-E108", _meta_at(raw, spec, "district_code"), value=meta.district_code, expected=expected)]


def fiscal_year_matches(raw: RawWorkbook, spec: FormSpec, meta: Meta, fiscal_year: int | None) -> list[Problem]:
    """KPI-E109: the workbook is for another fiscal year than the catalog's."""
    if fiscal_year is None or meta.fiscal_year == fiscal_year:
        return []
    return [problem("KPI-E109", _meta_at(raw, spec, "fiscal_year"), value=meta.fiscal_year, expected=fiscal_year)]


def indicator_sheet_present(raw: RawWorkbook, spec: FormSpec, code: str) -> list[Problem]:
    """KPI-E110: an indicator the workbook was built with has no sheet (deleted or renamed).

    Located at the file only: the sheet does not exist, so nothing in it can be marked. A sheet
    that exists but was not fetched as an indicator sheet lost its ``kpi_code`` name (fetchers
    recognise indicator sheets by it): that is KPI-E111 on the sheet.
    """
    if code in raw.sheets:
        return []
    if code in raw.sheet_names:
        label = spec.fields["kpi_code"].label_th
        return [problem("KPI-E111", Location(file=raw.file, sheet=code, name="kpi_code"), value=f"kpi_code ({label})")]
    return [problem("KPI-E110", Location(file=raw.file), value=code)]


def defined_names_present(page: Page) -> list[Problem]:
    """KPI-E111: a contract name of this indicator's kind is missing or points nowhere (#REF!).

    Located at the sheet with the name but no cell: where the name pointed is unknown. The name
    then counts as unreadable, so no other rule judges it (or its neighbours) as blank.
    """
    found = []
    for spec in fields_for(page.spec, page.indicator.scoring.value):
        cell = page.cells.get(spec.name)
        if cell is None or not cell.cell:
            page.unreadable.add(spec.name)
            found.append(problem("KPI-E111", Location(file=page.file, sheet=page.sheet, name=spec.name),
                                 value=f"{spec.name} ({spec.label_th})"))
    return found


def workbook_names_present(raw: RawWorkbook, spec: FormSpec) -> list[Problem]:
    """KPI-E111 for the workbook-scoped names (district_code, fiscal_year, template_version,
    report_quarter): the Excel button and other tools read them. Names on a deleted metadata sheet
    are KPI-E113's alone."""
    found = []
    for name, where in spec.workbook_names.items():
        if where.sheet == "meta" and not meta_sheet_exists(raw, spec):
            continue
        cell = raw.workbook_cells.get(name)
        if cell is None or not cell.cell:
            found.append(problem("KPI-E111", workbook_name_at(raw, spec, name), value=name))
    return found


def read_report_quarter(raw: RawWorkbook) -> int | None:
    """The quarter chosen on the cover sheet, or ``None`` when blank or not 1–4."""
    cell = raw.workbook_cells.get("report_quarter")
    if cell is None or cell.blank:
        return None
    try:
        value = thai.parse_int(cell.raw)
    except (thai.ThaiParseError, ValueError, OverflowError):
        return None
    return value if value in QUARTERS else None


def report_quarter_chosen(raw: RawWorkbook, spec: FormSpec) -> list[Problem]:
    """KPI-E112: no quarter 1–4 chosen on the cover sheet (checked when none is given to the run)."""
    cell = raw.workbook_cells.get("report_quarter")
    if cell is None or not cell.cell or read_report_quarter(raw) is not None:
        return []  # a missing name is KPI-E111's
    return [problem("KPI-E112", cell.location(raw.file), value="" if cell.blank else _show(cell.raw))]


# ---------------------------------------------------------------------------------------------
# Types (KPI-E3xx). Each reads its fields' typed values into the page as it checks them.


def _read_fields(page: Page, field_type: str, parse: Callable[[Any], Any], code: str) -> list[Problem]:
    """Parse every field of ``field_type`` into the page's typed values; an unreadable one gets ``code``."""
    found = []
    for spec in page.fields(field_type):
        cell = page.cells[spec.name]
        try:
            page.values[spec.name] = parse(cell.raw)
        except (thai.ThaiParseError, ValueError, OverflowError):
            page.values[spec.name] = None
            page.unreadable.add(spec.name)
            found.append(problem(code, page.at(spec.name), value=_show(cell.raw), **page.labels(spec.name)))
    return found


def number_readable(page: Page) -> list[Problem]:
    """KPI-E301: a number field holds something that is not one number ("สิบ", "N/A", "#DIV/0!").

    Thai digits, thousands commas, stray spaces and a trailing unit are fine (thai.parse_number).
    """
    return _read_fields(page, "number", thai.parse_number, "KPI-E301")


def date_readable(page: Page) -> list[Problem]:
    """KPI-E302: a date field holds something that is not a date (Thai text dates are fine)."""
    return _read_fields(page, "date", lambda raw: thai.parse_date(raw, fiscal_year_hint=page.fiscal_year), "KPI-E302")


def date_in_fiscal_year(page: Page) -> list[Problem]:
    """KPI-E303: a date outside the workbook's fiscal year (1 Oct of the year before – 30 Sep)."""
    start, end = thai.fiscal_year_start(page.fiscal_year), thai.fiscal_year_end(page.fiscal_year)
    found = []
    for spec in page.fields("date"):
        value = page.values.get(spec.name)
        if isinstance(value, dt.date) and not start <= value <= end:
            found.append(problem("KPI-E303", page.at(spec.name), value=thai.format_thai_date(value),
                                 fiscal_year=page.fiscal_year, start=thai.format_thai_date(start),
                                 end=thai.format_thai_date(end), **page.labels(spec.name)))
    return found


def level_quarter_valid(page: Page) -> list[Problem]:
    """KPI-E304: a level's quarter is not 1–4 (blank means "not reached yet" and is fine)."""
    found = []
    for spec in page.fields("quarter"):
        cell = page.cells[spec.name]
        try:
            value = thai.parse_int(cell.raw)
        except (thai.ThaiParseError, ValueError, OverflowError):
            value = -1
        if value is not None and value not in QUARTERS:
            page.unreadable.add(spec.name)
            found.append(problem("KPI-E304", page.at(spec.name), value=_show(cell.raw), **page.labels(spec.name)))
            value = None
        page.values[spec.name] = value
    return found


def read_texts(page: Page) -> list[Problem]:
    """Not a check: text and fixed fields become stripped strings (numbers in them stay numbers
    for fixed cells such as target_value). Computed cells are left to the engine (recomputed)."""
    for spec in page.fields("text", "fixed"):
        raw = page.cells[spec.name].raw
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            page.values[spec.name] = None
        elif spec.type == "fixed" and isinstance(raw, (int, float)) and not isinstance(raw, bool):
            page.values[spec.name] = raw
        elif isinstance(raw, str):
            page.values[spec.name] = raw.strip()
        else:
            page.values[spec.name] = _show(raw, limit=10_000)
    return []


# ---------------------------------------------------------------------------------------------
# Required by the reporting quarter (KPI-E2xx)


def _required_missing(page: Page, kind: str, code: str) -> list[Problem]:
    found = []
    for spec in page.required.get(kind, ()):
        if (spec.required_from or 0) > page.quarter:
            continue
        if not page.filled(spec.name) and spec.name not in page.unreadable:
            found.append(problem(code, page.at(spec.name), quarter=spec.quarter or spec.required_from,
                                 **page.labels(spec.name)))
    return found


def quarterly_inputs_filled(page: Page) -> list[Problem]:
    """KPI-E201: reporting quarter N needs every quarterly input of quarters 1…N (value, report)."""
    return _required_missing(page, "quarterly", "KPI-E201")


def year_end_inputs_filled(page: Page) -> list[Problem]:
    """KPI-E202: from quarter 4, the year-end summary and the evidence."""
    return _required_missing(page, "year_end", "KPI-E202")


def signature_filled(page: Page) -> list[Problem]:
    """KPI-E203: from quarter 4, the signer's name, position and date."""
    return _required_missing(page, "signature", "KPI-E203")


# ---------------------------------------------------------------------------------------------
# Meaning (KPI-E4xx / W4xx)


def later_quarters_blank(page: Page) -> list[Problem]:
    """KPI-W404: an input of a quarter after the reporting quarter is already filled — usually the
    wrong quarter chosen on the cover sheet. Its value does not count (Page.scored_quarter_values),
    in the engine as in the sheet's helper cells."""
    return [
        problem("KPI-W404", page.at(spec.name), report_quarter=page.quarter, **page.labels(spec.name))
        for spec in page.fields()
        if spec.quarter is not None and spec.quarter > page.quarter and page.filled(spec.name)
    ]


_STATE = {
    "blank": ("ยังไม่ได้กรอก", "is blank"),
    "later": ("บรรลุในไตรมาส {q} ซึ่งช้ากว่า", "was reached later, in quarter {q}"),
}


def levels_in_order(page: Page) -> list[Problem]:
    """KPI-E401: level n reached in quarter q needs level n-1 reached in quarter q or earlier.

    Only neighbours are compared, so one gap gives one problem, at the higher level's cell. A
    level whose quarter is unreadable (KPI-E304) is not judged again.
    """
    levels = page.level_quarters()
    found = []
    for n in LEVELS[1:]:
        name, previous = f"level_{n}", f"level_{n - 1}"
        q, p = levels[n], levels[n - 1]
        if q is None or name not in page.cells or previous in page.unreadable:
            continue
        if p is None:
            state_th, state_en = _STATE["blank"]
        elif p > q:
            state_th, state_en = (s.format(q=p) for s in _STATE["later"])
        else:
            continue
        found.append(problem("KPI-E401", page.at(name), level=n, quarter=q, previous=n - 1,
                             previous_state=state_th, previous_state_en=state_en))
    return found


def levels_not_after_report_quarter(page: Page) -> list[Problem]:
    """KPI-E402: a level dated in a quarter after the one being reported (it does not count)."""
    return [
        problem("KPI-E402", page.at(f"level_{n}"), level=n, quarter=q, report_quarter=page.quarter)
        for n, q in page.level_quarters().items()
        if q is not None and q > page.quarter and f"level_{n}" in page.cells
    ]


def cumulative_not_falling(page: Page) -> list[Problem]:
    """KPI-W401: a running total (cumulative indicator) below the previous filled quarter's."""
    if not page.indicator.cumulative:
        return []
    found = []
    previous: float | None = None
    for q, value in page.quarter_values().items():
        if value is None:
            continue
        if previous is not None and value < previous:
            name = f"q{q}_value"
            found.append(problem("KPI-W401", page.at(name), value=value, previous=previous, **page.labels(name)))
        previous = value
    return found


def result_matches_quarters(page: Page) -> list[Problem]:
    """KPI-W402: the typed result (ผลงานที่ทำได้) differs from what the quarterly inputs give.

    Thresholds/pass_fail: the catalog's aggregation of the quarterly values. Milestone: the level
    the levels' quarters give. The score uses the typed result (thresholds/pass_fail) or the
    levels (milestone), so the clerk must know when the two disagree.
    """
    result = page.scored_result()
    if result is None or "result_value" not in page.cells:
        return []
    if page.indicator.scoring is Scoring.MILESTONE:
        expected: float | None = float(scoring.milestone_level(page.scored_levels()))
        name_th = MILESTONE_AGGREGATION_TH
    else:
        expected = scoring.aggregate(page.indicator.aggregation, page.scored_quarter_values())
        name_th = AGGREGATION_TH[page.indicator.aggregation]
    if expected is None or abs(result - expected) <= TOLERANCE:
        return []
    return [problem("KPI-W402", page.at("result_value"), value=result, expected=scoring.round2(expected),
                    aggregation=name_th)]


def narrative_dates_in_quarter(page: Page) -> list[Problem]:
    """KPI-W403: a quarterly narrative names a date of another quarter or fiscal year
    ("23 ธันวาคม 2563" belongs in quarter 1 of 2564). The year-end summary may name any date."""
    found = []
    for spec in page.fields("text"):
        if spec.quarter is None or not isinstance(page.values.get(spec.name), str):
            continue
        for day, written in thai.find_dates(page.values[spec.name]):
            year, q = thai.fiscal_period(day)
            if (year, q) != (page.fiscal_year, spec.quarter):
                found.append(problem("KPI-W403", page.at(spec.name), value=written, actual_quarter=q,
                                     actual_year=year, **page.labels(spec.name)))
    return found


def _numbers(page: Page) -> Iterator[tuple[str, float]]:
    for spec in page.fields("number"):
        value = page.number(spec.name)
        if value is not None:
            yield spec.name, value


def percent_in_range(page: Page) -> list[Problem]:
    """KPI-E403: a percentage (value_kind percent) above 100 or below 0."""
    if page.indicator.value_kind is not ValueKind.PERCENT:
        return []
    return [problem("KPI-E403", page.at(name), value=value, **page.labels(name))
            for name, value in _numbers(page) if not 0 <= value <= 100]


def count_not_negative(page: Page) -> list[Problem]:
    """KPI-E404: a count (value_kind count) below zero."""
    if page.indicator.value_kind is not ValueKind.COUNT:
        return []
    return [problem("KPI-E404", page.at(name), value=value, **page.labels(name))
            for name, value in _numbers(page) if value < 0]


def count_whole(page: Page) -> list[Problem]:
    """KPI-W405: a count with a fraction. A result averaged over quarters (aggregation mean) may
    have one, so it is not judged; negative counts are KPI-E404's."""
    if page.indicator.value_kind is not ValueKind.COUNT:
        return []
    mean = page.indicator.aggregation is Aggregation.MEAN
    return [problem("KPI-W405", page.at(name), value=value, **page.labels(name))
            for name, value in _numbers(page)
            if value >= 0 and not math.isclose(value, round(value), abs_tol=1e-9)
            and not (mean and name == "result_value")]


# ---------------------------------------------------------------------------------------------
# The index: code → rule(s), and the order the engine runs the page rules in.

READ_RULES: tuple[Callable[[Page], list[Problem]], ...] = (
    read_texts, number_readable, date_readable, date_in_fiscal_year, level_quarter_valid,
)
PAGE_RULES: tuple[Callable[[Page], list[Problem]], ...] = (
    quarterly_inputs_filled, year_end_inputs_filled, signature_filled, later_quarters_blank,
    levels_in_order, levels_not_after_report_quarter, cumulative_not_falling, result_matches_quarters,
    narrative_dates_in_quarter, percent_in_range, count_not_negative, count_whole,
)

RULES: dict[str, tuple[Callable[..., list[Problem]], ...]] = {
    "KPI-E103": (is_kpi_workbook,),
    "KPI-E104": (meta_intact,),
    "KPI-E105": (template_version_known,),
    "KPI-E106": (catalog_matches,),
    "KPI-E107": (district_known,),
    "KPI-E108": (district_expected,),
    "KPI-E109": (fiscal_year_matches,),
    "KPI-E110": (indicator_sheet_present,),
    "KPI-E111": (defined_names_present, workbook_names_present, indicator_sheet_present),
    "KPI-E112": (report_quarter_chosen,),
    "KPI-E113": (meta_sheet_present,),
    "KPI-E201": (quarterly_inputs_filled,),
    "KPI-E202": (year_end_inputs_filled,),
    "KPI-E203": (signature_filled,),
    "KPI-E301": (number_readable,),
    "KPI-E302": (date_readable,),
    "KPI-E303": (date_in_fiscal_year,),
    "KPI-E304": (level_quarter_valid,),
    "KPI-E401": (levels_in_order,),
    "KPI-E402": (levels_not_after_report_quarter,),
    "KPI-E403": (percent_in_range,),
    "KPI-E404": (count_not_negative,),
    "KPI-W401": (cumulative_not_falling,),
    "KPI-W402": (result_matches_quarters,),
    "KPI-W403": (narrative_dates_in_quarter,),
    "KPI-W404": (later_quarters_blank,),
    "KPI-W405": (count_whole,),
}
"""Registry code → the rule function(s) that report it."""
