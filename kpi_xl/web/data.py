"""Everything the web report reads from the history database, and one context function per page.

This is the only module of :mod:`kpi_xl.web` that touches the database, so the history schema can
change under it in one place. It uses plain SQLAlchemy Core against the tables of
:mod:`kpi_xl.history` and never writes.

Which run counts for a period is decided by :func:`current_runs` alone: the run the period's latest "accepted" marker names
of each fiscal year and quarter (highest ``run_at``, then highest id). When history keeps every run
and marks the accepted one, *that query* is the single place to change to "latest accepted run";
every page follows.

A page's context is a plain dict of JSON-ready values (str, int, float, bool, None, lists, dicts):
the HTML page is a Jinja2 view of it and the page's ``.json`` twin is the same dict, so the web face
never computes anything the JSON does not hold. The data of one period is loaded with a handful of
queries into a :class:`Snapshot`; the context functions are pure functions of the snapshot (one
query per table, not one per page: 63 pages would otherwise mean hundreds of round trips).

What history does not store yet (quarterly values, narratives, sign-off) is taken from the summary
workbook the run wrote (:mod:`kpi_xl.web.details`) when that file is still where the run left it;
targets, definitions and methods come from the catalog when one is given or the sample catalog
matches the run's catalog hash.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, and_, create_engine, func, inspect, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql import Select

from ..history import (
    accepted,
    assessments,
    district_results,
    period_label,
    problems,
    results,
    runs,
    submissions,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..catalog import Catalog

STATUS_TH = {
    "clean": "ส่งแล้ว ถูกต้อง", "with_errors": "ส่งแล้ว มีข้อผิดพลาด", "missing": "ยังไม่ส่ง",
}
SCORING_TH = {"milestone": "ขั้นความสำเร็จ", "thresholds": "เกณฑ์ 5 ระดับ", "pass_fail": "ผ่าน/ไม่ผ่าน"}
KIND_TH = {"output": ("ผลผลิต", "output"), "outcome": ("ผลลัพธ์", "outcome")}
# The catalog's KPI kind (kpi_xl.catalog.Kind), also stored per result in history (schema 3).
KPI_KIND = {"strategic": ("ตัวชี้วัดเชิงยุทธศาสตร์", "strategic KPI"), "routine": ("ตัวชี้วัดงานประจำ", "routine KPI")}
SIGNOFF_FLAG = {"signed": ("ยืนยันส่งแล้ว", "signed"), "changed": ("แก้ไขหลังยืนยันส่ง", "changed after signing"),
                "unsigned": ("ยังไม่ยืนยันส่ง", "not signed"), "damaged": ("ตรวจสอบการยืนยันไม่ได้", "sign-off damaged")}
DECISION_EN = {"รับ": "accepted", "ส่งกลับแก้ไข": "sent back"}
SCORE_BINS = [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0), (3.0, 4.0), (4.0, 5.0)]


class NoHistory(LookupError):
    """The database holds no run for the requested period (or none at all)."""


# ---------------------------------------------------------------------------------------------
# The queries


def current_runs(has_accepted: bool = True) -> Select:
    """The run that counts for each period: the one the period's latest "accepted" marker names
    (history keeps every run; a restore appends a marker), exactly as ``kpi-xl history`` says.

    A database written before markers existed (schema v1, read without upgrading it: the report
    creates nothing) falls back to the latest run per period, by ``run_at`` then ``id``.
    """
    if has_accepted:
        latest = select(func.max(accepted.c.id)).group_by(accepted.c.fiscal_year, accepted.c.quarter)
        return select(runs).where(runs.c.id.in_(select(accepted.c.run_id).where(accepted.c.id.in_(latest))))
    newer = runs.alias("newer")
    later_exists = (
        select(newer.c.id)
        .where(newer.c.fiscal_year == runs.c.fiscal_year, newer.c.quarter == runs.c.quarter,
               ((newer.c.run_at > runs.c.run_at) | and_(newer.c.run_at == runs.c.run_at, newer.c.id > runs.c.id)))
        .exists()
    )
    return select(runs).where(~later_exists)


def _has_accepted(engine: Engine) -> bool:
    return inspect(engine).has_table("accepted")


def connect(db: str | Path | Engine) -> Engine:
    """An engine for reading; unlike ``history.open_db`` it creates nothing, so a read-only
    database account is enough to publish the report, and a mistyped path is an error, not a new file."""
    from ..history import _exists, database_url

    if isinstance(db, Engine):
        return db
    if not _exists(db):
        raise NoHistory(f"ไม่พบฐานข้อมูลประวัติ {db} / history database not found: {db}")
    return create_engine(database_url(db))


def periods(engine: Engine) -> list[tuple[int, int]]:
    """Every period with a current run, oldest first."""
    sub = current_runs(_has_accepted(engine)).subquery()
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(sub.c.fiscal_year, sub.c.quarter)
                                .order_by(sub.c.fiscal_year, sub.c.quarter)).all()
    except OperationalError as exc:  # no runs table: not a kpi-xl history database
        raise NoHistory(f"ไม่ใช่ฐานข้อมูลประวัติของ kpi-xl / not a kpi-xl history database ({exc.orig})") from exc
    return [(int(fy), int(q)) for fy, q in rows]


def _plain(value: Any) -> Any:
    """Database values → JSON-ready values (datetimes as ISO text, NaN as None)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value


