"""Fill head office's own workbook (``--into HQ.xlsx``) with the run's figures.

Head office designs its report in Excel — logo, fonts, charts, formulas, other sheets — and marks
where kpi-xl's figures go with two Excel features it already knows:

- **named cells** (Formulas › Define Name) called ``kpi_…``: ``kpi_received``, ``kpi_mean_score``,
  ``kpi_score_1030``… (the full list is :data:`PLACEHOLDERS` plus the per-district and per-indicator
  patterns, documented in docs/head-office-guide.md);
- **Excel tables** (Insert › Table) named ``kpi_districts…``, ``kpi_indicators…`` or
  ``kpi_problems…``, whose columns are matched by their header (Thai or English, e.g. "คะแนน" or
  ``score``; an indicator code such as ``KPI-05`` gives that indicator's score). The table grows or
  shrinks to one row per district / indicator / problem; its first data row is the pattern for the
  rows added (styles, row height, and formulas in columns kpi-xl does not fill).

Everything else is left as it is: openpyxl loads and saves the workbook, keeping styles, column
widths, merged cells, other sheets, data validation and conditional formats (and the VBA project
of an .xlsm). The result is always a new file, written atomically; the template is never changed.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .files import atomic_path
from .keep_vba import save_keeping_vba
from .problems import KpiError, Location, Problem, problem

if TYPE_CHECKING:  # pragma: no cover
    from openpyxl import Workbook
    from openpyxl.worksheet.worksheet import Worksheet

    from .result import ConsolidationResult

PREFIX = "kpi_"
BANGKOK = dt.timezone(dt.timedelta(hours=7))

Getter = Callable[["ConsolidationResult"], Any]


def _count(key: str) -> Getter:
    return lambda r: r.counts[key]


def _names(status: str) -> Getter:
    def get(r: ConsolidationResult) -> str:
        rows = r.districts[r.districts["status"] == status]
        return ", ".join(rows["district_name_th"].astype(str)) or "-"
    return get


def _extreme(best: bool) -> Getter:
    def get(r: ConsolidationResult) -> str | None:
        scored = r.districts.dropna(subset=["score"])
        if scored.empty:
            return None
        ordered = scored.sort_values(["score", "district_code"], ascending=[not best, True])
        return str(ordered.iloc[0]["district_name_th"])
    return get


def _score_stat(fn: Callable[[Any], Any]) -> Getter:
    def get(r: ConsolidationResult) -> float | None:
        scored = r.districts["score"].dropna()
        return None if scored.empty else float(fn(scored))
    return get


def _run_date(r: ConsolidationResult) -> dt.datetime:
    at = r.run_at if r.run_at.tzinfo else r.run_at.replace(tzinfo=dt.UTC)
    return at.astimezone(BANGKOK).replace(tzinfo=None)


# name → (Thai description, English description, value)
PLACEHOLDERS: dict[str, tuple[str, str, Getter]] = {
    "kpi_fiscal_year": ("ปีงบประมาณ (พ.ศ.)", "fiscal year (BE)", lambda r: r.fiscal_year),
    "kpi_quarter": ("ไตรมาสที่รวบรวม", "quarter consolidated", lambda r: r.quarter),
    "kpi_period": ("ปีงบประมาณและไตรมาส (ข้อความ)", "period as text",
                   lambda r: f"ปีงบประมาณ {r.fiscal_year} ไตรมาสที่ {r.quarter}"),
    "kpi_catalog_title": ("ชื่อทะเบียนตัวชี้วัด", "catalog title", lambda r: r.catalog_title_th),
    "kpi_run_date": ("วันเวลาที่รวบรวม (เวลาไทย)", "when the run happened (ICT)", _run_date),
    "kpi_districts_total": ("จำนวนเขตทั้งหมด", "districts in the catalog", _count("districts")),
    "kpi_received": ("จำนวนเขตที่ส่งแล้ว (ใช้ได้)", "districts received (usable)", _count("received")),
    "kpi_clean": ("ส่งแล้ว ถูกต้องครบถ้วน", "received, clean", _count("clean")),
    "kpi_with_errors": ("ส่งแล้ว มีข้อผิดพลาด", "received, with errors", _count("with_errors")),
    "kpi_missing": ("ยังไม่ส่ง", "missing", _count("missing")),
    "kpi_duplicates": ("เขตที่ส่งซ้ำ", "districts with duplicates", _count("duplicates")),
    "kpi_wrong_year": ("ผิดปีงบประมาณ", "wrong fiscal year", _count("wrong_year")),
    "kpi_other_catalog": ("สร้างจากทะเบียนฉบับอื่น", "other catalog version", _count("other_catalog")),
    "kpi_unreadable": ("เปิดไม่ได้ / ไม่ใช่แบบรายงาน", "unreadable or not kpi-xl",
                       lambda r: sum(r.counts[k] for k in ("corrupt", "encrypted", "xls", "not_kpi_xl"))),
    "kpi_files": ("จำนวนแฟ้มในโฟลเดอร์", "files found", _count("files")),
    "kpi_mean_score": ("คะแนนเฉลี่ยของเขต", "mean district score", lambda r: r.mean_score),
    "kpi_max_score": ("คะแนนสูงสุด", "highest district score", _score_stat(max)),
    "kpi_min_score": ("คะแนนต่ำสุด", "lowest district score", _score_stat(min)),
    "kpi_best_district": ("เขตที่ได้คะแนนสูงสุด", "best district", _extreme(True)),
    "kpi_worst_district": ("เขตที่ได้คะแนนต่ำสุด", "lowest-scoring district", _extreme(False)),
    "kpi_missing_list": ("รายชื่อเขตที่ยังไม่ส่ง", "names of missing districts", _names("missing")),
    "kpi_with_errors_list": ("รายชื่อเขตที่มีข้อผิดพลาด", "names of districts with errors", _names("with_errors")),
    "kpi_errors": ("จำนวนข้อผิดพลาดทั้งหมด", "errors listed",
                   lambda r: int((r.problems["severity"] == "error").sum())),
    "kpi_warnings": ("จำนวนคำเตือนทั้งหมด", "warnings listed",
                     lambda r: int((r.problems["severity"] == "warning").sum())),
}

# Per district: kpi_score_1030, kpi_rank_1030, kpi_status_1030, kpi_prev_quarter_1030, kpi_prev_year_1030.
DISTRICT_PATTERNS: dict[str, tuple[str, str, str]] = {
    "score": ("คะแนนถ่วงน้ำหนักของเขต", "district weighted score", "score"),
    "rank": ("อันดับของเขต", "district rank", "rank"),
    "status": ("สถานะการส่งของเขต", "district status (Thai)", "status_th"),
    "prev_quarter": ("คะแนนไตรมาสก่อน", "previous quarter's score", "prev_quarter_score"),
    "prev_year": ("คะแนนไตรมาสเดียวกันปีก่อน", "same quarter last year", "prev_year_score"),
    "score_strategic": ("คะแนนตัวชี้วัดเชิงยุทธศาสตร์ของเขต", "district score, strategic KPIs", "score_strategic"),
    "score_routine": ("คะแนนตัวชี้วัดงานประจำของเขต", "district score, routine KPIs", "score_routine"),
    "hq_score": ("คะแนนของเขตเมื่อใช้คะแนนที่สำนักงานใหญ่ประเมิน (ว่างถ้ายังไม่ประเมิน)",
                 "district score with head office's assessed scores (empty until assessed)", "hq_district_score"),
    "signoff": ("สถานะการยืนยันส่งรายงาน", "sign-off status (Thai)", "signoff_th"),
}
# Longest first, so that kpi_score_strategic_1030 is not read as kpi_score_… of "strategic_1030".
_DISTRICT_NAME = re.compile(
    r"kpi_(" + "|".join(sorted(DISTRICT_PATTERNS, key=len, reverse=True)) + r")_(\d{4})")
# Per indicator (code with "-" written "_"): kpi_mean_KPI_05, kpi_met_share_KPI_05, kpi_reporting_KPI_05.
INDICATOR_PATTERNS: dict[str, tuple[str, str, str]] = {
    "mean": ("คะแนนเฉลี่ยของตัวชี้วัด", "indicator mean score", "mean_score"),
    "min": ("คะแนนต่ำสุดของตัวชี้วัด", "indicator lowest score", "min_score"),
    "max": ("คะแนนสูงสุดของตัวชี้วัด", "indicator highest score", "max_score"),
    "met_share": ("สัดส่วนเขตที่ผ่านเป้าหมาย (0–1)", "share of districts meeting the target (0–1)", "met_share"),
    "reporting": ("จำนวนเขตที่รายงาน", "districts reporting", "districts_reporting"),
}

# Table kind → [(frame column, accepted headers)]; headers compare case-, space- and newline-blind.
TABLE_COLUMNS: dict[str, list[tuple[str, list[str]]]] = {
    "kpi_districts": [
        ("district_code", ["รหัสเขต", "รหัส", "code", "district_code"]),
        ("district_name_th", ["เขต", "ชื่อเขต", "สำนักงานเขต", "district_name_th"]),
        ("district_name_en", ["district", "district_name_en", "name_en"]),
        ("status_th", ["สถานะ", "สถานะการส่ง", "status_th"]),
        ("status_en", ["status", "status_en"]),
        ("file", ["แฟ้ม", "file"]),
        ("saved", ["บันทึกล่าสุด", "saved"]),
        ("report_quarter", ["ไตรมาสที่รายงาน", "report_quarter"]),
        ("errors", ["ข้อผิดพลาด", "errors"]),
        ("warnings", ["คำเตือน", "warnings"]),
        ("score", ["คะแนน", "คะแนนถ่วงน้ำหนัก", "score", "weighted score"]),
        ("rank", ["อันดับ", "rank"]),
        ("prev_quarter_score", ["ไตรมาสก่อน", "คะแนนไตรมาสก่อน", "prev_quarter_score", "previous quarter"]),
        ("prev_year_score", ["ปีก่อน", "คะแนนปีก่อน", "prev_year_score", "previous year"]),
        ("note_th", ["หมายเหตุ", "note_th"]),
        ("score_strategic", ["คะแนนเชิงยุทธศาสตร์", "ตัวชี้วัดเชิงยุทธศาสตร์", "strategic", "score_strategic"]),
        ("score_routine", ["คะแนนงานประจำ", "ตัวชี้วัดงานประจำ", "routine", "score_routine"]),
        ("hq_district_score", ["คะแนนที่สำนักงานใหญ่ประเมิน", "คะแนนสำนักงานใหญ่", "head office's score", "hq_score"]),
        ("signoff_th", ["การยืนยันส่ง", "สถานะการยืนยันส่ง", "sign-off", "signoff"]),
    ],
    "kpi_indicators": [
        ("indicator_code", ["รหัสตัวชี้วัด", "รหัส", "code", "indicator_code"]),
        ("indicator_name_th", ["ชื่อตัวชี้วัด", "ตัวชี้วัด", "indicator", "indicator_name_th"]),
        ("indicator_name_en", ["indicator_name_en", "name_en"]),
        ("weight", ["น้ำหนัก", "weight"]),
        ("target", ["เป้าหมาย", "target"]),
        ("unit", ["หน่วย", "หน่วยนับ", "unit"]),
        ("districts_applicable", ["เขตที่ใช้", "districts_applicable"]),
        ("districts_reporting", ["เขตที่รายงาน", "districts_reporting"]),
        ("mean_score", ["คะแนนเฉลี่ย", "mean", "mean_score"]),
        ("min_score", ["ต่ำสุด", "min", "min_score"]),
        ("max_score", ["สูงสุด", "max", "max_score"]),
        ("met", ["ผ่านเป้าหมาย", "met"]),
        ("met_share", ["ร้อยละผ่านเป้าหมาย", "สัดส่วนผ่านเป้าหมาย", "met_share", "% met"]),
        ("kind_th", ["ประเภทตัวชี้วัด", "ประเภท", "kind"]),
    ],
    "kpi_problems": [
        ("district_code", ["รหัสเขต", "district_code"]),
        ("district_name_th", ["เขต", "district_name_th"]),
        ("file", ["แฟ้ม", "file"]),
        ("sheet", ["แผ่นงาน", "sheet"]),
        ("cell", ["เซลล์", "cell"]),
        ("code", ["รหัสปัญหา", "problem", "code"]),
        ("severity", ["ระดับ", "severity"]),
        ("message_th", ["ข้อความ", "message_th"]),
        ("message_en", ["message", "message_en"]),
    ],
}


def _key(text: Any) -> str:
    return re.sub(r"\s+", " ", str(text or "")).strip().casefold()


def _table_kind(name: str) -> str | None:
    lowered = name.casefold()
    for kind in TABLE_COLUMNS:
        if lowered == kind or lowered.startswith(kind + "_") or lowered.startswith(kind + "."):
            return kind
    return None


# ---------------------------------------------------------------------------------------------
# Values


def _plain(value: Any) -> Any:
    """pandas/numpy values → what openpyxl writes (numbers as numbers, missing as empty)."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    try:
        import pandas as pd

        if not isinstance(value, (str, bytes, list, tuple, dict)) and pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def placeholder_value(name: str, result: ConsolidationResult) -> tuple[bool, Any]:
    """(known, value) of a ``kpi_…`` name for this run."""
    lowered = name.casefold()
    for key, (_, _, get) in PLACEHOLDERS.items():
        if lowered == key:
            return True, _plain(get(result))
    m = _DISTRICT_NAME.fullmatch(lowered)
    if m:
        column = DISTRICT_PATTERNS[m.group(1)][2]
        rows = result.districts[result.districts["district_code"] == int(m.group(2))]
        if rows.empty:
            return False, None
        # hq_district_score exists only once history holds head office's review: then empty, not unknown.
        return True, _plain(rows.iloc[0][column]) if column in rows.columns else None
    m = re.fullmatch(r"kpi_(mean|min|max|met_share|reporting)_(.+)", lowered)
    if m:
        column = INDICATOR_PATTERNS[m.group(1)][2]
        wanted = _code_key(m.group(2))
        for row in result.indicators.to_dict("records"):
            if _code_key(row["indicator_code"]) == wanted:
                return True, _plain(row[column])
        return False, None
    return False, None


