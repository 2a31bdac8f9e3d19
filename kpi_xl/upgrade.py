"""Carry a filled workbook onto a revised catalog (or a newer form-spec version): ``kpi-xl upgrade``.

Head office revises the catalog mid-year; districts have already typed Q1–Q2. Instead of a blank
workbook, each old workbook is read through the reader, checked through the validator, and its
entries are written — by defined name, through :func:`kpi_xl.fill.fill_workbook` — into a workbook
built fresh by :mod:`kpi_xl.template` from the new catalog, so the result is a workbook like any
other (names, VBA, buttons, protection) that passes the same template tests.

Decisions:

- **Nothing typed is lost.** An entry whose indicator was dropped, or whose cell the new form no
  longer has for that indicator (e.g. quarterly values of an indicator switched to milestones),
  goes to the read-only sheet ``ยกมาจากฉบับเดิม`` with where it was and why; entries already on such a
  sheet (an earlier upgrade) are carried again.
- **Entries that no longer fit are listed, not dropped.** The planned new workbook is evaluated by
  the validator in memory (the same :func:`kpi_xl.validate.evaluate`); the problems located at
  carried cells are reported and the entries are kept as typed.
- **The change report** (a result object, the CLI table, and the sheet ``การปรับปรุงแฟ้ม``) lists
  indicators added (empty), removed, scoring, target, threshold, level, weight and wording changes
  (old → new) and every score that the new rules recompute differently.
- **Sign-off.** kpi-xl has no sign-off stamp yet (no hash of signed content); the signature cells
  (name, position, date) are the sign-off. They are kept only when the indicator's signed content
  is unchanged (same catalog definition, every entry carried into its own cell); otherwise they move
  to the carried-over sheet with "sign again".
- **Form-spec versions** declare their renames (``renamed:`` in form_spec.yaml), so a workbook of an
  older known template version upgrades with no code change; an unknown version is refused.
- **Inputs are never modified**; an output that is an input or lies in a folder being read
  (KPI-E601/E602, the checks of :mod:`kpi_xl.files`), or that exists without ``force`` (KPI-E620), is
  refused with a located problem; each output is written atomically.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import fill, model, template, thai
from .catalog import Catalog, Indicator
from .files import atomic_path, check_output, check_output_folder
from .form import FormSpec, load_spec
from .model import Cell, DistrictReport, RawWorkbook
from .problems import KpiError, Location, Problem, problem
from .validate import evaluate

__all__ = ["Change", "Carried", "UpgradeResult", "UpgradeError", "upgrade_workbook", "upgrade_all", "inputs_of"]

WORKBOOK_SUFFIXES = (".xlsm", ".xlsx")
MAX_CARRIED = 20_000  # rows read back from an earlier carried-over sheet (a form has < 40 inputs per sheet)

# change kind → (Thai, English), as the change sheet and the CLI show it.
KINDS: dict[str, tuple[str, str]] = {
    "added": ("เพิ่มตัวชี้วัด (ว่าง รอกรอก)", "indicator added (empty)"),
    "removed": ("ยกเลิกตัวชี้วัด (ข้อมูลอยู่ในแผ่นงานยกมาจากฉบับเดิม)", "indicator removed (entries on the carried-over sheet)"),
    "scoring": ("เปลี่ยนวิธีให้คะแนน", "scoring changed"),
    "target": ("เปลี่ยนเป้าหมาย", "target changed"),
    "thresholds": ("เปลี่ยนเกณฑ์การให้คะแนน", "thresholds changed"),
    "levels": ("เปลี่ยนขั้นความสำเร็จ", "milestone levels changed"),
    "weight": ("เปลี่ยนน้ำหนัก", "weight changed"),
    "definition": ("แก้ไขรายละเอียดตัวชี้วัด", "definition changed"),
    "score": ("คะแนนคิดใหม่ตามเกณฑ์ใหม่", "score recomputed"),
    "carried": ("ข้อมูลย้ายไปแผ่นงานยกมาจากฉบับเดิม", "entry moved to the carried-over sheet"),
    "misfit": ("ข้อมูลที่ยกมาไม่ผ่านเกณฑ์ใหม่ (เก็บไว้ตามที่กรอก)", "entry no longer fits the new rules (kept as typed)"),
    "signature": ("ต้องลงนามใหม่", "sign again"),
    "template": ("รุ่นแบบรายงาน", "template version"),
    "catalog": ("ทะเบียนตัวชี้วัด", "catalog"),
}
# Catalog fields whose change is reported as wording ("definition"), shown by name.
WORDING = ("name_th", "name_en", "definition", "method", "unit", "sub_issue", "goal", "dimension", "result_type",
           "direction", "aggregation", "cumulative", "value_kind", "responsible")


@dataclass(frozen=True, slots=True)
class Change:
    """One line of the change report."""

    kind: str
    code: str = ""
    old: str = ""
    new: str = ""
    note_th: str = ""
    note_en: str = ""

    @property
    def label(self) -> str:
        th, en = KINDS[self.kind]
        return f"{th} / {en}"

    def row(self) -> dict[str, str]:
        note = " / ".join(x for x in (self.note_th, self.note_en) if x)
        return {"code": self.code, "change": self.label, "old": self.old, "new": self.new, "note": note}


@dataclass(frozen=True, slots=True)
class Carried:
    """An entry kept on the carried-over sheet: what it was, where it was, why it is there."""

    code: str
    field: str
    where: str
    value: Any
    reason_th: str
    reason_en: str

    def row(self) -> dict[str, str]:
        return {"code": self.code, "field": self.field, "where": self.where, "value": shown(self.value),
                "reason": f"{self.reason_th} / {self.reason_en}"}


@dataclass
class UpgradeResult:
    """What one upgrade did: the files, every entry placed or carried, and the change report."""

    source: Path
    target: Path
    district_code: int
    old_version: str
    new_version: str
    placed: dict[str, dict[str, Any]] = field(default_factory=dict)
    carried: list[Carried] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    misfits: list[Problem] = field(default_factory=list)
    signatures_kept: list[str] = field(default_factory=list)

    def kinds(self, kind: str) -> list[Change]:
        return [c for c in self.changes if c.kind == kind]

    def codes(self, kind: str) -> set[str]:
        return {c.code for c in self.changes if c.kind == kind}


class UpgradeError(KpiError):
    """A workbook that cannot be upgraded; its problems say where and what to do."""


# ---------------------------------------------------------------------------------------------


def shown(value: Any) -> str:
    """An entry as a clerk would read it: Thai dates, numbers without trailing zeros, text as is."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return thai.format_thai_date(value)
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".") if not value.is_integer() else f"{int(value):,}"
    return str(value)