@dataclass
class Snapshot:
    """What one period's pages need, read in one go; the pages are pure functions of it."""

    fiscal_year: int
    quarter: int
    run: dict[str, Any]
    districts: list[dict[str, Any]]
    results: list[dict[str, Any]]
    problems: list[dict[str, Any]]
    submissions: list[dict[str, Any]]
    all_periods: list[tuple[int, int]]
    # (fiscal_year, quarter) → district code → score, for every period (the trends).
    district_trend: dict[tuple[int, int], dict[int, float | None]] = field(default_factory=dict)
    # (fiscal_year, quarter) → (district, indicator) → (year_value, score).
    result_trend: dict[tuple[int, int], dict[tuple[int, str], tuple[float | None, float | None]]] = field(
        default_factory=dict)
    catalog: Catalog | None = None
    # Districts missing in an earlier run of this period and received in the current one.
    late: set[int] = field(default_factory=set)
    details: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)
    # Head office's latest assessment per (district, indicator) of the period (kpi-xl review apply).
    assessed: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)


def load_snapshot(engine: Engine, fiscal_year: int | None = None, quarter: int | None = None,
                  catalog: Catalog | None = None) -> Snapshot:
    """Read one period (default: the latest) plus the score history of every period."""
    all_periods = periods(engine)
    if not all_periods:
        raise NoHistory("ฐานข้อมูลประวัติยังไม่มีผลการรวบรวม / the history database holds no run yet")
    if fiscal_year is None and quarter is None:
        fiscal_year, quarter = all_periods[-1]
    elif fiscal_year is None or quarter is None:
        candidates = [p for p in all_periods if (fiscal_year is None or p[0] == fiscal_year)
                      and (quarter is None or p[1] == quarter)]
        if not candidates:
            asked = f"{fiscal_year or '*'}/Q{quarter or '*'}"
            raise NoHistory(f"ไม่มีผลของ {asked} ในฐานข้อมูล / no run for {asked}; stored: "
                            + ", ".join(period_label(*p) for p in all_periods))
        fiscal_year, quarter = candidates[-1]
    if (fiscal_year, quarter) not in all_periods:
        raise NoHistory(f"ไม่มีผลของ {period_label(fiscal_year, quarter)} ในฐานข้อมูล / "
                        f"no run for {period_label(fiscal_year, quarter)}; stored: "
                        + ", ".join(period_label(*p) for p in all_periods))
    current = current_runs(_has_accepted(engine)).subquery()
    with engine.connect() as conn:
        run = dict(conn.execute(select(current).where(
            current.c.fiscal_year == fiscal_year, current.c.quarter == quarter)).mappings().one())
        run_ids = select(current.c.id)
        run_id = run["id"]

        def rows(table: Any, order: list[Any]) -> list[dict[str, Any]]:
            query = select(table).where(table.c.run_id == run_id).order_by(*order)
            return [{k: _plain(v) for k, v in r.items()} for r in conn.execute(query).mappings()]

        dist = rows(district_results, [district_results.c.district_code])
        res = rows(results, [results.c.district_code, results.c.indicator_code])
        probs = rows(problems, [problems.c.district_code, problems.c.id])
        subs = rows(submissions, [submissions.c.file])
        trend_d: dict[tuple[int, int], dict[int, float | None]] = defaultdict(dict)
        for fy, q, code, score in conn.execute(
                select(district_results.c.fiscal_year, district_results.c.quarter,
                       district_results.c.district_code, district_results.c.score)
                .where(district_results.c.run_id.in_(run_ids))):
            trend_d[(int(fy), int(q))][int(code)] = _plain(score)
        trend_r: dict[tuple[int, int], dict[tuple[int, str], tuple[Any, Any]]] = defaultdict(dict)
        for fy, q, code, ind, value, score in conn.execute(
                select(results.c.fiscal_year, results.c.quarter, results.c.district_code,
                       results.c.indicator_code, results.c.year_value, results.c.score)
                .where(results.c.run_id.in_(run_ids))):
            trend_r[(int(fy), int(q))][(int(code), str(ind))] = (_plain(value), _plain(score))
        assessed: dict[tuple[int, str], dict[str, Any]] = {}
        if inspect(conn).has_table("assessments"):  # schema 3 onwards; older databases have none
            latest = (select(func.max(assessments.c.id))
                      .where(assessments.c.fiscal_year == fiscal_year, assessments.c.quarter == quarter)
                      .group_by(assessments.c.district_code, assessments.c.indicator_code))
            for r in conn.execute(select(assessments).where(assessments.c.id.in_(latest))).mappings():
                assessed[(int(r["district_code"]), str(r["indicator_code"]))] = {k: _plain(v) for k, v in r.items()}
        missing_before = {int(c) for (c,) in conn.execute(
            select(district_results.c.district_code)
            .join(runs, runs.c.id == district_results.c.run_id)
            .where(runs.c.fiscal_year == fiscal_year, runs.c.quarter == quarter, runs.c.id != run_id,
                   district_results.c.status == "missing"))}
    catalog = catalog or _matching_sample_catalog(run.get("catalog_hash"))
    snap = Snapshot(fiscal_year=fiscal_year, quarter=quarter, run={k: _plain(v) for k, v in run.items()},
                    districts=dist, results=res, problems=probs, submissions=subs, all_periods=all_periods,
                    district_trend=dict(trend_d), result_trend=dict(trend_r), catalog=catalog,
                    assessed=assessed)
    snap.late = {int(d["district_code"]) for d in dist if d["status"] in ("clean", "with_errors")} & missing_before
    from .details import read_details

    snap.details = read_details(run.get("summary"))
    return snap