def _code_key(code: str) -> str:
    return re.sub(r"[^0-9a-z]", "", code.casefold())


# ---------------------------------------------------------------------------------------------
# Finding the placeholders


def _named_cells(wb: Workbook) -> list[tuple[str, str, str]]:
    """(name, sheet, range) of every ``kpi_…`` defined name, workbook- or sheet-scoped."""
    found = []
    for name, defined in wb.defined_names.items():
        if name.casefold().startswith(PREFIX):
            found.extend((name, sheet, ref) for sheet, ref in defined.destinations)
    for ws in wb.worksheets:
        for name, defined in ws.defined_names.items():
            if name.casefold().startswith(PREFIX):
                found.extend((name, sheet, ref) for sheet, ref in defined.destinations)
    return sorted(found)


def _tables(wb: Workbook) -> list[tuple[Worksheet, Any, str]]:
    out = []
    for ws in wb.worksheets:
        for table in ws.tables.values():
            kind = _table_kind(table.name)
            if kind is not None:
                out.append((ws, table, kind))
    return out


def _load(path: Path) -> Workbook:
    import openpyxl

    try:
        return openpyxl.load_workbook(path, keep_vba=path.suffix.lower() == ".xlsm", keep_links=True)
    except Exception as exc:  # openpyxl raises many types for a file it cannot read
        raise KpiError([problem("KPI-E504", Location(file=str(path)),
                                detail=f"{type(exc).__name__}: {exc}".splitlines()[0][:200])]) from exc


