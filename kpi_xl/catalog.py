"""The indicator catalog: head office's definition of the year's indicators.

Head office edits it as an Excel workbook (one row per indicator) or as YAML; both become the same
plain rows first, are checked field by field with every problem located the way a spreadsheet user
sees it (``[ทะเบียนตัวชี้วัด!K7]`` / ``[sheet 'indicators', row 7, column 'target']``), and only
then become pydantic models. Everything downstream (workbook builder, validator, consolidation)
reads the models, never the file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Iterable
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from . import reference, thai
from .defaults import new_list
from .problems import KpiError, Location, Problem, problem


class ResultType(StrEnum):
    OUTPUT = "output"
    OUTCOME = "outcome"

    @property
    def th(self) -> str:
        return {"output": "ผลผลิต (Output)", "outcome": "ผลลัพธ์ (Outcome)"}[self.value]


class Direction(StrEnum):
    HIGHER = "higher"
    LOWER = "lower"


class Scoring(StrEnum):
    MILESTONE = "milestone"
    THRESHOLDS = "thresholds"
    PASS_FAIL = "pass_fail"


class Aggregation(StrEnum):
    SUM = "sum"
    LAST = "last"
    MAX = "max"
    MEAN = "mean"


class ErrorScores(StrEnum):
    """What a score resting on a cell with an error (rejected data) counts for in the district's
    weighted score. Whatever the rule, the summary flags every such score and says which rule applied.

    - ``scored`` (default): counted as computed, flagged — head office sees the number the
      district's own data gives and decides; nothing silently changes a district's total;
    - ``zero``: counted as 0 until the district corrects it;
    - ``excluded``: left out of the weighted score (the other indicators' weights are rescaled).
    """

    SCORED = "scored"
    ZERO = "zero"
    EXCLUDED = "excluded"

    @property
    def th(self) -> str:
        return {"scored": "นับคะแนนตามที่คำนวณได้ (ทำเครื่องหมายไว้)",
                "zero": "นับเป็น 0 คะแนน",
                "excluded": "ไม่นำมาคิดในคะแนนถ่วงน้ำหนัก"}[self.value]

    @property
    def en(self) -> str:
        return {"scored": "counted as computed (flagged)", "zero": "counted as 0",
                "excluded": "left out of the weighted score"}[self.value]


class Kind(StrEnum):
    """What kind of KPI it is, as BMA's KPI monitor labels it beside output/outcome.

    The default is ``strategic``: the catalog is built from the development plan's strategic
    dimensions, so an indicator is strategic unless the catalog says it is routine work.
    """

    STRATEGIC = "strategic"
    ROUTINE = "routine"

    @property
    def th(self) -> str:
        return {"strategic": "ตัวชี้วัดเชิงยุทธศาสตร์", "routine": "ตัวชี้วัดงานประจำ"}[self.value]

    @property
    def en(self) -> str:
        return {"strategic": "strategic KPI", "routine": "routine KPI"}[self.value]


class ValueKind(StrEnum):
    LEVEL = "level"
    PERCENT = "percent"
    COUNT = "count"
    NUMBER = "number"


# Thai words a head-office clerk may type instead of the English keys.
_SYNONYMS: dict[str, dict[str, str]] = {
    "result_type": {"ผลผลิต": "output", "ผลลัพธ์": "outcome"},
    "direction": {"มากดี": "higher", "ยิ่งมากยิ่งดี": "higher", "น้อยดี": "lower", "ยิ่งน้อยยิ่งดี": "lower"},
    "scoring": {"ขั้นความสำเร็จ": "milestone", "เกณฑ์": "thresholds", "ผ่าน/ไม่ผ่าน": "pass_fail"},
    "aggregation": {"รวม": "sum", "ล่าสุด": "last", "สูงสุด": "max", "เฉลี่ย": "mean"},
    "value_kind": {"ระดับ": "level", "ร้อยละ": "percent", "จำนวน": "count", "ตัวเลข": "number"},
    "kind": {"ตัวชี้วัดเชิงยุทธศาสตร์": "strategic", "เชิงยุทธศาสตร์": "strategic", "ยุทธศาสตร์": "strategic",
             "ตัวชี้วัดงานประจำ": "routine", "งานประจำ": "routine"},
}
_ENUMS: dict[str, type[StrEnum]] = {
    "result_type": ResultType,
    "direction": Direction,
    "scoring": Scoring,
    "aggregation": Aggregation,
    "value_kind": ValueKind,
    "kind": Kind,
}
CODE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,20}$")


class Indicator(BaseModel):
    """One indicator: one form page per district."""

    model_config = ConfigDict(frozen=True)

    code: str = Field(title="รหัสตัวชี้วัด", description="Unique; also the sheet name", examples=["KPI-05"])
    name_th: str = Field(title="ชื่อตัวชี้วัด")
    name_en: str | None = Field(None, title="ชื่อภาษาอังกฤษ")
    result_type: ResultType = Field(title="ผลผลิต/ผลลัพธ์")
    dimension: int = Field(title="ประเด็นยุทธฯ ด้านที่", ge=1)
    sub_issue: str = Field("-", title="ย่อย")
    goal: str = Field("-", title="เป้าประสงค์ที่")
    definition: str = Field(title="คำนิยาม")
    method: str = Field(title="วิธีการคำนวณ")
    unit: str = Field(title="หน่วยนับ", examples=["ระดับ", "ร้อยละ"])
    target: float = Field(title="เป้าหมาย")
    direction: Direction = Field(Direction.HIGHER, title="ทิศทาง")
    scoring: Scoring = Field(title="วิธีให้คะแนน")
    levels: list[str] = Field(default_factory=new_list, title="ระดับ 1–5 (ขั้นความสำเร็จ)")
    thresholds: list[float] = Field(default_factory=new_list, title="เกณฑ์ t1–t5")
    aggregation: Aggregation = Field(Aggregation.LAST, title="การรวมผลรายไตรมาส")
    cumulative: bool = Field(False, title="ค่าสะสม")
    value_kind: ValueKind = Field(ValueKind.NUMBER, title="ชนิดค่า")
    weight: float = Field(title="น้ำหนัก", gt=0)
    districts: Literal["all"] | list[int] = Field("all", title="เขตที่ใช้")
    responsible: str = Field("", title="ผู้รับผิดชอบ")
    kind: Kind = Field(Kind.STRATEGIC, title="ประเภทตัวชี้วัด",
                       description="strategic (default) | routine: ตัวชี้วัดเชิงยุทธศาสตร์ / ตัวชี้วัดงานประจำ")

    def applies_to(self, district_code: int) -> bool:
        return self.districts == "all" or district_code in self.districts

    @property
    def has_quarter_values(self) -> bool:
        """Milestone indicators report the quarter each level was reached, not a number."""
        return self.scoring is not Scoring.MILESTONE


class Dimension(BaseModel):
    model_config = ConfigDict(frozen=True)
    number: int
    name_th: str
    name_en: str

    @property
    def label_th(self) -> str:
        """As the form prints it: "ด้านที่ ๕ - มหานครประชาธิปไตย : Bangkok as a Democratic City"."""
        return f"ด้านที่ {thai.to_thai_digits(str(self.number))} - {self.name_th} : {self.name_en}"


class DistrictRef(BaseModel):
    model_config = ConfigDict(frozen=True)
    code: int
    name_th: str
    name_en: str


class Catalog(BaseModel):
    """The year's catalog. Its :attr:`content_hash` is stamped into every workbook built from it."""

    model_config = ConfigDict(frozen=True)

    fiscal_year: int = Field(title="ปีงบประมาณ (พ.ศ.)", ge=2500, le=2700)
    title_th: str = ""
    title_en: str = ""
    deadlines: dict[int, dt.date] = Field(default_factory=dict, title="กำหนดส่งรายไตรมาส")
    dimensions: list[Dimension]
    districts: list[DistrictRef]
    indicators: list[Indicator]
    error_scores: ErrorScores = Field(
        ErrorScores.SCORED, title="คะแนนที่คิดจากข้อมูลที่ผิด",
        description="scored (default) | zero | excluded: what a score resting on a cell with an error counts for")
    submit_with_errors: bool = Field(
        False, title="ยืนยันส่งได้แม้มีข้อผิดพลาด",
        description="false (default): a district cannot sign off (ยืนยันส่งรายงาน) while errors are left")

    @property
    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON: same content → same hash, whatever file it came from.

        ``error_scores``, ``submit_with_errors`` and an indicator's ``kind`` at their defaults are
        left out, so catalogs (and the workbooks stamped with their hash) from before the options
        existed keep their hash.
        """
        data = self.model_dump(mode="json")
        if self.error_scores is ErrorScores.SCORED:
            del data["error_scores"]
        if not self.submit_with_errors:
            del data["submit_with_errors"]
        for ind in data["indicators"]:
            if ind.get("kind") == Kind.STRATEGIC.value:
                del ind["kind"]
        canonical = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def dimension(self, number: int) -> Dimension:
        return next(d for d in self.dimensions if d.number == number)

    def district(self, code: int) -> DistrictRef:
        for d in self.districts:
            if d.code == code:
                return d
        raise KeyError(code)

    def for_district(self, code: int) -> list[Indicator]:
        return [i for i in self.indicators if i.applies_to(code)]

    def indicator(self, code: str) -> Indicator:
        return next(i for i in self.indicators if i.code == code)

    def to_yaml(self) -> str:
        import yaml  # not at module level: the Excel button imports this module but never writes YAML

        data = self.model_dump(mode="json", exclude_defaults=False)
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)


# ---------------------------------------------------------------------------------------------
# The spreadsheet layout of a catalog workbook: one declaration used by both reader and writer.

INDICATOR_SHEET = ("ทะเบียนตัวชี้วัด", "indicators")
SETTINGS_SHEET = ("ข้อมูลทั่วไป", "settings")
DIMENSION_SHEET = ("ด้านยุทธศาสตร์", "dimensions")
DISTRICT_SHEET = ("เขต", "districts")

# (key, Thai header, width, help) in column order.
INDICATOR_COLUMNS: list[tuple[str, str, int, str]] = [
    ("code", "รหัส", 10, "เช่น KPI-01 (ใช้เป็นชื่อแผ่นงาน)"),
    ("name_th", "ชื่อตัวชี้วัด", 45, ""),
    ("name_en", "ชื่อภาษาอังกฤษ", 30, "ไม่บังคับ"),
    ("result_type", "ผลผลิต/ผลลัพธ์", 12, "output | outcome"),
    ("dimension", "ด้านที่", 8, "1–7"),
    ("sub_issue", "ย่อย", 10, "- ถ้าไม่มี"),
    ("goal", "เป้าประสงค์ที่", 10, "- ถ้าไม่มี"),
    ("definition", "คำนิยาม", 45, ""),
    ("method", "วิธีการคำนวณ", 40, ""),
    ("unit", "หน่วยนับ", 10, ""),
    ("target", "เป้าหมาย", 10, ""),
    ("direction", "ทิศทาง", 10, "higher | lower"),
    ("scoring", "วิธีให้คะแนน", 12, "milestone | thresholds | pass_fail"),
    ("level_1", "ระดับ 1", 30, "milestone"),
    ("level_2", "ระดับ 2", 30, "milestone"),
    ("level_3", "ระดับ 3", 30, "milestone"),
    ("level_4", "ระดับ 4", 30, "milestone"),
    ("level_5", "ระดับ 5", 30, "milestone"),
    ("t1", "เกณฑ์ 1", 8, "thresholds"),
    ("t2", "เกณฑ์ 2", 8, "thresholds"),
    ("t3", "เกณฑ์ 3", 8, "thresholds"),
    ("t4", "เกณฑ์ 4", 8, "thresholds"),
    ("t5", "เกณฑ์ 5", 8, "thresholds"),
    ("aggregation", "รวมผลรายไตรมาส", 12, "sum | last | max | mean"),
    ("cumulative", "ค่าสะสม", 8, "yes | no"),
    ("value_kind", "ชนิดค่า", 10, "level | percent | count | number"),
    ("weight", "น้ำหนัก", 8, "> 0, รวม 100"),
    ("districts", "เขตที่ใช้", 20, "all หรือ รหัสเขตคั่นด้วย , เช่น 1001,1030"),
    ("responsible", "ผู้รับผิดชอบ", 20, ""),
    ("kind", "ประเภทตัวชี้วัด", 14, "strategic (เชิงยุทธศาสตร์, ค่าเริ่มต้น) | routine (งานประจำ)"),
]
OPTIONAL_COLUMNS = {"kind"}  # added later: a catalog workbook without the column is still read
SETTING_KEYS = ["fiscal_year", "title_th", "title_en", "deadline_q1", "deadline_q2", "deadline_q3", "deadline_q4",
                "error_scores", "submit_with_errors"]


def column_letter(index: int) -> str:
    """0-based column index → A1 letters."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


# ---------------------------------------------------------------------------------------------
# Checking raw rows: every input format funnels into these.

Locator = Callable[[str], Location]
_REQUIRED = ["code", "name_th", "result_type", "dimension", "definition", "method", "unit", "target", "scoring", "weight"]


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def _check_indicator(raw: dict[str, Any], at: Locator) -> tuple[dict[str, Any] | None, list[Problem]]:
    """Turn one raw row into model input, collecting every problem in it."""
    found: list[Problem] = []
    out: dict[str, Any] = {}
    for key in _REQUIRED:
        if _blank(raw.get(key)):
            found.append(problem("KPI-C010", at(key), column=key))
    for key in ("code", "name_th", "name_en", "sub_issue", "goal", "definition", "method", "unit", "responsible"):
        value = raw.get(key)
        if not _blank(value):
            out[key] = str(value).strip() if not isinstance(value, float) or not value.is_integer() else str(int(value))
    if "code" in out and not CODE_PATTERN.match(out["code"]):
        found.append(problem("KPI-C027", at("code"), value=out["code"]))
    for key, enum in _ENUMS.items():
        value = raw.get(key)
        if _blank(value):
            continue
        text = str(value).strip()
        text = _SYNONYMS.get(key, {}).get(text, text).lower()
        try:
            out[key] = enum(text)
        except ValueError:
            found.append(problem("KPI-C011", at(key), value=value, choices=", ".join(e.value for e in enum)))
    for key in ("dimension", "target", "weight"):
        value = raw.get(key)
        if _blank(value):
            continue
        try:
            number = thai.parse_number(value)
        except (thai.ThaiParseError, TypeError):
            found.append(problem("KPI-C012", at(key), value=value))
            continue
        out[key] = int(number) if key == "dimension" and number is not None and float(number).is_integer() else number
    if "weight" in out and out["weight"] is not None and out["weight"] <= 0:
        found.append(problem("KPI-C024", at("weight"), value=out["weight"]))
    cumulative = raw.get("cumulative")
    if not _blank(cumulative):
        text = str(cumulative).strip().lower()
        if text in {"true", "yes", "y", "1", "ใช่", "สะสม"}:
            out["cumulative"] = True
        elif text in {"false", "no", "n", "0", "ไม่", "ไม่ใช่"}:
            out["cumulative"] = False
        else:
            found.append(problem("KPI-C011", at("cumulative"), value=cumulative, choices="yes, no"))
    districts = raw.get("districts")
    if _blank(districts) or str(districts).strip().lower() in {"all", "ทุกเขต"}:
        out["districts"] = "all"
    else:
        items = districts if isinstance(districts, list) else re.split(r"[,\s;]+", str(districts).strip())
        codes = []
        for item in items:
            if _blank(item):
                continue
            try:
                number = thai.parse_number(item)
                codes.append(int(number))  # type: ignore[arg-type]
            except (thai.ThaiParseError, TypeError, ValueError):
                found.append(problem("KPI-C025", at("districts"), value=item))
        out["districts"] = sorted(set(codes))

    scoring = out.get("scoring")
    levels = [str(v).strip() for v in (raw.get("levels") or []) if not _blank(v)]
    thresholds_raw = [v for v in (raw.get("thresholds") or []) if not _blank(v)]
    if scoring is Scoring.MILESTONE:
        if len(levels) != 5:
            found.append(problem("KPI-C023", at("levels"), count=len(levels)))
        out["levels"] = levels
        out.setdefault("value_kind", ValueKind.LEVEL)
        target = out.get("target")
        if isinstance(target, (int, float)) and not 0 <= target <= 5:  # level 6 cannot be reached
            found.append(problem("KPI-C029", at("target"), value=f"{target:g}", low=0, high=5))
    thresholds: list[float] = []
    for value in thresholds_raw:
        try:
            thresholds.append(float(thai.parse_number(value)))  # type: ignore[arg-type]
        except (thai.ThaiParseError, TypeError):
            found.append(problem("KPI-C012", at("thresholds"), value=value))
    if scoring is Scoring.THRESHOLDS:
        if len(thresholds_raw) != 5:
            found.append(problem("KPI-C028", at("thresholds"), count=len(thresholds_raw)))
        elif len(thresholds) == 5:
            # Equal neighbours are a legitimate step: a value at that threshold gets the higher score
            # (scoring.thresholds_score never divides by their zero gap, nor does the sheet's formula).
            lower = out.get("direction") is Direction.LOWER
            ordered = all((b <= a) if lower else (b >= a) for a, b in zip(thresholds, thresholds[1:], strict=False))
            if not ordered:
                found.append(problem(
                    "KPI-C022", at("thresholds"), value=", ".join(f"{t:g}" for t in thresholds),
                    order="ไม่เพิ่มขึ้นจากเกณฑ์ 1 ถึง 5 (ยิ่งน้อยยิ่งดี เท่ากันได้)" if lower
                    else "ไม่ลดลงจากเกณฑ์ 1 ถึง 5 (เท่ากันได้)",
                    order_en="decreasing, equal neighbours allowed (lower is better)" if lower
                    else "increasing, equal neighbours allowed",
                ))
        out["thresholds"] = thresholds
    return (out if not found else None), found


def _check_catalog(
    settings: dict[str, Any],
    settings_at: Locator,
    rows: list[tuple[dict[str, Any], Locator]],
    dimensions: list[Dimension],
    districts: list[DistrictRef],
) -> Catalog:
    found: list[Problem] = []
    fy_raw = settings.get("fiscal_year")
    fiscal_year = None
    try:
        fiscal_year = int(thai.parse_number(fy_raw)) if not _blank(fy_raw) else None  # type: ignore[arg-type]
    except (thai.ThaiParseError, TypeError):
        found.append(problem("KPI-C012", settings_at("fiscal_year"), value=fy_raw))
    if fiscal_year is None and not found:
        found.append(problem("KPI-C010", settings_at("fiscal_year"), column="fiscal_year"))
    if fiscal_year is not None and fiscal_year < 2400:
        fiscal_year = thai.to_be(fiscal_year)
    if fiscal_year is not None and not dimensions:
        try:
            dimensions = [Dimension(number=d.number, name_th=d.name_th, name_en=d.name_en)
                          for d in reference.dimensions(fiscal_year).values()]
        except LookupError:
            dimensions = []
    deadlines: dict[int, dt.date] = {}
    for q in (1, 2, 3, 4):
        raw = settings.get(f"deadline_q{q}")
        if _blank(raw):
            continue
        try:
            deadlines[q] = thai.parse_date(raw)  # type: ignore[assignment]
        except thai.ThaiParseError:
            found.append(problem("KPI-C011", settings_at(f"deadline_q{q}"), value=raw, choices="วันที่ / a date"))
    error_scores = ErrorScores.SCORED
    raw_rule = settings.get("error_scores")
    if not _blank(raw_rule):
        try:
            error_scores = ErrorScores(str(raw_rule).strip().lower())
        except ValueError:
            found.append(problem("KPI-C011", settings_at("error_scores"), value=raw_rule,
                                 choices=" | ".join(e.value for e in ErrorScores)))
    submit_with_errors = False
    raw_submit = settings.get("submit_with_errors")
    if not _blank(raw_submit):
        text = str(raw_submit).strip().lower()
        if text in {"true", "yes", "y", "1", "ใช่", "ได้"}:
            submit_with_errors = True
        elif text not in {"false", "no", "n", "0", "ไม่", "ไม่ใช่", "ไม่ได้"}:
            found.append(problem("KPI-C011", settings_at("submit_with_errors"), value=raw_submit, choices="yes, no"))
    known_dims = {d.number for d in dimensions}
    known_districts = {d.code for d in districts}
    seen: dict[str, int] = {}
    checked: list[dict[str, Any]] = []
    for index, (raw, at) in enumerate(rows):
        data, issues = _check_indicator(raw, at)
        found.extend(issues)
        code = str(raw.get("code") or "").strip()
        if code:
            if code in seen:
                found.append(problem("KPI-C020", at("code"), value=code, other_row=seen[code]))
            else:
                seen[code] = at("code").row or index + 1
        dim = (data or {}).get("dimension")
        if data is None and isinstance(raw.get("dimension"), (int, float)):
            dim = int(raw["dimension"])
        if dim is not None and dim not in known_dims:
            found.append(problem("KPI-C021", at("dimension"), value=dim, count=len(known_dims)))
            data = None
        for code_ in (data or {}).get("districts", []) if isinstance((data or {}).get("districts"), list) else []:
            if code_ not in known_districts:
                found.append(problem("KPI-C025", at("districts"), value=code_))
                data = None
        if data is not None:
            checked.append(data)
    if not rows:
        found.append(problem("KPI-C010", settings_at("indicators"), column="indicators"))
    errors = [p for p in found if p.is_error]
    if errors:
        raise KpiError(found)
    catalog = Catalog(
        fiscal_year=fiscal_year,  # type: ignore[arg-type]
        title_th=str(settings.get("title_th") or ""),
        title_en=str(settings.get("title_en") or ""),
        deadlines=deadlines,
        dimensions=dimensions,
        districts=districts,
        indicators=[Indicator.model_validate(d) for d in checked],
        error_scores=error_scores,
        submit_with_errors=submit_with_errors,
    )
    return catalog


def catalog_warnings(catalog: Catalog) -> list[Problem]:
    """Problems that do not stop a build but head office should see (weights not summing to 100)."""
    total = sum(i.weight for i in catalog.indicators)
    if abs(total - 100) > 1e-9:
        return [problem("KPI-C026", Location(sheet=INDICATOR_SHEET[0], sheet_en=INDICATOR_SHEET[1]), value=total)]
    return []


def _default_districts() -> list[DistrictRef]:
    return [DistrictRef(code=d.code, name_th=d.name_th, name_en=d.name_en) for d in reference.districts().values()]


# ---------------------------------------------------------------------------------------------
# YAML


def from_yaml(path: str | Path) -> Catalog:
    import yaml  # here, not at module level: the Excel button's press imports this module, never YAML

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise KpiError([problem("KPI-C001", Location(file=str(path)), detail=str(exc).splitlines()[0])]) from exc
    if not isinstance(data, dict):
        raise KpiError([problem("KPI-C001", Location(file=str(path)), detail="not a mapping")])
    return _from_mapping(data, path)


def _from_mapping(data: dict[str, Any], path: Path) -> Catalog:
    def settings_at(key: str) -> Location:
        return Location(file=str(path), sheet=path.name, cell=key, sheet_en="settings", column=key)

    settings = {k: data.get(k) for k in ("fiscal_year", "title_th", "title_en", "error_scores", "submit_with_errors")}
    for q, value in (data.get("deadlines") or {}).items():
        settings[f"deadline_q{int(q)}"] = value
    rows = []
    for index, raw in enumerate(data.get("indicators") or [], start=1):
        raw = dict(raw or {})

        def at(key: str, index: int = index) -> Location:
            return Location(file=str(path), sheet=path.name, cell=f"indicators[{index}].{key}",
                            sheet_en="indicators", row=index, column=key)
        rows.append((raw, at))
    dimensions = [Dimension.model_validate(d) for d in data.get("dimensions") or []]
    districts = [DistrictRef.model_validate(d) for d in data.get("districts") or []] or _default_districts()
    return _check_catalog(settings, settings_at, rows, dimensions, districts)


# ---------------------------------------------------------------------------------------------
# Excel


def _header_key(text: Any) -> str | None:
    """Header cells read "Thai label\\nkey": the last line is the machine key."""
    if text is None:
        return None
    return str(text).strip().splitlines()[-1].strip() or None


def from_xlsx(path: str | Path) -> Catalog:
    """Read a catalog workbook (calamine: fast, read-only; the file is never modified)."""
    from python_calamine import CalamineWorkbook

    path = Path(path)
    try:
        book = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error types for corrupt/unsupported files
        raise KpiError([problem("KPI-C001", Location(file=str(path)), detail=str(exc).splitlines()[0])]) from exc
    names = book.sheet_names
    found: list[Problem] = []
    for th, en in (INDICATOR_SHEET, SETTINGS_SHEET):
        if th not in names:
            found.append(problem("KPI-C002", Location(file=str(path), sheet=th, sheet_en=en), sheet_th=th, sheet_en=en))
    if found:
        raise KpiError(found)

    def table(sheet: str) -> list[list[Any]]:
        return book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)

    settings: dict[str, Any] = {}
    settings_rows: dict[str, int] = {}
    for r, row in enumerate(table(SETTINGS_SHEET[0]), start=1):
        if row and _header_key(row[0]) in SETTING_KEYS:
            key = _header_key(row[0])
            settings[key] = row[1] if len(row) > 1 and row[1] != "" else None  # type: ignore[index]
            settings_rows[key] = r  # type: ignore[index]

    def settings_at(key: str) -> Location:
        r = settings_rows.get(key, 1)
        return Location(file=str(path), sheet=SETTINGS_SHEET[0], cell=f"B{r}", sheet_en=SETTINGS_SHEET[1], row=r, column=key)

    grid = table(INDICATOR_SHEET[0])
    header = [_header_key(c) for c in (grid[0] if grid else [])]
    columns = {key: i for i, key in enumerate(header) if key}
    missing = [key for key, *_ in INDICATOR_COLUMNS if key not in columns and key not in OPTIONAL_COLUMNS]
    for key in missing:
        found.append(problem("KPI-C003", Location(file=str(path), sheet=INDICATOR_SHEET[0], cell="1",
                                                  sheet_en=INDICATOR_SHEET[1], row=1, column=key), column=key))
    if found:
        raise KpiError(found)
    rows = []
    for r, row in enumerate(grid[1:], start=2):
        cells = {key: (row[i] if i < len(row) and row[i] != "" else None) for key, i in columns.items()}
        if all(_blank(v) for v in cells.values()):
            continue
        cells["levels"] = [cells.pop(f"level_{n}") for n in range(1, 6)]
        cells["thresholds"] = [cells.pop(f"t{n}") for n in range(1, 6)]

        def at(key: str, r: int = r) -> Location:
            column = {"levels": "level_1", "thresholds": "t1"}.get(key, key)
            letter = column_letter(columns.get(column, 0))
            return Location(file=str(path), sheet=INDICATOR_SHEET[0], cell=f"{letter}{r}",
                            sheet_en=INDICATOR_SHEET[1], row=r, column=key)
        rows.append((cells, at))

    dimensions: list[Dimension] = []
    if DIMENSION_SHEET[0] in names:
        for row in table(DIMENSION_SHEET[0])[1:]:
            if row and not _blank(row[0]):
                dimensions.append(Dimension(number=int(thai.parse_number(row[0])), name_th=str(row[1]).strip(),  # type: ignore[arg-type]
                                            name_en=str(row[2]).strip()))
    districts: list[DistrictRef] = []
    if DISTRICT_SHEET[0] in names:
        for row in table(DISTRICT_SHEET[0])[1:]:
            if row and not _blank(row[0]):
                districts.append(DistrictRef(code=int(thai.parse_number(row[0])), name_th=str(row[1]).strip(),  # type: ignore[arg-type]
                                             name_en=str(row[2]).strip()))
    return _check_catalog(settings, settings_at, rows, dimensions, districts or _default_districts())


