"""Head office's review workbook (``review_<fy>_Q<q>.xlsx``): one row per district × indicator.

What the district reported (value, self-assessed score, target met, the quarter's narrative, its
obstacles, the problems kpi-xl found, the sign-off state) sits in locked, read-only columns; head
office's own columns (assessed score 0–5, comment, decision รับ / ส่งกลับแก้ไข, reviewer) are the
only unlocked cells, with data validation. The sheet is protected without a password: it guards
against slips, not against intent, so each row also carries a hidden SHA-256 of its read-only
cells, and ``kpi-xl review apply`` refuses a row whose read-only cells were edited.

Re-consolidating the same quarter rewrites the workbook, but head office's entries already made
are carried over for every row whose submission is unchanged (same file SHA-256, kept in another
hidden column); a district that sent a new file gets empty head-office cells again, because what
was assessed is no longer what the district says.

Every text is written with ``write_string``: a narrative starting with "=" stays text.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..catalog import Kind

if TYPE_CHECKING:  # pragma: no cover
    from ..result import ConsolidationResult

SHEET = "ตรวจประเมิน"
ACCEPT, RETURN = "รับ", "ส่งกลับแก้ไข"
DECISIONS = (ACCEPT, RETURN)
FONT, FONT_SIZE = "TH Sarabun New", 14

# (key, Thai header, English header, width, head office's column?)
COLUMNS: list[tuple[str, str, str, float, bool]] = [
    ("district_code", "รหัสเขต", "code", 8, False),
    ("district_name_th", "เขต", "district", 14, False),
    ("indicator_code", "รหัสตัวชี้วัด", "indicator", 10, False),
    ("indicator_name_th", "ชื่อตัวชี้วัด", "indicator name", 30, False),
    ("kind", "ประเภท", "kind", 12, False),
    ("year_value", "ผลงาน", "value", 9, False),
    ("score", "คะแนนประเมินตนเอง", "self-assessed score", 10, False),
    ("target_met", "ผ่านเป้าหมาย", "target met", 9, False),
    ("narrative", "ผลการดำเนินงานไตรมาสนี้", "this quarter's narrative", 45, False),
    ("obstacles", "อุปสรรค", "obstacles", 25, False),
    ("problems", "ปัญหาที่ตรวจพบ", "problems found", 35, False),
    ("signoff", "การยืนยันส่ง", "sign-off", 22, False),
    ("returned", "ที่ส่งกลับแก้ไขครั้งก่อน", "sent back earlier", 16, False),
    ("hq_score", "คะแนนที่สำนักงานประเมิน (0–5)", "head office's score (0–5)", 12, True),
    ("hq_comment", "ความเห็นของสำนักงาน", "head office's comment", 35, True),
    ("decision", "ผลการพิจารณา", "decision", 14, True),
    ("reviewer", "ผู้ตรวจ", "reviewer", 16, True),
    ("row_hash", "row_hash", "row_hash", 10, False),
    ("submission", "submission", "submission", 10, False),
    ("file", "file", "file", 10, False),
]
HIDDEN = ("row_hash", "submission", "file")
META_SHEET = "_review"
KEYS = [c[0] for c in COLUMNS]
COL = {key: i for i, key in enumerate(KEYS)}
READ_ONLY = [c[0] for c in COLUMNS if not c[4] and c[0] not in HIDDEN]
HQ = [c[0] for c in COLUMNS if c[4]]
HEADER_ROW = 0  # 0-based; data from row 1


def review_path(summary: Path, fiscal_year: int, quarter: int) -> Path:
    """Beside the summary, named for its period."""
    return summary.parent / f"review_{fiscal_year}_Q{quarter}.xlsx"


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (isinstance(value, str) and not value.strip())


def shown(value: Any) -> str:
    """The canonical text of a read-only cell, as written and as read back (for the row hash)."""
    if _blank(value):
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return f"{float(value):.6g}"
    return str(value).strip()


def row_hash(row: dict[str, Any]) -> str:
    payload = "\x1e".join(f"{k}\x1f{shown(row.get(k))}" for k in READ_ONLY)
    return hashlib.sha256(payload.encode()).hexdigest()


def review_rows(result: ConsolidationResult) -> list[dict[str, Any]]:
    """One dict per district × indicator with the read-only columns, from the result only."""
    quarter = result.quarter
    districts = result.districts.set_index("district_code")
    sha = dict(zip(result.submissions["file"], result.submissions["sha256"], strict=True))
    problems: dict[tuple[int, str], list[str]] = {}
    for p in result.problems.to_dict("records"):
        code, sheet = p.get("district_code"), p.get("sheet")
        if code is None or _blank(code) or not isinstance(sheet, str):
            continue
        problems.setdefault((int(code), sheet), []).append(f"{p['code']} {p.get('cell') or ''}: {p['message_th']}")
    rows = []
    usable = {"clean", "with_errors"}  # a district that sent nothing usable has nothing to assess
    for r in result.scores.to_dict("records"):
        code = int(r["district_code"])
        d = districts.loc[code]
        if d["status"] not in usable:
            continue
        met = r.get("target_met")
        returned = r.get("returned")
        rows.append({
            "district_code": code, "district_name_th": r["district_name_th"],
            "indicator_code": r["indicator_code"], "indicator_name_th": r["indicator_name_th"],
            "kind": Kind(r["kind"]).th if r.get("kind") else "",
            "year_value": None if _blank(r.get("year_value")) else float(r["year_value"]),
            "score": None if _blank(r.get("score")) else float(r["score"]),
            "target_met": "" if _blank(met) or met is None else ("ผ่าน" if met else "ไม่ผ่าน"),
            "narrative": "" if _blank(r.get(f"q{quarter}_report")) else str(r[f"q{quarter}_report"]),
            "obstacles": "" if _blank(r.get("obstacles")) else str(r["obstacles"]),
            "problems": "\n".join(problems.get((code, r["indicator_code"]), [])),
            "signoff": _signoff_text(d) if not _blank(d.get("file")) else str(d["status_th"]),
            "submission": "" if _blank(d.get("file")) else (sha.get(d["file"]) or ""),
            "file": "" if _blank(d.get("file")) else str(d["file"]),
            "returned": {"changed": "ส่งกลับแก้ไข: เขตแก้ไขแล้ว / changed",
                         "unchanged": "ส่งกลับแก้ไข: ยังไม่แก้ไข / not changed"}.get(returned or "", ""),
        })
    for row in rows:
        row["row_hash"] = row_hash(row)
    return rows


def _signoff_text(d: Any) -> str:
    """The sign-off state, then who signed and when (texts from the workbook: written as text)."""
    lines = [d.get("signoff_th") or ""]
    who, when = d.get("signoff_signer"), d.get("signoff_time")
    if not _blank(who) or not _blank(when):
        lines.append(" ".join(str(x) for x in (who, when) if not _blank(x)))
    return "\n".join(x for x in lines if x)


@dataclass
class Entry:
    """Head office's entries on one row, as read back (raw: validated by ``kpi-xl review apply``)."""

    row: int  # 1-based Excel row
    district_code: Any
    indicator_code: Any
    hq_score: Any
    hq_comment: Any
    decision: Any
    reviewer: Any
    read_only: dict[str, Any]
    row_hash: Any
    submission: Any
    file: Any