def check_template(path: str | Path) -> list[str]:
    """The placeholders a template uses; raises :class:`KpiError` when it cannot be used at all.

    Called before a consolidation starts, so a wrong ``--into`` fails in a second, not after the
    whole folder was checked.
    """
    path = Path(path)
    if not path.is_file():
        raise KpiError([problem("KPI-E504", Location(file=str(path)), detail="ไม่พบแฟ้ม / file not found")])
    wb = _load(path)
    names = [n for n, _, _ in _named_cells(wb)] + [t.name for _, t, _ in _tables(wb)]
    if not names:
        raise KpiError([problem("KPI-E502", Location(file=str(path)))])
    return sorted(set(names))


# ---------------------------------------------------------------------------------------------
# Filling


def default_output(template: Path, result: ConsolidationResult, folder: Path | None = None) -> Path:
    """``<template stem>_<fy>_Q<q><suffix>``, beside the summary (or the template)."""
    folder = folder if folder is not None else template.parent
    return folder / f"{template.stem}_{result.fiscal_year}_Q{result.quarter}{template.suffix}"


def fill_template(template: str | Path, out: str | Path, result: ConsolidationResult) -> Path:
    """Write a filled copy of ``template`` to ``out``; returns ``out``.

    Problems that do not stop the fill (an unknown ``kpi_…`` name: KPI-W504) are added to
    ``result.problems`` so they appear in the summary's problem sheet.
    """
    template, out = Path(template), Path(out)
    if out.resolve() == template.resolve():
        raise ValueError(f"จะไม่เขียนทับแม่แบบ {template} / refusing to overwrite the template {template}")
    wb = _load(template)
    warnings: list[Problem] = []
    cells = _named_cells(wb)
    tables = _tables(wb)
    if not cells and not tables:
        raise KpiError([problem("KPI-E502", Location(file=str(template)))])
    for name, sheet, ref in cells:
        known, value = placeholder_value(name, result)
        if not known:
            warnings.append(problem("KPI-W504", Location(file=template.name, sheet=sheet, cell=ref.replace("$", ""),
                                                         name=name), value=name))
            continue
        _write_named(wb[sheet], ref, value)
    for ws, table, kind in tables:
        _fill_table(ws, table, kind, result, template.name)
    wb.calculation.fullCalcOnLoad = True  # Excel recomputes head office's own formulas on open
    with atomic_path(out) as tmp:
        if wb.vba_archive is not None:
            save_keeping_vba(wb, tmp)  # an .xlsm template keeps its macros and every button
        else:
            wb.save(tmp)
    if warnings:
        _add_problems(result, warnings)
    return out