def _matching_sample_catalog(catalog_hash: str | None) -> Catalog | None:
    """The sample catalog when the run used it (the demo), so its definitions show without --catalog."""
    from .. import catalog as catalog_mod
    from ..catalog import sample_catalog_path

    try:
        sample = catalog_mod.load(sample_catalog_path())
    except Exception:  # pragma: no cover - a broken install; the pages simply lack definitions
        return None
    return sample if sample.content_hash == catalog_hash else None


# ---------------------------------------------------------------------------------------------
# Helpers shared by the contexts


def district_href(code: int) -> str:
    return f"district/{code}.html"


def indicator_href(code: str) -> str:
    return f"indicator/{code}.html"


def _names() -> dict[int, tuple[str, str]]:
    from ..reference import districts

    return {code: (d.name_th, d.name_en) for code, d in districts().items()}


def _mean(values: list[float | None]) -> float | None:
    got = [v for v in values if v is not None]
    return round(math.fsum(got) / len(got), 2) if got else None


def _late(snap: Snapshot) -> dict[int, str]:
    """District → saved time, for districts that arrived after an earlier run of the period.

    "Late" means head office had already consolidated without them, which history can tell once
    it keeps every run. The workbook's own saved time is not compared with the catalog deadline:
    files are re-saved when forwarded by e-mail or LINE, so that time says little about arrival.
    """
    saved = {int(d["district_code"]): d["saved"] for d in snap.districts}
    return {code: saved.get(code) or "" for code in sorted(snap.late)}