def _num(x: float) -> str:
    return shown(float(x))


def _list(xs: Iterable[Any]) -> str:
    return " / ".join(_num(x) if isinstance(x, (int, float)) else str(x) for x in xs)


def diff_indicators(old: Sequence[Indicator], new: Sequence[Indicator]) -> list[Change]:
    """Catalog changes for one district: added, removed, and per indicator what changed (old → new)."""
    before = {i.code: i for i in old}
    after = {i.code: i for i in new}
    changes: list[Change] = []
    for code, ind in after.items():
        if code not in before:
            changes.append(Change("added", code, "", ind.name_th))
    for code, ind in before.items():
        if code not in after:
            changes.append(Change("removed", code, ind.name_th, ""))
    for code, a in before.items():
        b = after.get(code)
        if b is None or a == b:
            continue
        if a.scoring != b.scoring:
            changes.append(Change("scoring", code, a.scoring.value, b.scoring.value,
                                  "ข้อมูลที่กรอกไว้ยกมา คะแนนคิดใหม่", "entries kept, score recomputed"))
        if a.target != b.target:
            changes.append(Change("target", code, f"{_num(a.target)} {a.unit}", f"{_num(b.target)} {b.unit}"))
        if a.thresholds != b.thresholds and (a.thresholds or b.thresholds):
            changes.append(Change("thresholds", code, _list(a.thresholds) or "-", _list(b.thresholds) or "-"))
        if a.levels != b.levels and (a.levels or b.levels):
            changed = [str(n) for n, (x, y) in enumerate(zip(a.levels, b.levels, strict=False), 1) if x != y]
            changes.append(Change("levels", code, f"{len(a.levels)} ขั้น", f"{len(b.levels)} ขั้น",
                                  f"ขั้นที่แก้: {', '.join(changed) or '-'}", f"levels edited: {', '.join(changed) or '-'}"))
        if a.weight != b.weight:
            changes.append(Change("weight", code, _num(a.weight), _num(b.weight)))
        for key in WORDING:
            x, y = getattr(a, key), getattr(b, key)
            if x != y:
                changes.append(Change("definition", code, str(getattr(x, "value", x)), str(getattr(y, "value", y)),
                                      key, key))
        if a.districts != b.districts:
            changes.append(Change("definition", code, str(a.districts), str(b.districts), "districts", "districts"))
    order = {i.code: n for n, i in enumerate([*old, *new])}
    return sorted(changes, key=lambda c: (order.get(c.code, 1 << 20), list(KINDS).index(c.kind)))