def to_xlsx(catalog: Catalog, path: str | Path) -> Path:
    """Write the catalog as the workbook head office edits (dropdowns for every choice column)."""
    import xlsxwriter

    from .files import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        wb = xlsxwriter.Workbook(str(tmp))
        wb.set_properties({"title": catalog.title_th or "kpi-xl catalog", "created": dt.datetime(2020, 1, 1)})
        head = wb.add_format({"bold": True, "font_name": "TH Sarabun New", "font_size": 14, "text_wrap": True,
                              "valign": "top", "bg_color": "#DDEBF7", "border": 1})
        body = wb.add_format({"font_name": "TH Sarabun New", "font_size": 14, "text_wrap": True, "valign": "top"})
        date_fmt = wb.add_format({"font_name": "TH Sarabun New", "font_size": 14, "num_format": thai.BE_DATE_FORMAT,
                                  "align": "left"})

        ws = wb.add_worksheet(SETTINGS_SHEET[0])
        ws.set_column(0, 0, 24, body)
        ws.set_column(1, 1, 70, body)
        values: dict[str, Any] = {"fiscal_year": catalog.fiscal_year, "title_th": catalog.title_th, "title_en": catalog.title_en}
        for q in (1, 2, 3, 4):
            values[f"deadline_q{q}"] = catalog.deadlines.get(q)
        values["error_scores"] = catalog.error_scores.value
        values["submit_with_errors"] = "yes" if catalog.submit_with_errors else "no"
        labels = {"fiscal_year": "ปีงบประมาณ (พ.ศ.)", "title_th": "ชื่อชุดตัวชี้วัด", "title_en": "ชื่อภาษาอังกฤษ",
                  "error_scores": "คะแนนจากข้อมูลที่ผิด (scored | zero | excluded)",
                  "submit_with_errors": "ยืนยันส่งได้แม้มีข้อผิดพลาด (yes | no)"}
        for r, key in enumerate(SETTING_KEYS):
            label = labels.get(key) or f"กำหนดส่งไตรมาส {key[-1]}"
            ws.write_string(r, 0, f"{label}\n{key}", head)
            value = values[key]
            if isinstance(value, dt.date):
                ws.write_datetime(r, 1, dt.datetime.combine(value, dt.time()), date_fmt)
            elif value is not None:
                ws.write_string(r, 1, value, body) if isinstance(value, str) else ws.write(r, 1, value, body)
            if key == "error_scores":
                ws.data_validation(r, 1, r, 1, {"validate": "list", "source": [e.value for e in ErrorScores]})
                ws.write_comment(r, 0, "\n".join(f"{e.value}: {e.th} / {e.en}" for e in ErrorScores))
            if key == "submit_with_errors":
                ws.data_validation(r, 1, r, 1, {"validate": "list", "source": ["no", "yes"]})

        ws = wb.add_worksheet(INDICATOR_SHEET[0])
        ws.freeze_panes(1, 2)
        ws.set_row(0, 42)
        n = len(catalog.indicators)
        for c, (key, label, width, helptext) in enumerate(INDICATOR_COLUMNS):
            ws.set_column(c, c, width, body)
            ws.write_string(0, c, f"{label}\n{key}", head)
            if helptext:
                ws.write_comment(0, c, helptext)
            enum = _ENUMS.get(key)
            if enum is not None:
                ws.data_validation(1, c, max(n, 1) + 200, c, {"validate": "list", "source": [e.value for e in enum]})
        for r, ind in enumerate(catalog.indicators, start=1):
            row = _indicator_row(ind)
            for c, (key, *_rest) in enumerate(INDICATOR_COLUMNS):
                value = row.get(key)
                if value is None or value == "":
                    continue
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    ws.write_number(r, c, value, body)
                else:
                    ws.write_string(r, c, str(value), body)

        for sheet, headers, widths, items in (
            (DIMENSION_SHEET[0], ["ด้านที่\nnumber", "ชื่อ\nname_th", "English\nname_en"], (8, 40),
             [(d.number, d.name_th, d.name_en) for d in catalog.dimensions]),
            (DISTRICT_SHEET[0], ["รหัส\ncode", "ชื่อเขต\nname_th", "English\nname_en"], (8, 24),
             [(d.code, d.name_th, d.name_en) for d in catalog.districts]),
        ):
            ws = wb.add_worksheet(sheet)
            ws.set_column(0, 0, widths[0], body)
            ws.set_column(1, 2, widths[1], body)
            for c, h in enumerate(headers):
                ws.write_string(0, c, h, head)
            for r, (number, name_th, name_en) in enumerate(items, start=1):
                ws.write_number(r, 0, number, body)
                ws.write_string(r, 1, name_th, body)
                ws.write_string(r, 2, name_en, body)
        wb.close()
    return path


