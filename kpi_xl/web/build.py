"""Write the static site: render every page and its JSON twin into a new folder, then swap it in.

Why a swap: the folder is often a shared drive or a web server's document root that people are
reading while head office rebuilds it. The site is written into a temporary folder *beside* the
target (same file system, so renames are atomic), then the old site is renamed away and the new
one renamed into place; a failure at any point leaves the previous site whole. A folder is only
ever replaced if it holds our marker file (or is empty): ``--out ~/Documents`` by mistake must
never delete someone's documents.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, select_autoescape

from . import data, svg

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy import Engine

    from ..catalog import Catalog

MARKER = ".kpi-xl-site"


class SiteError(Exception):
    """The report cannot be written where asked (not a site folder, nothing in the database)."""


@dataclass
class SiteInfo:
    """What a build made: where, how many pages, how big, how long."""

    root: Path
    index: Path
    pages: int
    bytes: int
    seconds: float
    fiscal_year: int
    quarter: int


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("kpi_xl.web", "templates"),
                      autoescape=select_autoescape(["html"], default=True), trim_blocks=True, lstrip_blocks=True)
    return env


def _json(context: dict[str, Any]) -> str:
    return json.dumps(context, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _scores_for(items: list[dict[str, Any]], key: str = "score") -> list[tuple[str, float | None]]:
    return [(t["period"], t[key]) for t in items]


def _quarter_spark(ind: dict[str, Any]) -> str:
    """The year's quarterly values against the larger of the values and the target."""
    values = [(f"Q{q['quarter']}", q["value"]) for q in ind["quarters"]
              if isinstance(q["value"], (int, float)) and not isinstance(q["value"], bool)]
    if len(values) < 2:
        return ""
    target = ind.get("target") if isinstance(ind.get("target"), (int, float)) else 0
    top = max([v for _, v in values] + [target or 0]) or 1.0
    return svg.sparkline(values, title=f"ค่ารายไตรมาส {ind['code']} / quarterly values", maximum=float(top))


def render_pages(snap: data.Snapshot) -> dict[str, str]:
    """Relative path → text of every page and JSON twin (nothing is written here)."""
    env = _environment()
    out: dict[str, str] = {}

    def page(path: str, template: str, context: dict[str, Any], **extra: Any) -> None:
        svg.reset_ids()
        name = Path(path).with_suffix(".json").name
        out[path] = env.get_template(template).render(**context, json_name=name, **extra)
        out[str(Path(path).with_suffix(".json"))] = _json(context)

    ov = data.overview_context(snap)
    charts = {
        "ranking": svg.bar_chart(
            [(f"{d['rank'] or '–'}. {d['name_th']}", d["score"], d["href"]) for d in ov["ranking"]],
            title="คะแนนถ่วงน้ำหนักรายเขต เรียงตามอันดับ / district weighted scores by rank",
            desc=f"{len(ov['ranking'])} เขต คะแนนเต็ม 5 / {len(ov['ranking'])} districts, out of 5"),
        "distribution": svg.column_chart(
            [(b["label"], b["count"]) for b in ov["distribution"]],
            title="จำนวนเขตตามช่วงคะแนน / districts per score band",
            desc="; ".join(f"{b['label']}: {b['count']}" for b in ov["distribution"])),
        "dimensions": svg.bar_chart(
            [(f"{x['dimension']}. {x['name_th']}", x["mean_score"], None) for x in ov["dimensions"]],
            title="คะแนนเฉลี่ยรายด้าน / mean score per dimension", width=520, label_width=230),
        "kpi_kinds": svg.bar_chart(
            [(f"{x['name_th']} ({x['name_en']})", x["mean_score"], None) for x in ov["kpi_kinds"]],
            title="คะแนนเฉลี่ยตามประเภทตัวชี้วัด / mean score per KPI kind", width=460, label_width=190),
        "kinds": svg.bar_chart(
            [(f"{x['name_th']} ({x['name_en']})", x["mean_score"], None) for x in ov["kinds"]],
            title="คะแนนเฉลี่ยตามชนิดผลลัพธ์ / mean score per result type", width=420, label_width=150),
    }
    sparks = {d["code"]: svg.sparkline(_scores_for(d["trend"]), title=f"แนวโน้มคะแนน {d['name_th']} / trend")
              for d in ov["ranking"]}
    page("index.html", "overview.html", ov, charts=charts, sparks=sparks)

    for d in snap.districts:
        code = int(d["district_code"])
        ctx = data.district_context(snap, code)
        spark = svg.sparkline(_scores_for(ctx["trend"]), title=f"แนวโน้มคะแนนเขต{ctx['district']['name_th']} / trend")
        ind_sparks = {i["code"]: svg.sparkline(_scores_for(i["trend"]), title=f"แนวโน้มคะแนน {i['code']} / score trend")
                      for i in ctx["indicators"]}
        quarter_sparks = {i["code"]: _quarter_spark(i) for i in ctx["indicators"]}
        page(f"district/{code}.html", "district.html", ctx, spark=spark, sparks=ind_sparks,
             quarter_sparks=quarter_sparks)

    for code in sorted({r["indicator_code"] for r in snap.results}):
        ctx = data.indicator_context(snap, code)
        chart = svg.bar_chart([(r["name_th"], r["score"], "../" + r["href"]) for r in ctx["rows"]],
                              title=f"คะแนน {code} ทุกเขต เรียงจากมากไปน้อย / {code} scores, sorted",
                              desc=f"{ctx['summary']['reporting']} เขตมีคะแนน / districts scored")
        spark = svg.sparkline(_scores_for(ctx["trend"], "mean_score"), title=f"แนวโน้ม {code} / trend")
        page(f"indicator/{code}.html", "indicator.html", ctx, chart=chart, spark=spark, met_list=ctx["met"])
    return out