# ---------------------------------------------------------------------------------------------


def inputs_of(paths: Iterable[str | Path]) -> list[Path]:
    """Files given, with each folder replaced by its workbooks (sorted; Excel's ~$ lock files skipped)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.iterdir() if f.suffix.lower() in WORKBOOK_SUFFIXES and not f.name.startswith("~$")
                          and f.is_file())
        else:
            out.append(p)
    return out


def _refuse(code: str, location: Location, **params: Any) -> UpgradeError:
    return UpgradeError([problem(code, location, **params)])


def _read(path: Path) -> tuple[RawWorkbook, DistrictReport, model.Meta, Catalog]:
    from .reader import read_workbook

    raw = read_workbook(path)  # ReadError is a KpiError with its one located problem
    report = evaluate(raw)
    spec = load_spec()
    structural = [p for p in report.problems if p.code in ("KPI-E103", "KPI-E104", "KPI-E113")]
    if not report.readable or structural:
        raise UpgradeError(structural or list(report.problems))
    meta = report.meta
    if meta is None:
        raise _refuse("KPI-E113", Location(file=str(path)), sheet=spec.meta_sheet)
    try:
        old_catalog = Catalog.model_validate_json(meta.catalog_json)
    except ValueError:
        raise _refuse("KPI-E104", Location(file=str(path), sheet=spec.meta_sheet), sheet=spec.meta_sheet) from None
    return raw, report, meta, old_catalog


def _meta_location(raw: RawWorkbook, key: str) -> Location:
    cell = raw.meta.get(key)
    return Location(file=raw.file, sheet=cell.sheet if cell else load_spec().meta_sheet,
                    cell=cell.cell if cell else None, name=key)


def _earlier_carried(path: Path, raw: RawWorkbook, spec: FormSpec) -> list[Carried]:
    """Rows of the carried-over sheet of a workbook upgraded before: carried again, never lost."""
    sheet = spec.sheets["carried"]
    if sheet not in raw.sheet_names:
        return []
    import python_calamine

    layout = spec.report_sheets["carried"]
    keys = [c.key for c in layout.columns]
    rows = python_calamine.CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python()
    out = []
    for row in rows[2:2 + MAX_CARRIED]:  # a workbook is hostile: a bounded read, like the reader's
        item = dict(zip(keys, [("" if v is None else str(v)) for v in row], strict=False))
        if not any(item.values()):
            continue
        reason = item.get("reason", "")
        th, _, en = reason.partition(" / ")
        out.append(Carried(item.get("code", ""), item.get("field", ""), item.get("where", ""), item.get("value", ""),
                           th, en or th))
    return out


def _planned_raw(file: str, spec: FormSpec, indicators: Sequence[Indicator], placed: dict[str, dict[str, Any]],
                 quarter: Any) -> RawWorkbook:
    """The new workbook's contract cells as the reader would return them, before it is written."""
    sheets = {}
    for ind in indicators:
        values = placed.get(ind.code, {})
        sheets[ind.code] = {f.name: Cell(name=f.name, sheet=ind.code, cell=spec.a1(f.name), raw=values.get(f.name))
                            for f in spec.fields_for(ind.scoring.value)}
    cover = spec.sheets["cover"]
    cell = spec.workbook_names["report_quarter"].cell
    return RawWorkbook(
        file=file,
        sheet_names=[cover, *sheets, spec.meta_sheet],
        workbook_cells={"report_quarter": Cell(name="report_quarter", sheet=cover, cell=cell, raw=quarter)},
        sheets=sheets,
    )


def _check(raw: RawWorkbook, meta: model.Meta, catalog: Catalog, spec: FormSpec) -> None:
    """Refuse, with the metadata cell that says why, a workbook this catalog cannot take."""
    if meta.template_version not in spec.known_versions:
        raise _refuse("KPI-E105", _meta_location(raw, "template_version"), value=meta.template_version,
                      expected=", ".join(spec.known_versions))
    if meta.fiscal_year != catalog.fiscal_year:
        raise _refuse("KPI-E109", _meta_location(raw, "fiscal_year"), value=meta.fiscal_year,
                      expected=catalog.fiscal_year)
    if meta.district_code not in {d.code for d in catalog.districts}:
        raise _refuse("KPI-E107", _meta_location(raw, "district_code"), value=meta.district_code)