def _indicator_row(ind: Indicator) -> dict[str, Any]:
    row: dict[str, Any] = ind.model_dump(mode="json")
    for n in range(5):
        row[f"level_{n + 1}"] = ind.levels[n] if n < len(ind.levels) else None
        row[f"t{n + 1}"] = ind.thresholds[n] if n < len(ind.thresholds) else None
    row["cumulative"] = "yes" if ind.cumulative else "no"
    row["districts"] = "all" if ind.districts == "all" else ",".join(str(c) for c in ind.districts)
    return row


def to_yaml(catalog: Catalog, path: str | Path) -> Path:
    import yaml

    from .files import atomic_write_text

    data = catalog.model_dump(mode="json")
    data["deadlines"] = {int(k): dt.date.fromisoformat(v) for k, v in data["deadlines"].items()}
    for ind in data["indicators"]:
        for key in ("levels", "thresholds"):
            if not ind[key]:
                del ind[key]
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)
    return atomic_write_text(Path(path), text)


def sample_catalog_path() -> Path:
    """The sample catalog shipped with the package (the demo's); here, not in ``demo``, so the web
    report can find it without importing the demo (which imports the web report: a cycle)."""
    from importlib import resources

    return Path(str(resources.files("kpi_xl.workbook_templates").joinpath("catalog_2564.yaml")))


def load(path: str | Path) -> Catalog:
    """Read a catalog from .xlsx or .yaml/.yml."""
    path = Path(path)
    if not path.exists():
        raise KpiError([problem("KPI-C001", Location(file=str(path)), detail="ไม่พบแฟ้ม / file not found")])
    if path.suffix.lower() in {".yaml", ".yml"}:
        return from_yaml(path)
    return from_xlsx(path)


def iter_problems(error: KpiError) -> Iterable[Problem]:
    return iter(error.problems)