def _meta(snap: Snapshot, root: str) -> dict[str, Any]:
    from .. import __version__

    run = snap.run
    return {
        "fiscal_year": snap.fiscal_year, "quarter": snap.quarter,
        "period": period_label(snap.fiscal_year, snap.quarter),
        "run_id": run["id"], "run_at": run["run_at"], "catalog_title": run.get("catalog_title"),
        "catalog_hash": run.get("catalog_hash"), "kpi_xl_version": __version__,
        "periods": [period_label(*p) for p in snap.all_periods], "root": root,
        "has_details": bool(snap.details), "has_catalog": snap.catalog is not None,
    }


def _district_trend(snap: Snapshot, code: int) -> list[dict[str, Any]]:
    return [{"period": period_label(*p), "score": snap.district_trend.get(p, {}).get(code)}
            for p in snap.all_periods if code in snap.district_trend.get(p, {})]


def _flags(d: dict[str, Any], late: dict[int, str], signed: bool | None) -> list[dict[str, str]]:
    flags = []
    if d["status"] == "missing":
        flags.append({"key": "missing", "th": "ยังไม่ส่ง", "en": "missing"})
    elif d["status"] not in ("clean", "with_errors"):
        flags.append({"key": "unusable", "th": "ใช้ไม่ได้", "en": "unusable"})
    if d.get("errors"):
        flags.append({"key": "errors", "th": f"ข้อผิดพลาด {d['errors']}", "en": f"{d['errors']} errors"})
    if d.get("warnings"):
        flags.append({"key": "warnings", "th": f"คำเตือน {d['warnings']}", "en": f"{d['warnings']} warnings"})
    if d["district_code"] in late:
        flags.append({"key": "late", "th": "ส่งช้า", "en": "late"})
    state = d.get("signoff")
    if state is None and d["status"] in ("clean", "with_errors"):  # a database older than sign-off
        state = {True: "signed", False: "unsigned"}.get(signed)  # type: ignore[arg-type]
    if state in SIGNOFF_FLAG:
        th, en = SIGNOFF_FLAG[state]
        flags.append({"key": state, "th": th, "en": en})
    return flags


def _signoff(d: dict[str, Any], quarter: int) -> dict[str, str] | None:
    """The sign-off as the summary words it (kpi_xl.signoff.describe), from history's columns."""
    if not d.get("signoff"):
        return None
    from ..model import SignoffState
    from ..signoff import describe

    changed = [c.strip() for c in (d.get("signoff_changed") or "").split(",") if c.strip()]
    th, en = describe(SignoffState(state=d["signoff"], quarter=d.get("signoff_quarter"), changed=changed), quarter)
    return {"state": d["signoff"], "th": th, "en": en}


def _hq_district_score(snap: Snapshot, code: int) -> float | None:
    """The district's weighted score with head office's score replacing its own indicator by
    indicator where one is given (the ranking rule of kpi_xl.history.attach_assessments); None when
    head office assessed nothing of this district."""
    if not any(c == code for c, _ in snap.assessed):
        return None
    from ..scoring import assessed_district_score

    return assessed_district_score(
        (float(r["weight"]), r["score"], snap.assessed.get((code, r["indicator_code"]), {}).get("hq_score"))
        for r in snap.results if int(r["district_code"]) == code and r["weight"] is not None)


def _assessment(snap: Snapshot, code: int, indicator: str) -> dict[str, Any]:
    """Head office's score, decision and comment beside the district's own (empty when not assessed)."""
    a = snap.assessed.get((code, indicator))
    if not a:
        return {"hq_score": None, "decision": None, "decision_en": None, "hq_comment": None}
    return {"hq_score": a.get("hq_score"), "decision": a.get("decision"),
            "decision_en": DECISION_EN.get(a.get("decision") or ""), "hq_comment": a.get("comment")}


