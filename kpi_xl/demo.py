"""`kpi-xl demo`: the whole quarterly cycle on the sample catalog, in under a minute.

It fills the 50 districts' workbooks the way districts do — seeded, realistic Thai narratives with
dates inside their quarter, values that move toward the target — then makes the typical mistakes
head office sees (a number typed as words, a narrative in the wrong quarter, levels out of order, a
percentage above 100, a missing report, a missing signature). Two districts never send; one sends
late, after a first consolidation, so the history shows the period being replaced.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import thai
from .catalog import Aggregation, Catalog, Direction, Indicator, Scoring, ValueKind
from .catalog import sample_catalog_path as sample_catalog_path
from .reference import District

MISTAKES = ("number_as_words", "wrong_quarter_date", "levels_out_of_order", "percent_over_100",
            "missing_report", "missing_signature")

_ACTIVITIES = {
    1: ["ตรวจความพร้อมของอุปกรณ์ป้องกันและบรรเทาสาธารณภัย", "ซ้อมแผนอพยพร่วมกับชุมชน", "ลงพื้นที่ตรวจจุดเสี่ยงน้ำท่วม"],
    2: ["ปลูกต้นไม้ร่วมกับชุมชนและโรงเรียนในพื้นที่", "ลงพื้นที่ตรวจสอบเหตุเดือดร้อนรำคาญตามที่ได้รับแจ้ง", "รณรงค์คัดแยกขยะที่ต้นทาง"],
    3: ["จัดกิจกรรมส่งเสริมสุขภาพผู้สูงอายุ", "เยี่ยมบ้านผู้สูงอายุที่มีภาวะพึ่งพิง", "อบรมอาสาสมัครดูแลผู้สูงอายุ"],
    4: ["ตรวจสอบคำขออนุญาตก่อสร้างอาคาร", "ปรับปรุงขั้นตอนการพิจารณาใบอนุญาต", "ชี้แจงผู้ยื่นคำขอเรื่องเอกสารประกอบ"],
    5: ["ประชุมเครือข่ายประชาสังคมเขต", "จัดเวทีรับฟังความคิดเห็นของประชาชน", "สำรวจบัญชีรายชื่อประชาคมให้เป็นปัจจุบัน"],
    6: ["จัดฝึกอบรมอาชีพให้ประชาชนในพื้นที่", "ส่งเสริมการจำหน่ายผลิตภัณฑ์ชุมชน", "อบรมเกษตรกรเรื่องการทำเกษตรปลอดภัย"],
    7: ["ติดตามการเบิกจ่ายงบประมาณรายโครงการ", "ประเมินความพึงพอใจผู้รับบริการ", "จัดกิจกรรมเสริมสร้างความโปร่งใส"],
}
_PLACES = ["ห้องประชุมสำนักงานเขต", "ศาลาประชาคม", "ลานกิจกรรมชุมชน", "โรงเรียนในสังกัดกรุงเทพมหานคร", "ศูนย์บริการสาธารณสุข"]
_SIGNERS = [("นางสาวสุภาพร ใจดี", "หัวหน้าฝ่ายปกครอง"), ("นายสมชาย รักษ์เมือง", "ผู้อำนวยการเขต"),
            ("นางวิไลวรรณ ศรีสุข", "หัวหน้าฝ่ายพัฒนาชุมชนและสวัสดิการสังคม"), ("นายประเสริฐ มั่นคง", "หัวหน้าฝ่ายโยธา")]


def _date_in(rng: random.Random, fy: int, quarter: int) -> dt.date:
    start, end = thai.quarter_start(fy, quarter), thai.quarter_end(fy, quarter)
    return start + dt.timedelta(days=rng.randrange((end - start).days + 1))


def _narrative(rng: random.Random, ind: Indicator, district: District, fy: int, quarter: int,
               when: dt.date | None = None) -> str:
    activity = rng.choice(_ACTIVITIES.get(ind.dimension, _ACTIVITIES[7]))
    when = when or _date_in(rng, fy, quarter)
    return (f"สำนักงานเขต{district.name_th}โดย{ind.responsible or 'ฝ่ายที่รับผิดชอบ'}ได้{activity} "
            f"เมื่อวันที่ {thai.format_thai_date(when)} ณ {rng.choice(_PLACES)}")


def _quarter_values(rng: random.Random, ind: Indicator, quarter: int) -> dict[int, float]:
    """Values that move toward (and around) the target, shaped by the aggregation."""
    t = ind.thresholds or [ind.target] * 5
    low, high = (min(t), max(t)) if ind.scoring is Scoring.THRESHOLDS else (ind.target * 0.6, ind.target * 1.05)
    final = rng.uniform(low - (high - low) * 0.15, high + (high - low) * 0.1)
    if ind.value_kind is ValueKind.PERCENT:
        final = min(final, 100.0)
    values: dict[int, float] = {}
    for q in range(1, quarter + 1):
        if ind.cumulative or ind.aggregation is Aggregation.LAST:
            v = final * q / 4 if ind.cumulative else final + rng.uniform(-0.05, 0.05) * (high - low)
        elif ind.aggregation is Aggregation.SUM:
            v = final / 4 * rng.uniform(0.8, 1.2)
        else:
            v = final + rng.uniform(-0.08, 0.08) * (high - low)
        if ind.value_kind is ValueKind.COUNT:
            v = float(max(0, round(v)))
        elif ind.value_kind is ValueKind.PERCENT:
            v = round(min(max(v, 0.0), 100.0), 2)
        else:
            v = round(max(v, 0.0), 2)
        if ind.cumulative and values:
            v = max(v, values[q - 1])
        values[q] = v
    if ind.scoring is Scoring.PASS_FAIL and ind.direction is Direction.HIGHER and rng.random() < 0.85:
        values[quarter] = max(values[quarter], ind.target)
    return values


def district_values(catalog: Catalog, district: District, quarter: int, rng: random.Random,
                    mistakes: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    """What a district types into its workbook for a reporting quarter: {sheet: {defined name: value}}."""
    fy = catalog.fiscal_year
    signer, position = rng.choice(_SIGNERS)
    out: dict[str, dict[str, Any]] = {}
    for ind in catalog.for_district(district.code):
        cells: dict[str, Any] = {}
        for q in range(1, quarter + 1):
            cells[f"q{q}_report"] = _narrative(rng, ind, district, fy, q)
        if ind.scoring is Scoring.MILESTONE:
            reached = min(5, rng.choice([quarter, quarter + 1, quarter + 1]) if quarter < 4 else rng.choice([4, 5, 5, 5]))
            q = 1
            for n in range(1, reached + 1):
                q = min(quarter, max(q, round(n * quarter / 5 + 0.2)))
                cells[f"level_{n}"] = q
        else:
            values = _quarter_values(rng, ind, quarter)
            for q, v in values.items():
                cells[f"q{q}_value"] = v
        cells["support_factors"] = "ความร่วมมือจากชุมชนและภาคีเครือข่ายในพื้นที่เขต" + district.name_th
        if quarter == 4:
            cells["year_summary"] = f"ดำเนินการตามแผนครบทุกไตรมาส ผลการดำเนินงานตามตัวชี้วัด {ind.code} เป็นไปตามที่รายงาน"
            cells["evidence"] = rng.choice(["เอกสารการดำเนินงาน", "รายงานการประชุมและภาพถ่ายกิจกรรม", "ทะเบียนผู้เข้าร่วมกิจกรรม"])
            cells["signer_name"] = signer
            cells["signer_position"] = position
            cells["signed_date"] = _date_in(rng, fy, 4)
            if rng.random() < 0.3:
                cells["obstacles"] = "สถานการณ์การแพร่ระบาดของโรคติดเชื้อไวรัสโคโรนา 2019 ทำให้ต้องเลื่อนกิจกรรมบางส่วน"
        out[ind.code] = cells
    _make_mistakes(out, catalog, district, quarter, rng, mistakes)
    return out


def _make_mistakes(out: dict[str, dict[str, Any]], catalog: Catalog, district: District, quarter: int,
                   rng: random.Random, mistakes: tuple[str, ...]) -> None:
    by_kind = {k: [i for i in catalog.for_district(district.code) if i.scoring is k] for k in Scoring}
    numeric = by_kind[Scoring.THRESHOLDS] + by_kind[Scoring.PASS_FAIL]
    for mistake in mistakes:
        if mistake == "number_as_words" and numeric:
            out[numeric[0].code][f"q{quarter}_value"] = "สิบ"
        elif mistake == "wrong_quarter_date":
            ind = catalog.for_district(district.code)[0]
            other = 1 if quarter != 1 else 2
            wrong = _date_in(rng, catalog.fiscal_year, other)
            out[ind.code][f"q{quarter}_report"] = _narrative(rng, ind, district, catalog.fiscal_year, quarter, wrong)
        elif mistake == "levels_out_of_order" and by_kind[Scoring.MILESTONE]:
            cells = out[by_kind[Scoring.MILESTONE][0].code]
            cells["level_2"] = None
            cells["level_3"] = cells.get("level_3") or 1
        elif mistake == "percent_over_100":
            pct = [i for i in numeric if i.value_kind is ValueKind.PERCENT]
            if pct:
                out[pct[-1].code][f"q{quarter}_value"] = 120
        elif mistake == "missing_report":
            out[catalog.for_district(district.code)[-1].code].pop(f"q{quarter}_report", None)
        elif mistake == "missing_signature" and quarter == 4:
            for cells in out.values():
                cells.pop("signer_name", None)


@dataclass
class DemoPlan:
    """Which district does what; seeded so the demo and its test agree."""

    not_sent: list[int]
    late: int
    mistakes: dict[int, tuple[str, ...]] = field(default_factory=dict)


def plan(catalog: Catalog, rng: random.Random) -> DemoPlan:
    codes = [d.code for d in catalog.districts]
    picked = rng.sample(codes, 3 + len(MISTAKES))
    not_sent, late, faulty = picked[:2], picked[2], picked[3:]
    mistakes = {code: (MISTAKES[i],) for i, code in enumerate(faulty)}
    return DemoPlan(not_sent=sorted(not_sent), late=late, mistakes=mistakes)


def run_demo(directory: Path, *, seed: int = 2564, quarter: int = 4, console: Any = None,
             progress: Callable[[str], None] | None = None, web: bool = True) -> dict[str, Any]:
    """Build, fill, validate and consolidate the sample year; returns what it made (for the test)."""
    from . import catalog as catalog_mod
    from .annotate import annotate
    from .consolidate import consolidate
    from .fill import fill_workbook
    from .reference import districts
    from .template import build_all
    from .validate import validate_file

    say = (console.print if console is not None else (progress or (lambda _m: None)))
    directory = Path(directory)
    rng = random.Random(seed)
    catalog = catalog_mod.load(sample_catalog_path())
    the_plan = plan(catalog, rng)
    blank_dir, inbox, late_dir = directory / "1_blank_workbooks", directory / "2_inbox", directory / "late"
    for folder in (blank_dir, inbox, late_dir):
        if folder.exists():
            shutil.rmtree(folder)
    say(f"[1/5] สร้างแบบรายงาน 50 เขต / building 50 workbooks → {blank_dir}")
    built = build_all(catalog, blank_dir, force=True)

    say(f"[2/5] เขตกรอกข้อมูลไตรมาส {quarter} / districts fill quarter {quarter} → {inbox}")
    by_code = districts()
    for path in built:
        code = int(path.name.split("_")[1])
        if code in the_plan.not_sent:
            continue
        values = district_values(catalog, by_code[code], quarter, rng, the_plan.mistakes.get(code, ()))
        target = (late_dir if code == the_plan.late else inbox) / path.name
        fill_workbook(path, target, values=values, report_quarter=quarter)

    say("[3/5] ตรวจแฟ้มที่มีข้อผิดพลาดหนึ่งแฟ้ม แล้วเขียนสำเนามีเครื่องหมาย / validate one faulty workbook")
    faulty_code = next(iter(the_plan.mistakes))
    faulty = next(inbox.glob(f"*_{faulty_code}_*"))
    report = validate_file(faulty, catalog=catalog, quarter=quarter)
    marked = annotate(faulty, directory / f"checked_{faulty.name}", report)

    # The one default location's rule (beside the summary), but never $KPI_XL_HISTORY: sample data
    # must not land in head office's real history.
    from .history import HISTORY_FILE

    summary, db = directory / "summary.xlsx", directory / HISTORY_FILE
    db_url = f"sqlite:///{db.resolve()}"
    say("[4/5] รวบรวมผลครั้งแรก (ยังขาด 3 เขต) / first consolidation")
    first = consolidate(inbox, catalog, quarter, out=summary, db=db_url)
    late_file = next(late_dir.iterdir())
    shutil.move(str(late_file), inbox / late_file.name)
    late_dir.rmdir()
    say("[5/5] เขตที่ส่งช้าส่งแล้ว รวบรวมใหม่ / the late district sent; consolidating again")
    final = consolidate(inbox, catalog, quarter, out=summary, db=db_url)

    made = {
        "blank_workbooks": blank_dir, "inbox": inbox, "marked_copy": marked, "summary": summary,
        "database": db, "plan": the_plan, "first": first, "final": final, "review": final.paths["review"],
    }
    say("")
    say("เสร็จแล้ว / done. เปิดดูตามลำดับนี้ / open these first:")
    say(f"  1. {summary}  — สรุปผลทุกเขต (ภาพรวม สถานะการส่ง คะแนน) / the summary for executives")
    say(f"  2. {marked}  — ตัวอย่างแฟ้มที่ตรวจแล้ว มีเครื่องหมายและหมายเหตุ / a checked workbook with its marks")
    say(f"  3. {inbox}  — แฟ้มที่เขตส่งมา / what the districts sent")
    say(f"  4. {db}  — ฐานข้อมูลประวัติ / the history: kpi-xl history --district 1030 --db {db}")
    say(f"     {final.paths['review']}  — แฟ้มตรวจประเมินของสำนักงาน กรอกแล้วสั่ง kpi-xl review apply / "
        "head office's review workbook: fill it, then kpi-xl review apply")

    # --- web report (kpi_xl.web): the same results as a static site, built from the history DB.
    if web:
        from .web import build_site

        site = build_site(db, directory / "site")
        made["site"] = site.index
        say(f"  5. {site.index}  — เว็บรายงาน เปิดด้วยเบราว์เซอร์ได้ทันที / the web report, open in any browser")
    return made