def plan_upgrade(path: Path, catalog: Catalog, target: Path,
                 spec: FormSpec | None = None) -> tuple[UpgradeResult, int | None]:
    """Everything but the writing: where each entry goes, what changed, what no longer fits.

    Returns the result and the reporting quarter to carry to the cover sheet. ``spec``: the form
    spec whose ``known_versions``/``renamed`` map the old workbook's names (default: the installed one).
    """
    spec = spec or load_spec()
    raw, old_report, meta, old_catalog = _read(path)
    _check(raw, meta, catalog, spec)
    renames = spec.names_from(meta.template_version)
    old_by_code = {i.code: i for i in old_catalog.indicators}
    old_inds = [old_by_code[c] for c in meta.indicator_codes if c in old_by_code]
    new_inds = catalog.for_district(meta.district_code)
    new_by_code = {i.code: i for i in new_inds}
    result = UpgradeResult(source=path, target=target, district_code=meta.district_code,
                           old_version=meta.template_version, new_version=spec.template_version)
    result.changes = diff_indicators(old_inds, new_inds)
    if meta.template_version != spec.template_version:
        result.changes.insert(0, Change("template", "", meta.template_version, spec.template_version))
    if meta.catalog_hash != catalog.content_hash:
        result.changes.insert(0, Change("catalog", "", meta.catalog_hash[:12], catalog.content_hash[:12]))
    changed_codes = {c.code for c in result.changes if c.code}
    signature = {f.name for f in spec.fields.values() if f.required == "signature"}

    carried = result.carried
    pending_signatures: dict[str, list[tuple[str, str, Any, str]]] = {}
    for code in meta.indicator_codes:
        cells = raw.sheets.get(code, {})
        parsed = next((r for r in old_report.indicators if r.code == code), None)
        new_ind = new_by_code.get(code)
        for name, cell in cells.items():
            new_name = renames.get(name, name)
            fspec = spec.fields.get(new_name) if new_name is not None else None
            if (fspec is not None and not fspec.is_input) or cell.blank:
                continue
            label = f"{fspec.label_th} ({fspec.label_en})" if fspec is not None else name
            typed = parsed.value(name) if parsed is not None else None
            value = typed if typed is not None and not isinstance(typed, bool) else cell.raw
            where = f"{code}!{cell.cell}" if cell.cell else code
            if new_ind is None:
                carried.append(Carried(code, label, where, value, "ตัวชี้วัดนี้ถูกยกเลิกในทะเบียนฉบับใหม่",
                                       "the indicator was removed from the new catalog"))
            elif fspec is None or new_name is None or not fspec.applies(new_ind.scoring.value):
                carried.append(Carried(code, label, where, value,
                                       f"แบบรายงานใหม่ไม่มีช่องนี้สำหรับวิธีให้คะแนน {new_ind.scoring.value}",
                                       f"the new form has no such cell for {new_ind.scoring.value} scoring"))
            elif new_name in signature:
                pending_signatures.setdefault(code, []).append((new_name, label, value, where))
            else:
                result.placed.setdefault(code, {})[new_name] = value
    moved = {c.code for c in carried}
    for code, items in pending_signatures.items():
        unchanged = code not in changed_codes and code not in moved
        for new_name, label, value, where in items:
            if unchanged:
                result.placed.setdefault(code, {})[new_name] = value
            else:
                carried.append(Carried(code, label, where, value,
                                       "ข้อมูลที่ลงนามไว้เปลี่ยนไป ต้องลงนามใหม่", "the signed content changed: sign again"))
        if unchanged:
            result.signatures_kept.append(code)
        else:
            result.changes.append(Change("signature", code, "", "",
                                         "ลายมือชื่อเดิมอยู่ในแผ่นงานยกมาจากฉบับเดิม", "the old signature is on the carried-over sheet"))
    for item in carried:
        result.changes.append(Change("carried", item.code, f"{item.where}: {shown(item.value)}"[:120], "",
                                     item.reason_th, item.reason_en))
    carried.extend(_earlier_carried(path, raw, spec))

    quarter_cell = raw.workbook_cells.get("report_quarter")
    quarter = quarter_cell.raw if quarter_cell is not None else None
    quarter = int(quarter) if isinstance(quarter, (int, float)) and int(quarter) in (1, 2, 3, 4) else None
    planned = _planned_raw(str(target), spec, new_inds, result.placed, quarter)
    new_report = evaluate(planned, catalog=catalog, quarter=quarter)
    for p in new_report.problems:
        loc = p.location
        if loc.sheet in result.placed and loc.name in result.placed[loc.sheet]:
            located = p.model_copy(update={"location": loc.model_copy(update={"file": str(target)})})
            result.misfits.append(located)
            result.changes.append(Change("misfit", loc.sheet or "", f"{loc.cell}: {shown(result.placed[loc.sheet][loc.name])}",
                                         "", f"{p.code} {p.message_th}", p.message_en))
    old_scores = {r.code: r.score for r in old_report.indicators}
    for r in new_report.indicators:
        if r.code in old_scores and r.code in changed_codes and old_scores[r.code] != r.score:
            result.changes.append(Change("score", r.code, shown(old_scores[r.code]) or "-", shown(r.score) or "-"))
    order = {c: n for n, c in enumerate([*meta.indicator_codes, *new_by_code])}
    result.changes.sort(key=lambda c: (order.get(c.code, -1), list(KINDS).index(c.kind)))
    return result, quarter