def _signed(snap: Snapshot, code: int) -> bool | None:
    """Whether the district's workbook names a signer (None when the details are not at hand)."""
    mine = [v for (c, _), v in snap.details.items() if c == code]
    if not mine:
        return None
    return all(v.get("signer_name") for v in mine)


def _indicator_info(snap: Snapshot, code: str, name_th: str | None, stored_kind: str | None = None) -> dict[str, Any]:
    kpi_kind = stored_kind if stored_kind in KPI_KIND else None
    info: dict[str, Any] = {"code": code, "name_th": name_th, "href": indicator_href(code), "kpi_kind": kpi_kind,
                            "kpi_kind_th": KPI_KIND[kpi_kind][0] if kpi_kind else None,
                            "kpi_kind_en": KPI_KIND[kpi_kind][1] if kpi_kind else None}
    if snap.catalog is None:
        return info
    try:
        ind = snap.catalog.indicator(code)
    except KeyError:
        return info
    dim = next((d for d in snap.catalog.dimensions if d.number == ind.dimension), None)
    info.update({
        "name_th": ind.name_th, "name_en": ind.name_en, "definition": ind.definition, "method": ind.method,
        "unit": ind.unit, "target": ind.target, "direction": ind.direction.value, "weight": ind.weight,
        "scoring": ind.scoring.value, "scoring_th": SCORING_TH.get(ind.scoring.value, ind.scoring.value),
        "levels": list(ind.levels), "thresholds": list(ind.thresholds), "dimension": ind.dimension,
        "dimension_th": dim.name_th if dim else None, "dimension_en": dim.name_en if dim else None,
        "kind": ind.result_type.value, "kind_th": KIND_TH.get(ind.result_type.value, ("", ""))[0],
        "responsible": ind.responsible, "kpi_kind": ind.kind.value, "kpi_kind_th": ind.kind.th,
        "kpi_kind_en": ind.kind.en,
    })
    return info


# ---------------------------------------------------------------------------------------------
# One context function per page


