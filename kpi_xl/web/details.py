"""What the history database does not hold yet: quarterly values, narratives, sign-off.

Today ``history`` stores scores but not what districts wrote. The summary workbook of the same run
does: its ข้อมูล (data) sheet is a long table whose first row holds machine keys
(:func:`kpi_xl.summary.data_columns`), one row per district × indicator with every input field.
The run records that workbook's path, so the report reads it when it is still there and simply
shows less when it is not (a site built from a database copied to another machine). When history
stores the fields itself, :func:`read_details` is the one function to replace.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

DATA_SHEET = "ข้อมูล"
KEEP = ("target", "unit", "explanation_th", "result_value", "level_1", "level_2", "level_3", "level_4", "level_5",
        "q1_value", "q2_value", "q3_value", "q4_value", "q1_report", "q2_report", "q3_report", "q4_report",
        "year_summary", "support_factors", "obstacles", "evidence", "signer_name", "signer_position", "signed_date")


def _json_ready(value: Any) -> Any:
    """Calamine gives floats for whole numbers and dates as date objects; the JSON twin wants plain values."""
    if value == "" or value is None:
        return None
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    return value


def read_details(summary: str | Path | None) -> dict[tuple[int, str], dict[str, Any]]:
    """(district code, indicator code) → the fields a district typed; empty when the file is gone."""
    if not summary:
        return {}
    path = Path(summary)
    if not path.is_file():
        return {}
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(path))
        rows = book.get_sheet_by_name(DATA_SHEET).to_python()
    except Exception:  # a summary from another version or a damaged file: show the scores only
        return {}
    if len(rows) < 3:
        return {}
    keys = [str(k) for k in rows[0]]
    if "district_code" not in keys or "indicator_code" not in keys:
        return {}
    at = {k: i for i, k in enumerate(keys)}
    out: dict[tuple[int, str], dict[str, Any]] = {}
    for row in rows[2:]:
        code = row[at["district_code"]]
        if not isinstance(code, (int, float)) or not row[at["indicator_code"]]:
            continue
        out[(int(code), str(row[at["indicator_code"]]))] = {
            k: _json_ready(row[at[k]]) for k in KEEP if k in at and at[k] < len(row)}
    return out