def read_review(path: Path) -> list[Entry]:
    """Every data row of a review workbook (calamine; the file is never modified)."""
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_path(str(path))
    grid = book.get_sheet_by_name(SHEET).to_python(skip_empty_area=False)
    out = []
    for i, line in enumerate(grid[HEADER_ROW + 1:], start=HEADER_ROW + 2):
        cells = {k: (line[c] if c < len(line) else None) for k, c in COL.items()}
        cells = {k: (None if v == "" else v) for k, v in cells.items()}
        if all(v is None for v in cells.values()):
            continue
        out.append(Entry(row=i, district_code=cells["district_code"], indicator_code=cells["indicator_code"],
                         hq_score=cells["hq_score"], hq_comment=cells["hq_comment"], decision=cells["decision"],
                         reviewer=cells["reviewer"], read_only={k: cells[k] for k in READ_ONLY},
                         row_hash=cells["row_hash"], submission=cells["submission"], file=cells["file"]))
    return out


def _kept(path: Path, rows: list[dict[str, Any]]) -> dict[tuple[int, str], dict[str, Any]]:
    """Head office's entries of an earlier review of the same period, for unchanged submissions."""
    if not path.exists():
        return {}
    try:
        entries = read_review(path)
    except Exception:  # noqa: BLE001 - an unreadable earlier file: nothing to keep, never a failed run
        return {}
    current = {(r["district_code"], r["indicator_code"]): r["submission"] for r in rows}
    kept = {}
    for e in entries:
        try:
            key = (int(float(e.district_code)), str(e.indicator_code))
        except (TypeError, ValueError):
            continue
        if current.get(key) and current[key] == e.submission and any(
                not _blank(getattr(e, k)) for k in HQ):
            kept[key] = {k: getattr(e, k) for k in HQ}
    return kept