def overview_context(snap: Snapshot) -> dict[str, Any]:
    """index.html / index.json: submissions, ranking with flags, distributions, dimensions, kinds."""
    names = _names()
    late = _late(snap)
    districts = []
    for d in snap.districts:
        code = int(d["district_code"])
        districts.append({
            "code": code, "name_th": d["district_name_th"] or names.get(code, ("", ""))[0],
            "name_en": names.get(code, ("", ""))[1], "status": d["status"],
            "status_th": STATUS_TH.get(d["status"], d["status"]), "score": d["score"], "rank": d["rank"],
            "errors": d["errors"] or 0, "warnings": d["warnings"] or 0, "file": d["file"],
            "saved": d["saved"], "late": code in late,
            "flags": _flags(d, late, _signed(snap, code)), "href": district_href(code),
            "trend": _district_trend(snap, code), "hq_score": _hq_district_score(snap, code),
        })
    ranking = sorted(districts, key=lambda r: (r["rank"] is None, r["rank"] or 0, r["code"]))
    counts = Counter(d["status"] for d in districts)
    received = counts["clean"] + counts["with_errors"]

    def who(pred: Any) -> list[dict[str, Any]]:
        return [{"code": d["code"], "name_th": d["name_th"], "href": d["href"]} for d in districts if pred(d)]

    scores = [d["score"] for d in districts if d["score"] is not None]
    distribution = []
    for low, high in SCORE_BINS:
        n = sum(1 for s in scores if low <= s < high or (high == 5.0 and s == 5.0))
        distribution.append({"label": f"{low:.0f}–{high:.0f}", "low": low, "high": high, "count": n})

    by_indicator: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in snap.results:
        by_indicator[r["indicator_code"]].append(r)
    indicators = []
    for code in sorted(by_indicator):
        rows = by_indicator[code]
        info = _indicator_info(snap, code, rows[0]["indicator_name_th"], rows[0].get("kind"))
        judged = [r for r in rows if r["target_met"] is not None]
        indicators.append(info | {
            "mean_score": _mean([r["score"] for r in rows]),
            "reporting": sum(1 for r in rows if r["score"] is not None), "applicable": len(rows),
            "met": sum(1 for r in judged if r["target_met"]), "judged": len(judged),
        })
    dimensions: dict[Any, list[float | None]] = defaultdict(list)
    kinds: dict[Any, list[float | None]] = defaultdict(list)
    kpi_kinds: dict[str, list[float | None]] = defaultdict(list)
    info_of = {i["code"]: i for i in indicators}
    for r in snap.results:
        info = info_of[r["indicator_code"]]
        if "dimension" in info:
            dimensions[(info["dimension"], info["dimension_th"], info["dimension_en"])].append(r["score"])
            kinds[(info["kind"], info["kind_th"])].append(r["score"])
        if info.get("kpi_kind"):
            kpi_kinds[info["kpi_kind"]].append(r["score"])
    return {
        "page": "overview", "meta": _meta(snap, ""),
        "counts": {"districts": len(districts), "received": received, "clean": counts["clean"],
                   "with_errors": counts["with_errors"], "missing": counts["missing"], "late": len(late),
                   "unusable": len(districts) - received - counts["missing"], "files": len(snap.submissions),
                   "mean_score": _mean(scores)},
        "who": {
            "with_errors": who(lambda d: d["status"] == "with_errors"),
            "missing": who(lambda d: d["status"] == "missing"),
            "late": who(lambda d: d["late"]),
            "unusable": who(lambda d: d["status"] not in ("clean", "with_errors", "missing")),
        },
        "ranking": ranking,
        "distribution": distribution,
        "dimensions": [{"dimension": k[0], "name_th": k[1], "name_en": k[2], "mean_score": _mean(v)}
                       for k, v in sorted(dimensions.items())],
        "kinds": [{"kind": k[0], "name_th": k[1], "name_en": KIND_TH.get(k[0], ("", k[0]))[1],
                   "mean_score": _mean(v)} for k, v in sorted(kinds.items())],
        "kpi_kinds": [{"kind": k, "name_th": KPI_KIND[k][0], "name_en": KPI_KIND[k][1], "mean_score": _mean(v)}
                      for k, v in sorted(kpi_kinds.items())],
        "assessed": {"items": len(snap.assessed),
                     "sent_back": sum(1 for a in snap.assessed.values() if a.get("decision") == "ส่งกลับแก้ไข"),
                     "districts": len({c for c, _ in snap.assessed})},
        "indicators": indicators,
    }