def _write_named(ws: Worksheet, ref: str, value: Any) -> None:
    """Into the name's first cell (a name over a range gets its value in the top-left cell)."""
    from openpyxl.utils import range_boundaries

    min_col, min_row, _, _ = range_boundaries(ref.replace("$", ""))
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    _set(ws.cell(row=min_row, column=min_col), value)


def _set(cell: Any, value: Any) -> None:
    """Write a value; text stays text. openpyxl turns a string starting with "=" into a formula, so
    a district's file name "=cmd|' -C calc'!A0.xlsm" or narrative "=HYPERLINK(…)" would run in head
    office's own workbook: the cell's type is forced back to a plain string."""
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"


def _table_rows(kind: str, result: ConsolidationResult) -> list[dict[str, Any]]:
    if kind == "kpi_districts":
        rows = result.districts.to_dict("records")
        scores = {(int(code), ind): score for code, ind, score in
                  zip(result.scores["district_code"], result.scores["indicator_code"], result.scores["score"],
                      strict=True)}
        for row in rows:
            for ind in result.indicators["indicator_code"]:
                row[_key(ind)] = scores.get((int(row["district_code"]), ind))
            row["saved"] = _local(row.get("saved"))
        return rows
    if kind == "kpi_indicators":
        from .catalog import Kind

        rows = result.indicators.to_dict("records")
        for row in rows:
            row["kind_th"] = Kind(row["kind"]).th if row.get("kind") in set(Kind) else None
        return rows
    return result.problems.to_dict("records")


