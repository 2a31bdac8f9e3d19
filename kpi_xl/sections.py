"""Several sections fill one district's report: ``kpi-xl build --split-by responsible`` and ``kpi-xl merge``.

Each indicator names its responsible position (the catalog's ``responsible``, ฝ่าย/กลุ่มงาน). A split
gives every section a copy of the district's workbook in which only its own indicator sheets can be
filled (the others are locked and grey, still readable and printable), plus the coordinator's copy
(every indicator sheet locked, the cover open). ``merge`` puts them back together into a freshly
built workbook — the coordinator's copy-paste step, without values landing on the wrong sheet.

Decisions:

- **Ownership is in the workbook.** A copy's section is a row of its metadata sheet (covered by the
  checksum); the catalog embedded in the copy says which section owns which indicator. No file-name
  convention is trusted.
- **Each indicator from the copy that owns it.** A value typed in a copy that does not own the cell
  (a clerk who lifted the protection), different from the owner's — or where the owner left it blank —
  is a conflict (KPI-E621): reported with both values and both locations (file, sheet, cell), listed on
  the merged workbook's sheet ``ข้อขัดแย้ง``, and the cell is left blank: nothing is chosen silently.
  An indicator whose section sent no copy takes what the other copies agree on.
- **The cover from the coordinator's copy.** The reporting quarter comes from the coordinator's copy;
  the form's only signature is per indicator (ผู้รับผิดชอบโครงการ, the section's own head), so it comes,
  like every other cell of an indicator sheet, from the owning section's copy.
- **One district, one year, one catalog.** A copy of another district (KPI-E108), fiscal year
  (KPI-E109) or catalog (KPI-E106) is refused at its metadata cell, as is a whole workbook (KPI-E622)
  or a section given twice (KPI-E623); then nothing is written.
- Inputs are never modified; the output is written atomically and never over an input.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import fill, template
from .catalog import Catalog
from .files import check_output
from .form import load_spec
from .model import COORDINATOR, DistrictPast, DistrictReport, RawWorkbook
from .problems import KpiError, Location, Problem, problem
from .upgrade import inputs_of, past_of, shown
from .validate import evaluate

__all__ = ["COORDINATOR", "SPLIT_FIELDS", "sections_of", "build_sections", "merge_parts", "MergeResult", "MergeError"]

SPLIT_FIELDS = ("responsible",)  # catalog fields a district can be split by


class MergeError(KpiError):
    """Section copies that cannot be merged; nothing was written."""


def sections_of(catalog: Catalog, district_code: int, by: str = "responsible") -> dict[str, list[str]]:
    """Section → its indicator codes for one district, in catalog order (blank ``by``: the coordinator's)."""
    if by not in SPLIT_FIELDS:
        raise ValueError(f"แยกได้ตาม {', '.join(SPLIT_FIELDS)} เท่านั้น / can split only by {', '.join(SPLIT_FIELDS)}")
    out: dict[str, list[str]] = {}
    for ind in catalog.for_district(district_code):
        out.setdefault(getattr(ind, by).strip() or COORDINATOR, []).append(ind.code)
    return out


def part_name(catalog: Catalog, district_code: int, section: str, *, macros: bool = True) -> str:
    """``2564_1030_Chatuchak__ฝ่ายปกครอง.xlsm``: the district's file name with the section appended."""
    stem, suffix = template.output_name(catalog, district_code, macros=macros).rsplit(".", 1)
    safe = re.sub(r'[\s\\/:*?"<>|()]+', "_", section).strip("_")
    return f"{stem}__{safe}.{suffix}"


def build_sections(catalog: Catalog, out_dir: str | Path, districts: Iterable[int] | None = None, *,
                   by: str = "responsible", macros: bool = True, interpreter: str | None = None,
                   password: str | None = None, force: bool = False,
                   past: Mapping[int, DistrictPast] | None = None) -> list[Path]:
    """Each section's copy (its indicators fillable, the others read-only) and the coordinator's copy,
    for every district given (default: all); refuses to overwrite unless ``force``. ``past``: as
    for :func:`kpi_xl.template.build_all`, last year's results on every copy."""
    from .files import atomic_path

    out = Path(out_dir)
    codes = [d.code for d in catalog.districts] if districts is None else list(dict.fromkeys(districts))
    plan: list[tuple[int, str, list[str], Path]] = []
    for code in codes:
        parts = sections_of(catalog, code, by)
        parts.setdefault(COORDINATOR, [])
        for section, owned in parts.items():
            plan.append((code, section, owned, out / part_name(catalog, code, section, macros=macros)))
    clashes = [p for *_, p in plan if p.exists()]
    if clashes and not force:
        raise FileExistsError("\n".join(f"มีไฟล์ {p} อยู่แล้ว — ใช้ --force เพื่อเขียนทับ / {p} already exists — use --force"
                                        for p in clashes))
    for code, section, owned, path in plan:
        data = template.workbook_bytes(catalog, code, macros=macros, interpreter=interpreter, password=password,
                                       section=section, editable=set(owned), past=(past or {}).get(code))
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
    return [p for *_, p in plan]


# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Found:
    """A value as typed in one copy, and where."""

    file: str
    sheet: str
    cell: str
    value: Any

    @property
    def where(self) -> str:
        return f"{self.sheet}!{self.cell}"


@dataclass
class Conflict:
    code: str
    name: str
    label: str
    found: list[Found]


@dataclass
class MergeResult:
    target: Path
    district_code: int
    sections: dict[str, str] = field(default_factory=dict)  # section → file
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    conflicts: list[Conflict] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    missing_sections: list[str] = field(default_factory=list)
    report_quarter: int | None = None


@dataclass
class _Part:
    path: Path
    raw: RawWorkbook
    report: DistrictReport

    @property
    def section(self) -> str:
        return self.report.meta.section if self.report.meta else ""


def _meta_at(part: _Part, key: str) -> Location:
    cell = part.raw.meta.get(key)
    return Location(file=str(part.path), sheet=cell.sheet if cell else load_spec().meta_sheet,
                    cell=cell.cell if cell else None, name=key)


def _read_parts(paths: Sequence[Path]) -> tuple[list[_Part], list[Problem]]:
    from .reader import ReadError, read_workbook

    parts: list[_Part] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            raw = read_workbook(path)
        except ReadError as exc:
            problems += exc.problems
            continue
        report = evaluate(raw)
        if report.meta is None or not report.meta.checksum_ok:
            problems += [p for p in report.problems if p.code in ("KPI-E103", "KPI-E104", "KPI-E113")] or \
                [problem("KPI-E113", Location(file=str(path)), sheet=load_spec().meta_sheet)]
            continue
        part = _Part(path, raw, report)
        if not part.section:
            problems.append(problem("KPI-E622", _meta_at(part, "district_code")))
            continue
        parts.append(part)
    return parts, problems


def _same_origin(parts: list[_Part]) -> list[Problem]:
    """Every copy against the coordinator's (else the first): one district, one year, one catalog."""
    if not parts:
        return []
    ref = next((p for p in parts if p.section == COORDINATOR), parts[0])
    meta = ref.report.meta
    assert meta is not None
    problems: list[Problem] = []
    seen: dict[str, Path] = {}
    for part in parts:
        m = part.report.meta
        assert m is not None
        if m.district_code != meta.district_code:
            problems.append(problem("KPI-E108", _meta_at(part, "district_code"), value=m.district_code,
                                    expected=meta.district_code))
        elif m.fiscal_year != meta.fiscal_year:
            problems.append(problem("KPI-E109", _meta_at(part, "fiscal_year"), value=m.fiscal_year,
                                    expected=meta.fiscal_year))
        elif m.catalog_hash != meta.catalog_hash:
            problems.append(problem("KPI-E106", _meta_at(part, "catalog_hash"), value=m.catalog_hash[:12],
                                    expected=meta.catalog_hash[:12]))
        elif part.section in seen:  # a second copy of a section of this district
            problems.append(problem("KPI-E623", _meta_at(part, "section"), value=part.section,
                                    expected=f"{seen[part.section].name}, {part.path.name}"))
        else:
            seen[part.section] = part.path
    return problems


def _typed(part: _Part, code: str, name: str) -> Any:
    result = next((r for r in part.report.indicators if r.code == code), None)
    value = result.value(name) if result is not None else None
    cell = part.raw.sheets.get(code, {}).get(name)
    if value is None or isinstance(value, bool):
        value = cell.raw if cell is not None and not cell.blank else None
    return value


def _key(value: Any) -> Any:
    """Values compared as typed: 3 equals 3.0, text ignores surrounding spaces."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        return value.strip()
    return value


def merge_parts(paths: Iterable[str | Path], out: str | Path, *, force: bool = False) -> MergeResult:
    """Combine section copies into one district workbook at ``out``; raises :class:`MergeError`."""
    from .catalog import Catalog as _Catalog

    paths = list(paths)
    files = inputs_of(paths)
    out = Path(out)
    try:  # not an input, not inside a folder being read, the right suffix, a folder that takes files
        check_output(out, inputs=[*map(Path, paths), *files], suffixes=(".xlsm", ".xlsx"), option="--out")
    except KpiError as exc:
        raise MergeError(exc.problems) from None
    if out.exists() and not force:
        raise MergeError([problem("KPI-E620", Location(file=str(out)), value=str(out))])
    parts, problems = _read_parts(files)
    problems += _same_origin(parts)
    if problems or not parts:
        raise MergeError(problems or [problem("KPI-E103", Location(file=str(out)))])
    spec = load_spec()
    meta = parts[0].report.meta
    assert meta is not None
    catalog = _Catalog.model_validate_json(meta.catalog_json)
    by_section = {p.section: p for p in parts}
    result = MergeResult(target=out, district_code=meta.district_code,
                         sections={s: str(p.path) for s, p in by_section.items()})
    for ind in catalog.for_district(meta.district_code):
        section = ind.responsible.strip() or COORDINATOR
        owner = by_section.get(section)
        if owner is None and section not in result.missing_sections:
            result.missing_sections.append(section)
        for fspec in spec.fields_for(ind.scoring.value):
            if not fspec.is_input:
                continue
            found: list[tuple[_Part, Found]] = []
            for part in parts:
                cell = part.raw.sheets.get(ind.code, {}).get(fspec.name)
                value = _typed(part, ind.code, fspec.name)
                if cell is not None and value is not None:
                    found.append((part, Found(str(part.path), cell.sheet, cell.cell or "", value)))
            if not found:
                continue
            if owner is not None:
                own = next((f for p, f in found if p is owner), None)
                others = [f for p, f in found if p is not owner and (own is None or _key(f.value) != _key(own.value))]
                if not others:
                    if own is not None:
                        result.values.setdefault(ind.code, {})[fspec.name] = own.value
                    continue
                owner_cell = owner.raw.sheets.get(ind.code, {}).get(fspec.name)
                mine = own or Found(str(owner.path), ind.code, owner_cell.cell if owner_cell and owner_cell.cell else "",
                                    None)
                clash = [mine, *others]
            else:
                distinct = {_key(f.value) for _, f in found}
                if len(distinct) == 1:
                    result.values.setdefault(ind.code, {})[fspec.name] = found[0][1].value
                    continue
                clash = [f for _, f in found]
            label = f"{fspec.label_th} ({fspec.label_en})"
            result.conflicts.append(Conflict(ind.code, fspec.name, label, clash))
            first, *rest = clash
            for other in rest:
                result.problems.append(problem(
                    "KPI-E621", Location(file=other.file, sheet=other.sheet, cell=other.cell, name=fspec.name),
                    label_th=f"{ind.code} {fspec.label_th}", label_en=f"{ind.code} {fspec.label_en}",
                    value=f"\"{shown(other.value) or '(ว่าง / blank)'}\" ({Path(other.file).name} {other.where})",
                    expected=f"\"{shown(first.value) or '(ว่าง / blank)'}\" ({Path(first.file).name} {first.where})"))
    coordinator = by_section.get(COORDINATOR)
    if coordinator is not None:
        q = coordinator.raw.workbook_cells.get("report_quarter")
        raw_q = q.raw if q is not None else None
        if isinstance(raw_q, (int, float)) and int(raw_q) in (1, 2, 3, 4):
            result.report_quarter = int(raw_q)
    rows = []
    for n, conflict in enumerate(result.conflicts, start=1):
        for f in conflict.found:
            rows.append({"item": n, "code": conflict.code, "field": conflict.label, "file": Path(f.file).name,
                         "where": f.where, "value": shown(f.value) or "(ว่าง / blank)"})
    macros = out.suffix.lower() == ".xlsm"
    data = template.workbook_bytes(catalog, meta.district_code, macros=macros,
                                   report_sheets={"conflicts": rows} if rows else None,
                                   past=past_of(meta.past_json))
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".kpi-merge-", dir=out.parent) as tmp:
        fresh = Path(tmp) / ("fresh" + out.suffix)
        fresh.write_bytes(data)
        fill.fill_workbook(fresh, out, values=result.values, report_quarter=result.report_quarter)
    return result