def _check_target(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise SiteError(f"{out} เป็นแฟ้ม ไม่ใช่โฟลเดอร์ / is a file, not a folder")
    if out.is_dir() and not (out / MARKER).exists() and any(out.iterdir()):
        raise SiteError(f"{out} มีแฟ้มอื่นอยู่และไม่ใช่เว็บรายงานของ kpi-xl (ไม่มี {MARKER}) จึงไม่เขียนทับ / "
                        f"holds other files and is not a kpi-xl site (no {MARKER}): not replaced")


def _copy_static(folder: Path) -> None:
    static = resources.files("kpi_xl.web").joinpath("static")
    with resources.as_file(static) as src:
        shutil.copytree(src, folder / "static")


def write_site(pages: dict[str, str], out: str | Path, *, stamp: str = "") -> tuple[Path, int]:
    """Write ``pages`` plus the static assets to ``out`` atomically; returns (index path, bytes)."""
    out = Path(out).resolve()
    _check_target(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.new-{os.getpid()}")
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    for leftover in (tmp, old):
        if leftover.exists():
            shutil.rmtree(leftover)
    try:
        tmp.mkdir()
        for rel, text in pages.items():
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        _copy_static(tmp)
        (tmp / MARKER).write_text(f"kpi-xl web report {stamp}\n", encoding="utf-8")
        size = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file())
        if out.exists():
            out.rename(old)
        tmp.rename(out)
    except BaseException:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not out.exists():
            old.rename(out)  # put the previous site back
        raise
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)
    return out / "index.html", size


def build_site(db: str | Path | Engine, out: str | Path, *, fiscal_year: int | None = None,
               quarter: int | None = None, catalog: Catalog | None = None) -> SiteInfo:
    """Read one period from the history database and write its static web report to ``out``."""
    started = time.perf_counter()
    _check_target(Path(out).resolve())  # fail before reading anything
    try:
        engine = data.connect(db)
    except data.NoHistory as exc:
        raise SiteError(str(exc)) from exc
    try:
        snap = data.load_snapshot(engine, fiscal_year, quarter, catalog)
    except data.NoHistory as exc:
        raise SiteError(str(exc)) from exc
    finally:
        if engine is not db:
            engine.dispose()
    pages = render_pages(snap)
    index, size = write_site(pages, out, stamp=f"{snap.fiscal_year}/Q{snap.quarter}")
    return SiteInfo(root=index.parent, index=index, pages=sum(1 for p in pages if p.endswith(".html")),
                    bytes=size, seconds=time.perf_counter() - started, fiscal_year=snap.fiscal_year,
                    quarter=snap.quarter)