def _local(value: Any) -> Any:
    value = _plain(value)
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.UTC).astimezone(BANGKOK).replace(tzinfo=None)
    return value


def _fill_table(ws: Worksheet, table: Any, kind: str, result: ConsolidationResult, template: str) -> None:
    from openpyxl.formula.translate import Translator
    from openpyxl.utils import get_column_letter, range_boundaries

    min_col, min_row, max_col, max_row = range_boundaries(table.ref)
    header_rows = table.headerRowCount if table.headerRowCount is not None else 1
    totals_rows = table.totalsRowCount or 0
    header_row = min_row if header_rows else None
    first = min_row + header_rows
    old_last = max_row - totals_rows  # last data row now
    columns: dict[int, str] = {}
    aliases = {_key(alias): key for key, names in TABLE_COLUMNS[kind] for alias in names}
    if kind == "kpi_districts":
        aliases.update({_key(code): _key(code) for code in result.indicators["indicator_code"]})
    headers = [c.name for c in table.tableColumns] if table.tableColumns else []
    for offset, col in enumerate(range(min_col, max_col + 1)):
        text = ws.cell(row=header_row, column=col).value if header_row else None
        if text is None and offset < len(headers):
            text = headers[offset]
        key = aliases.get(_key(text))
        if key is not None:
            columns[col] = key

    rows = _table_rows(kind, result)
    count = max(len(rows), 1)  # an Excel table keeps at least one data row
    new_last = first + count - 1

    # The first data row is the pattern: styles, height, formulas of head office's own columns.
    pattern = {col: ws.cell(row=first, column=col) for col in range(min_col, max_col + 1)}
    styles = {col: copy.copy(cell._style) for col, cell in pattern.items()}
    formulas = {col: cell.value for col, cell in pattern.items()
                if col not in columns and isinstance(cell.value, str) and cell.value.startswith("=")}
    height = ws.row_dimensions[first].height
    totals = []
    if totals_rows:
        for r in range(old_last + 1, max_row + 1):
            totals.append({col: (ws.cell(row=r, column=col).value, copy.copy(ws.cell(row=r, column=col)._style))
                           for col in range(min_col, max_col + 1)})
        totals_height = [ws.row_dimensions[r].height for r in range(old_last + 1, max_row + 1)]
    below_style = {col: copy.copy(ws.cell(row=max_row + 1, column=col)._style) for col in range(min_col, max_col + 1)}

    grown_to = new_last + totals_rows
    if grown_to > max_row:
        for r in range(max_row + 1, grown_to + 1):
            for col in range(min_col, max_col + 1):
                if ws.cell(row=r, column=col).value not in (None, ""):
                    raise KpiError([problem("KPI-E503", Location(file=template, sheet=ws.title,
                                                                 cell=f"{get_column_letter(col)}{r}"),
                                            value=table.name, count=count)])

    for index in range(count):
        r = first + index
        row = rows[index] if index < len(rows) else {}
        for col in range(min_col, max_col + 1):
            cell = ws.cell(row=r, column=col)
            if r > old_last:
                cell._style = copy.copy(styles[col])
            if col in columns:
                _set(cell, _plain(row.get(columns[col])))
            elif col in formulas and r != first:
                source = f"{get_column_letter(col)}{first}"
                cell.value = Translator(formulas[col], origin=source).translate_formula(f"{get_column_letter(col)}{r}")
        if r > old_last and height is not None:
            ws.row_dimensions[r].height = height
    # Rows the table no longer covers: emptied and given the look of the cells below the table.
    for r in range(new_last + 1, max_row + 1):
        for col in range(min_col, max_col + 1):
            cell = ws.cell(row=r, column=col)
            cell.value = None
            cell._style = copy.copy(below_style[col])
    for i, line in enumerate(totals):
        r = new_last + 1 + i
        for col, (value, style) in line.items():
            cell = ws.cell(row=r, column=col)
            cell.value = value
            cell._style = style
        if totals_height[i] is not None:
            ws.row_dimensions[r].height = totals_height[i]

    last_row = new_last + totals_rows
    table.ref = f"{get_column_letter(min_col)}{min_row}:{get_column_letter(max_col)}{last_row}"
    if table.autoFilter is not None:
        table.autoFilter.ref = f"{get_column_letter(min_col)}{min_row}:{get_column_letter(max_col)}{new_last}"


def _add_problems(result: ConsolidationResult, found: list[Problem]) -> None:
    import pandas as pd

    rows = []
    for p in found:
        rows.append({"district_code": pd.NA, "district_name_th": None, "file": p.location.file,
                     "sheet": p.location.sheet, "cell": p.location.cell, "name": p.location.name, "code": p.code,
                     "severity": p.severity.value, "message_th": p.message_th, "message_en": p.message_en})
    extra = pd.DataFrame(rows, columns=result.problems.columns)
    frames = [f for f in (result.problems, extra) if len(f)]
    merged = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)
    merged["district_code"] = merged["district_code"].astype("Int64")
    result.problems = merged


def placeholder_table() -> list[tuple[str, str, str]]:
    """(name, Thai, English) of every placeholder, for the head-office guide."""
    rows = [(name, th, en) for name, (th, en, _) in PLACEHOLDERS.items()]
    rows += [(f"kpi_{key}_<รหัสเขต>", th, en) for key, (th, en, _) in DISTRICT_PATTERNS.items()]
    rows += [(f"kpi_{key}_<รหัสตัวชี้วัด>", th, en) for key, (th, en, _) in INDICATOR_PATTERNS.items()]
    return rows