def write_review(result: ConsolidationResult, path: str | Path) -> Path:
    """Write (atomically) the review workbook; entries of an earlier one for unchanged submissions stay."""
    import xlsxwriter

    from ..files import atomic_path

    path = Path(path)
    rows = review_rows(result)
    kept = _kept(path, rows)
    with atomic_path(path) as tmp:
        wb = xlsxwriter.Workbook(str(tmp))
        wb.set_properties({"title": f"ตรวจประเมินตัวชี้วัด {result.fiscal_year} ไตรมาส {result.quarter}"})

        def f(**kw: Any) -> Any:
            return wb.add_format({"font_name": FONT, "font_size": FONT_SIZE, "valign": "top", "border": 1,
                                  "border_color": "#BFBFBF", **kw})

        head = f(bold=True, text_wrap=True, bg_color="#DDEBF7", locked=True)
        head_hq = f(bold=True, text_wrap=True, bg_color="#FFE699", locked=True)
        text = f(text_wrap=True)
        num = f(num_format="#,##0.##")
        code_fmt = f(num_format="0")
        score = f(num_format="0.00")
        hq_text = f(text_wrap=True, locked=False, bg_color="#FFF2CC")
        hq_score = f(num_format="0.00", locked=False, bg_color="#FFF2CC")
        ws = wb.add_worksheet(SHEET)
        for c, (key, th, en, width, is_hq) in enumerate(COLUMNS):
            ws.set_column(c, c, width)
            ws.write_string(HEADER_ROW, c, f"{th}\n{en}" if key not in HIDDEN else key,
                            head_hq if is_hq else head)
        ws.set_column(COL["row_hash"], COL["file"], 10, None, {"hidden": True})
        ws.set_row(HEADER_ROW, 66)
        from ..template import row_height

        widths = {c[0]: c[3] for c in COLUMNS}
        for i, row in enumerate(rows, start=HEADER_ROW + 1):
            entry = kept.get((row["district_code"], row["indicator_code"]), {})
            # Excel never grows a row for wrapped text written by a program: size it here.
            ws.set_row(i, row_height([(str(entry.get(k) or row.get(k) or ""), widths[k]) for k in (
                "indicator_name_th", "kind", "narrative", "obstacles", "problems", "signoff", "returned", "hq_comment")]))
            for key in KEYS:
                c = COL[key]
                value = entry.get(key) if key in HQ else row.get(key)
                fmt = (hq_score if key == "hq_score" else hq_text) if key in HQ else (
                    score if key == "score" else num if key == "year_value" else
                    code_fmt if key == "district_code" else text)
                if _blank(value):
                    ws.write_blank(i, c, None, fmt)
                elif isinstance(value, (int, float)) and not isinstance(value, bool):
                    ws.write_number(i, c, value, fmt)
                else:
                    ws.write_string(i, c, str(value), fmt)
        last = HEADER_ROW + max(len(rows), 1)
        ws.data_validation(HEADER_ROW + 1, COL["hq_score"], last, COL["hq_score"], {
            "validate": "decimal", "criteria": "between", "minimum": 0, "maximum": 5,
            "input_title": "คะแนน 0–5", "input_message": "คะแนนที่สำนักงานประเมิน 0 ถึง 5 / head office's score 0–5",
            "error_title": "คะแนนไม่ถูกต้อง", "error_message": "กรอกคะแนน 0 ถึง 5 / a score from 0 to 5"})
        ws.data_validation(HEADER_ROW + 1, COL["decision"], last, COL["decision"], {
            "validate": "list", "source": list(DECISIONS),
            "input_title": "ผลการพิจารณา", "input_message": "รับ หรือ ส่งกลับแก้ไข / accept or send back"})
        ws.freeze_panes(HEADER_ROW + 1, COL["indicator_code"] + 1)
        ws.autofilter(HEADER_ROW, 0, last, COL["reviewer"])
        ws.protect("", {"autofilter": True, "sort": True, "format_columns": True, "format_rows": True,
                        "select_locked_cells": True, "select_unlocked_cells": True})
        ws.set_landscape()
        ws.set_paper(9)  # A4
        ws.fit_to_pages(1, 0)
        ws.repeat_rows(HEADER_ROW)
        ws.print_area(0, 0, last, COL["reviewer"])
        ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
        meta = wb.add_worksheet(META_SHEET)
        for r, (key, value) in enumerate((("fiscal_year", str(result.fiscal_year)), ("quarter", str(result.quarter)),
                                          ("inbox", str(result.inbox)), ("catalog_hash", result.catalog_hash),
                                          ("run_at", result.run_at.isoformat()))):
            meta.write_string(r, 0, key)
            meta.write_string(r, 1, value)
        meta.hide()
        meta.protect("")
        ws.activate()
        ws.set_footer(f"&L&\"{FONT}\"ตรวจประเมินตัวชี้วัด ปีงบประมาณ {result.fiscal_year} ไตรมาส {result.quarter}"
                      "&R&\"" + FONT + "\"หน้า &P / &N")
        wb.close()
    return path


def read_meta(path: Path) -> dict[str, str]:
    """The hidden ``_review`` sheet: the period and the inbox the review was written from."""
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_path(str(path))
    if META_SHEET not in book.sheet_names:
        return {}
    return {str(r[0]): str(r[1]) for r in book.get_sheet_by_name(META_SHEET).to_python() if r and r[0]}