def district_context(snap: Snapshot, code: int) -> dict[str, Any]:
    """district/<code>.html / .json: every indicator with its values, narratives, trend; problems."""
    names = _names()
    d = next(r for r in snap.districts if int(r["district_code"]) == code)
    late = _late(snap)
    rows = []
    for r in (r for r in snap.results if int(r["district_code"]) == code):
        ind = r["indicator_code"]
        info = _indicator_info(snap, ind, r["indicator_name_th"], r.get("kind"))
        detail = snap.details.get((code, ind), {})
        quarters = [{"quarter": q, "value": detail.get(f"q{q}_value"), "report": detail.get(f"q{q}_report")}
                    for q in range(1, 5)
                    if detail.get(f"q{q}_value") is not None or detail.get(f"q{q}_report")]
        levels = [{"level": n, "quarter": detail.get(f"level_{n}")} for n in range(1, 6)
                  if detail.get(f"level_{n}") is not None]
        trend = [{"period": period_label(*p), "value": snap.result_trend[p][(code, ind)][0],
                  "score": snap.result_trend[p][(code, ind)][1]}
                 for p in snap.all_periods if (code, ind) in snap.result_trend.get(p, {})]
        rows.append(info | {
            "target": info.get("target", detail.get("target")), "unit": info.get("unit", detail.get("unit")),
            "year_value": r["year_value"], "score": r["score"], "level": r["level"],
            "target_met": r["target_met"], "weight": r["weight"], "quarters": quarters, "levels_reached": levels,
            "year_summary": detail.get("year_summary"), "support_factors": detail.get("support_factors"),
            "obstacles": detail.get("obstacles"), "evidence": detail.get("evidence"),
            "explanation_th": detail.get("explanation_th"), "trend": trend,
        } | _assessment(snap, code, ind))
    signer = next((v for (c, _), v in snap.details.items() if c == code and v.get("signer_name")), None)
    probs = [{k: p[k] for k in ("file", "sheet", "cell", "code", "severity", "message_th", "message_en")}
             for p in snap.problems if p["district_code"] == code]
    return {
        "page": "district", "meta": _meta(snap, "../"),
        "district": {
            "code": code, "name_th": d["district_name_th"] or names.get(code, ("", ""))[0],
            "name_en": names.get(code, ("", ""))[1], "status": d["status"],
            "status_th": STATUS_TH.get(d["status"], d["status"]), "score": d["score"], "rank": d["rank"],
            "errors": d["errors"] or 0, "warnings": d["warnings"] or 0, "file": d["file"], "saved": d["saved"],
            "late": code in late, "flags": _flags(d, late, _signed(snap, code)),
            "score_strategic": d.get("score_strategic"), "score_routine": d.get("score_routine"),
            "hq_score": _hq_district_score(snap, code),
            "signoff": _signoff(d, snap.quarter),
            "signer_name": signer.get("signer_name") if signer else None,
            "signer_position": signer.get("signer_position") if signer else None,
            "signed_date": signer.get("signed_date") if signer else None,
        },
        "trend": _district_trend(snap, code),
        "indicators": rows,
        "problems": probs,
        "districts": [{"code": int(x["district_code"]), "name_th": x["district_name_th"],
                       "href": district_href(int(x["district_code"]))} for x in snap.districts],
    }


def indicator_context(snap: Snapshot, code: str) -> dict[str, Any]:
    """indicator/<code>.html / .json: every district's value and score, sorted; who met the target."""
    names = _names()
    status = {int(d["district_code"]): d["status"] for d in snap.districts}
    mine = [r for r in snap.results if r["indicator_code"] == code]
    info = _indicator_info(snap, code, mine[0]["indicator_name_th"] if mine else None,
                           mine[0].get("kind") if mine else None)
    rows = []
    for r in mine:
        dc = int(r["district_code"])
        detail = snap.details.get((dc, code), {})
        rows.append({
            "code": dc, "name_th": names.get(dc, ("", ""))[0], "name_en": names.get(dc, ("", ""))[1],
            "href": district_href(dc), "status": status.get(dc), "status_th": STATUS_TH.get(status.get(dc, ""), status.get(dc)),
            "year_value": r["year_value"], "score": r["score"], "level": r["level"], "target_met": r["target_met"],
            "quarters": [detail.get(f"q{q}_value") for q in range(1, 5)],
        } | _assessment(snap, dc, code))
    rows.sort(key=lambda x: (x["score"] is None, -(x["score"] or 0), x["code"]))
    scores = [r["score"] for r in rows]
    got = [s for s in scores if s is not None]
    trend = []
    for p in snap.all_periods:
        part = [v[1] for (_, ind), v in snap.result_trend.get(p, {}).items() if ind == code]
        if part:
            trend.append({"period": period_label(*p), "mean_score": _mean(part)})
    return {
        "page": "indicator", "meta": _meta(snap, "../"),
        "indicator": info,
        "summary": {"applicable": len(rows), "reporting": len(got), "mean_score": _mean(scores),
                    "min_score": min(got) if got else None, "max_score": max(got) if got else None,
                    "met": sum(1 for r in rows if r["target_met"]),
                    "judged": sum(1 for r in rows if r["target_met"] is not None)},
        "met": [{"code": r["code"], "name_th": r["name_th"], "href": r["href"]} for r in rows if r["target_met"]],
        "rows": rows,
        "trend": trend,
        "indicators": sorted({r["indicator_code"] for r in snap.results}),
    }