def upgrade_workbook(path: str | Path, catalog: Catalog, out_dir: str | Path, *, force: bool = False,
                     inputs: Iterable[Path] = (), taken: set[Path] | None = None,
                     spec: FormSpec | None = None) -> UpgradeResult:
    """Upgrade one workbook into ``out_dir``; raises :class:`UpgradeError` with located problems.

    ``inputs`` are never written over (nor is ``path``); ``taken`` holds outputs already written in
    this run, which ``force`` does not overwrite either (two workbooks of one district).
    """
    path = Path(path)
    spec = spec or load_spec()
    macros = path.suffix.lower() == ".xlsm"
    raw, _, meta, _ = _read(path)
    _check(raw, meta, catalog, spec)
    target = Path(out_dir) / template.output_name(catalog, meta.district_code, macros=macros)
    try:  # not an input, not inside a folder being read, a folder that takes files (kpi_xl.files)
        check_output_folder(out_dir, inputs=[path, *inputs], option="--out")
        target.parent.mkdir(parents=True, exist_ok=True)
        check_output(target, inputs=[path, *inputs], suffixes=(".xlsm", ".xlsx"), option="--out")
    except KpiError as exc:
        raise UpgradeError([p.model_copy(update={"location": Location(file=str(path))}) for p in exc.problems]) from None
    if (target.exists() and not force) or target.resolve() in (taken or set()):
        raise _refuse("KPI-E620", Location(file=str(path)), value=str(target))
    result, quarter = plan_upgrade(path, catalog, target, spec)
    sheets = {"changes": [c.row() for c in result.changes] or [{"note": "ไม่มีการเปลี่ยนแปลง / nothing changed"}]}
    if result.carried:
        sheets["carried"] = [c.row() for c in result.carried]
    past = past_of(meta.past_json) if meta.fiscal_year == catalog.fiscal_year else None
    data = template.workbook_bytes(catalog, meta.district_code, macros=macros, report_sheets=sheets, past=past)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".kpi-upgrade-", dir=target.parent) as tmp:
        fresh = Path(tmp) / ("fresh" + target.suffix)
        fresh.write_bytes(data)
        filled = fill.fill_workbook(fresh, Path(tmp) / ("filled" + target.suffix), values=result.placed,
                                    report_quarter=quarter)
        with atomic_path(target) as out:
            out.write_bytes(filled.read_bytes())
    return result


def past_of(past_json: str) -> model.DistrictPast | None:
    """The history the old workbook carried (kpi-xl build --history), so the new one keeps it."""
    if not past_json:
        return None
    try:
        return model.DistrictPast.model_validate_json(past_json)
    except ValueError:
        return None


def upgrade_all(paths: Iterable[str | Path], catalog: Catalog, out_dir: str | Path, *, force: bool = False,
                progress: Callable[[Path], None] | None = None) -> tuple[list[UpgradeResult], list[Problem]]:
    """Upgrade every workbook given (folders expanded); one refusal does not stop the others."""
    given = [Path(p) for p in paths]
    files = inputs_of(given)
    results: list[UpgradeResult] = []
    refused: list[Problem] = []
    written: set[Path] = set()
    for path in files:
        try:
            result = upgrade_workbook(path, catalog, out_dir, force=force, inputs=[*given, *files], taken=written)
        except KpiError as exc:
            refused += exc.problems
            continue
        written.add(result.target.resolve())
        results.append(result)
        if progress:
            progress(path)
    return results, refused
