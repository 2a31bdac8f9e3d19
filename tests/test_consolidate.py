"""Head office's consolidation on 50 real district workbooks, built and filled once per session.

The inbox holds what head office really receives: clean workbooks, workbooks with typical errors,
one district twice (the later save must win), a file renamed to another district, a corrupt file,
a workbook from last year's catalog, one from a draft of this year's catalog, an old .xls, a password-protected file, an Excel lock file,
and two districts that never sent. Every status, every score (computed here, independently of
kpi_xl.scoring) and every summary sheet (read back with openpyxl) is checked; LibreOffice must
open the summary and print it to PDF.

Helpers here (``clean_values``, ``expected_score``…) are also used by test_history and test_hq.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest

from kpi_xl import template
from kpi_xl.catalog import Catalog, DistrictRef, Indicator
from kpi_xl.consolidate import ConsolidationResult, Status, consolidate, discover, districts_in_name
from kpi_xl.fill import fill_workbook
from kpi_xl.form import load_spec
from kpi_xl.summary import DATA_NOTE, data_columns

QUARTER = 2
SHEETS = ["ภาพรวม", "สถานะการส่ง", "คะแนนรายเขต", "รายตัวชี้วัด", "ปัญหาที่พบ", "ข้อมูล", "รายการแฟ้ม"]
RUN_AT = dt.datetime(2021, 1, 25, 9, 0, tzinfo=dt.UTC)


# ---------------------------------------------------------------------------------------------
# Independent scoring: written from the catalog's definitions, not from kpi_xl.scoring.


def excel_round(x: float) -> float:
    """Excel's ROUND(x, 2): 15 significant digits, then half away from zero."""
    return float(Decimal(f"{x:.15g}").quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _interpolate(v: float, t: list[float], higher: bool) -> float:
    if not higher:  # mirror "lower is better" onto "higher is better"
        v, t = -v, [-x for x in t]
    if v < t[0]:
        return 0.0
    if v >= t[4]:
        return 5.0
    for i in range(4):
        if t[i] <= v < t[i + 1]:
            return (i + 1) + (v - t[i]) / (t[i + 1] - t[i])
    raise AssertionError("unreachable")


def expected_score(ind: Indicator, values: dict[str, Any], quarter: int = QUARTER) -> float | None:
    """Score of one indicator sheet filled with ``values`` (defined name → value)."""
    if ind.scoring.value == "milestone":
        level = 0
        while level < 5 and values.get(f"level_{level + 1}") is not None and values[f"level_{level + 1}"] <= quarter:
            level += 1
        return float(level)
    filled = [values[f"q{q}_value"] for q in (1, 2, 3, 4) if values.get(f"q{q}_value") is not None]
    if not filled:
        return None
    agg = ind.aggregation.value
    year = {"last": filled[-1], "sum": math.fsum(filled), "mean": math.fsum(filled) / len(filled),
            "max": max(filled)}[agg]
    higher = ind.direction.value == "higher"
    if ind.scoring.value == "pass_fail":
        return 5.0 if (year >= ind.target if higher else year <= ind.target) else 0.0
    return excel_round(_interpolate(year, list(ind.thresholds), higher))


def expected_met(ind: Indicator, values: dict[str, Any], quarter: int = QUARTER) -> bool | None:
    if ind.scoring.value == "milestone":
        return (expected_score(ind, values, quarter) or 0) >= ind.target
    filled = [values[f"q{q}_value"] for q in (1, 2, 3, 4) if values.get(f"q{q}_value") is not None]
    if not filled:
        return None
    year = {"last": filled[-1], "sum": math.fsum(filled), "mean": math.fsum(filled) / len(filled),
            "max": max(filled)}[ind.aggregation.value]
    return year >= ind.target if ind.direction.value == "higher" else year <= ind.target


def expected_district(catalog: Catalog, code: int, values: dict[str, dict[str, Any]],
                      quarter: int = QUARTER) -> tuple[dict[str, float | None], float]:
    scores = {ind.code: expected_score(ind, values[ind.code], quarter) for ind in catalog.for_district(code)}
    weights = {ind.code: ind.weight for ind in catalog.for_district(code)}
    total = math.fsum(weights.values())
    weighted = math.fsum(weights[c] * (s or 0.0) for c, s in scores.items()) / total
    return scores, excel_round(weighted)


# ---------------------------------------------------------------------------------------------
# Filling like a district clerk (clean unless told otherwise)


def narrative(code: str, quarter: int) -> str:
    return f"ไตรมาสที่ {quarter}: ดำเนินงานตัวชี้วัด {code} ตามแผน และประชุมติดตามผลกับชุมชนในพื้นที่"


def clean_values(catalog: Catalog, code: int, quarter: int, seed: int) -> dict[str, dict[str, Any]]:
    """Every input a clean report for ``quarter`` needs, random but valid; no later quarter filled."""
    rng = random.Random(seed)
    out: dict[str, dict[str, Any]] = {}
    for ind in catalog.for_district(code):
        v: dict[str, Any] = {f"q{q}_report": narrative(ind.code, q) for q in range(1, quarter + 1)}
        if ind.scoring.value == "milestone":
            reached = rng.randint(0, 5)
            for n, q in enumerate(sorted(rng.randint(1, quarter) for _ in range(reached)), start=1):
                v[f"level_{n}"] = q
        else:
            if ind.scoring.value == "pass_fail":
                low, high = ind.target * 0.7, ind.target
            else:
                span = max(ind.thresholds) - min(ind.thresholds)
                low, high = min(ind.thresholds) - 0.2 * span, max(ind.thresholds) + 0.1 * span
            final = rng.uniform(low, high)
            for q in range(1, quarter + 1):
                x = final * q / quarter if ind.cumulative else (final if ind.scoring.value == "pass_fail"
                                                                and rng.random() < 0.5 else rng.uniform(low, high))
                v[f"q{q}_value"] = _kind_value(ind, x)
        out[ind.code] = v
    return out


def _kind_value(ind: Indicator, x: float) -> float:
    kind = ind.value_kind.value
    if kind == "count":
        return float(max(0, round(x)))
    if kind == "percent":
        return round(min(max(x, 0.0), 100.0), 2)
    return round(max(x, 0.0), 2)


def _fill(job: tuple[str, str, dict[str, dict[str, Any]], int]) -> str:
    src, dst, values, quarter = job
    return str(fill_workbook(src, dst, values=values, report_quarter=quarter))


def _quick(job: tuple[str, str, dict[str, dict[str, Any]], int]) -> str:
    src, dst, values, quarter = job
    return str(quick_fill(Path(src), Path(dst), values, quarter))


def fill_many(jobs: list[tuple[Path, Path, dict[str, dict[str, Any]], int]], *, quick: bool = False) -> None:
    """Fill workbooks on every core, through openpyxl (:func:`kpi_xl.fill.fill_workbook`) or quickly."""
    work = [(str(s), str(d), v, q) for s, d, v, q in jobs]
    fn = _quick if quick else _fill
    if len(work) < 4:
        for job in work:
            fn(job)
        return
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(fn, work, chunksize=2))


def quick_fill(src: Path, dst: Path, values: dict[str, dict[str, Any]], quarter: int,
               saved: dt.datetime = dt.datetime(2021, 1, 15, 2, 0, tzinfo=dt.UTC)) -> Path:
    """Fill a freshly built workbook by writing its input cells' XML directly (≈100× faster than a
    round trip through openpyxl, which the scenario also uses for the workbooks that matter most).

    Cells are found through the form spec, as the builder placed them; text goes in as inline
    strings, numbers as numbers: a valid package any reader (and LibreOffice) opens.
    """
    from xml.sax.saxutils import escape

    spec = load_spec()
    with zipfile.ZipFile(src) as z:
        parts = {n: z.read(n) for n in z.namelist()}
        infos = z.infolist()
    book = parts["xl/workbook.xml"].decode()
    rels = parts["xl/_rels/workbook.xml.rels"].decode()
    targets = dict(re.findall(r'<Relationship Id="(rId\d+)"[^>]*Target="([^"]+)"', rels))
    targets |= {k: v for v, k in re.findall(r'<Relationship [^>]*Target="([^"]+)"[^>]*Id="(rId\d+)"', rels)}
    sheet_part = {name: "xl/" + targets[rid].lstrip("/").removeprefix("xl/")
                  for name, rid in re.findall(r'<sheet name="([^"]+)" sheetId="\d+" r:id="(rId\d+)"', book)}
    cells: dict[str, dict[str, Any]] = {sheet: {spec.a1(name): v for name, v in named.items()}
                                       for sheet, named in values.items()}
    cover = spec.workbook_names["report_quarter"]
    cells.setdefault(spec.sheets[cover.sheet], {})[cover.cell] = quarter
    for sheet, by_cell in cells.items():
        part = sheet_part[sheet]
        xml = parts[part].decode()
        for a1, value in by_cell.items():
            pattern = re.compile(rf'<c r="{a1}"((?: [a-z]+="[^"]*")*?)(?: t="[^"]*")?((?: [a-z]+="[^"]*")*)(?:/>|>.*?</c>)')
            match = pattern.search(xml)
            assert match, f"{sheet}!{a1} not in {part}"
            attrs = (match.group(1) + match.group(2)).replace(' t="s"', "")
            if value is None:
                new = f'<c r="{a1}"{attrs}/>'
            elif isinstance(value, str):
                new = f'<c r="{a1}"{attrs} t="inlineStr"><is><t xml:space="preserve">{escape(value)}</t></is></c>'
            else:
                new = f'<c r="{a1}"{attrs}><v>{float(value)!r}</v></c>'
            xml = xml[:match.start()] + new + xml[match.end():]
        parts[part] = xml.encode()
    stamp = saved.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    parts["docProps/core.xml"] = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                                        rb"\g<1>" + stamp + rb"\g<2>", parts["docProps/core.xml"])
    dst.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for info in infos:
            z.writestr(info, parts[info.filename])
    return dst


def set_saved_time(path: Path, when: dt.datetime) -> None:
    """Rewrite docProps/core.xml's "last saved" (what Excel writes on every save)."""
    stamp = when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    buffer = io.BytesIO()
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                              rb"\g<1>" + stamp.encode() + rb"\g<2>", data)
            dst.writestr(item, data)
    path.write_bytes(buffer.getvalue())


def small_catalog(catalog: Catalog, codes: list[int], fiscal_year: int | None = None) -> Catalog:
    """The sample catalog for a few districts only (fast to build), optionally for another year."""
    update: dict[str, Any] = {"districts": [d for d in catalog.districts if d.code in codes]}
    if fiscal_year is not None:
        update["fiscal_year"] = fiscal_year
    return catalog.model_copy(update=update)


def tree_hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------------------------------------
# The session's inbox


MISSING = (1049, 1050)
CORRUPT = 1048
WRONG_YEAR = 1047
OTHER_CATALOG = 1045  # built from the catalog before head office retitled it
DUPLICATE = 1030
MISNAMED = 1010  # its file is named as if it were Lat Krabang (1011)
OLD_XLS_NAME = 1046  # an .xls named for Khlong Sam Wa, who also sent a good workbook
# district → (indicator, defined name, value written, code expected)
ERRORS: dict[int, list[tuple[str, str, Any, str]]] = {
    1002: [("KPI-03", "q2_value", "สิบ", "KPI-E301")],
    1003: [("KPI-01", "q2_value", 120.0, "KPI-E403")],
    1004: [("KPI-05", "q2_report", None, "KPI-E201")],
    1006: [("KPI-08", "level_1", None, ""), ("KPI-08", "level_2", 1, "KPI-E401")],
    1007: [("KPI-11", "level_1", 3, "KPI-E402")],
}
DUP_OLD_SAVED = dt.datetime(2021, 1, 5, 3, 0, tzinfo=dt.UTC)
DUP_NEW_SAVED = dt.datetime(2021, 1, 20, 3, 0, tzinfo=dt.UTC)


@dataclass
class Scenario:
    catalog: Catalog
    inbox: Path
    out: Path
    db: Path
    values: dict[int, dict[str, dict[str, Any]]]  # what each district's used workbook holds
    files: dict[str, str]  # special files: role → path relative to the inbox
    hashes_before: dict[str, str]
    result: ConsolidationResult


@pytest.fixture(scope="session")
def scenario(tmp_path_factory: pytest.TempPathFactory, sample_catalog: Catalog) -> Scenario:
    root = tmp_path_factory.mktemp("consolidate")
    blank, inbox = root / "blank", root / "inbox"
    inbox.mkdir()
    catalog = sample_catalog
    codes = [d.code for d in catalog.districts]
    template.build_all(catalog, blank, districts=[c for c in codes if c not in MISSING], macros=False)
    last_year = catalog.model_copy(update={"fiscal_year": 2563})
    old = template.build_workbook(last_year, WRONG_YEAR, root / "blank_2563", macros=False)

    values: dict[int, dict[str, dict[str, Any]]] = {}
    files: dict[str, str] = {}
    jobs = []  # through openpyxl, as kpi_xl.fill does: errors, duplicates, the renamed file, last year's
    quick = []  # the other clean ones
    for code in codes:
        if code in MISSING or code in (CORRUPT, WRONG_YEAR, OTHER_CATALOG):
            continue
        src = blank / template.output_name(catalog, code, macros=False)
        v = clean_values(catalog, code, QUARTER, seed=code)
        for sheet, name, value, _ in ERRORS.get(code, []):
            v[sheet][name] = value
        name = src.name
        if code == MISNAMED:
            name = "2564_1011_Lat_Krabang_ฉบับแก้.xlsx"
            files["misnamed"] = name
        if code == DUPLICATE:
            files["dup_old"] = name
            dup_new = clean_values(catalog, code, QUARTER, seed=99)
            files["dup_new"] = "line/จตุจักร ส่งใหม่.xlsx"
            (inbox / "line").mkdir()
            jobs.append((src, inbox / files["dup_new"], dup_new, QUARTER))
            values[code] = dup_new
        else:
            values[code] = v
        special = code in ERRORS or code in (DUPLICATE, MISNAMED)
        (jobs if special else quick).append((src, inbox / name, v, QUARTER))
    wrong_year = inbox / old.name
    files["wrong_year"] = old.name
    jobs.append((old, wrong_year, clean_values(last_year, WRONG_YEAR, QUARTER, seed=WRONG_YEAR), QUARTER))
    retitled = catalog.model_copy(update={"title_th": catalog.title_th + " (ฉบับร่าง)"})
    draft = template.build_workbook(retitled, OTHER_CATALOG, root / "blank_draft", macros=False)
    files["other_catalog"] = draft.name
    quick.append((draft, inbox / draft.name, clean_values(retitled, OTHER_CATALOG, QUARTER, seed=1), QUARTER))
    fill_many(jobs)
    fill_many(quick, quick=True)

    # The older duplicate was saved first, though its file was touched last (docProps decides).
    set_saved_time(inbox / files["dup_old"], DUP_OLD_SAVED)
    set_saved_time(inbox / files["dup_new"], DUP_NEW_SAVED)
    later = DUP_NEW_SAVED.timestamp() + 86400  # within a month of both saves: the saved dates are trusted
    os.utime(inbox / files["dup_new"], (later - 3600, later - 3600))
    os.utime(inbox / files["dup_old"], (later, later))

    files["corrupt"] = template.output_name(catalog, CORRUPT, macros=False)
    (inbox / files["corrupt"]).write_bytes(b"PK\x03\x04" + bytes(random.Random(1).randrange(256) for _ in range(900)))
    files["lock"] = "~$2564_1001_Phra_Nakhon.xlsx"
    (inbox / files["lock"]).write_bytes(b"\x0bsomchai".ljust(165, b"\x00"))
    files["xls"] = "เก่า/2564_1046_Khlong_Sam_Wa.xls"
    (inbox / "เก่า").mkdir()
    (inbox / files["xls"]).write_bytes(bytes.fromhex("D0CF11E0A1B11AE1") + b"\x00" * 1024)
    files["encrypted"] = "secret.xlsx"
    (inbox / files["encrypted"]).write_bytes(bytes.fromhex("D0CF11E0A1B11AE1") + b"\x00" * 512
                                             + "EncryptionInfo".encode("utf-16-le") + b"\x00" * 512)

    hashes = tree_hashes(inbox)
    out = root / "out" / "summary.xlsx"
    out.parent.mkdir()
    db = root / "out" / "history.sqlite"
    calls: list[tuple[int, int, str]] = []
    result = consolidate(inbox, catalog, QUARTER, out=out, db=db, jobs=2, run_at=RUN_AT,
                         progress=lambda done, total, file: calls.append((done, total, file)))
    assert calls[0] == (0, len(hashes), "") and calls[-1][:2] == (len(hashes), len(hashes))
    assert sorted(c[2] for c in calls[1:]) == sorted(hashes)
    return Scenario(catalog, inbox, out, db, values, files, hashes, result)


def _status(code: int) -> Status:
    if code in MISSING:
        return Status.MISSING
    if code == CORRUPT:
        return Status.CORRUPT
    if code == WRONG_YEAR:
        return Status.WRONG_YEAR
    if code == OTHER_CATALOG:
        return Status.OTHER_CATALOG
    if code in ERRORS:
        return Status.WITH_ERRORS
    return Status.CLEAN


# ---------------------------------------------------------------------------------------------
# Statuses


def test_every_district_has_its_status(scenario: Scenario) -> None:
    d = scenario.result.districts.set_index("district_code")
    assert list(d.index) == [x.code for x in scenario.catalog.districts]
    for code in d.index:
        expected = _status(code)
        assert d.loc[code, "status"] == expected.value, code
        assert d.loc[code, "status_th"] == expected.th
        assert d.loc[code, "status_en"] == expected.en
    assert d.loc[CORRUPT, "identified_by"] == "file name"
    assert d.loc[CORRUPT, "file"] == scenario.files["corrupt"]
    assert d.loc[DUPLICATE, "duplicate"] and d.loc[DUPLICATE, "files"] == 2
    assert d.loc[DUPLICATE, "file"] == scenario.files["dup_new"]
    assert scenario.files["dup_old"] in d.loc[DUPLICATE, "note_th"]
    assert not d.drop(index=DUPLICATE)["duplicate"].any()
    counts = scenario.result.counts
    assert counts["clean"] == 50 - len(ERRORS) - 5
    assert (counts["with_errors"], counts["missing"], counts["wrong_year"], counts["corrupt"]) == (5, 2, 1, 1)
    assert counts["other_catalog"] == 1
    assert counts["received"] == 45 and counts["duplicates"] == 1 and counts["files"] == len(scenario.hashes_before)


def test_every_file_has_its_status(scenario: Scenario) -> None:
    subs = scenario.result.submissions.set_index("file")
    assert sorted(subs.index) == sorted(scenario.hashes_before)
    f = scenario.files
    expected = {
        f["lock"]: (Status.LOCK_FILE, None), f["xls"]: (Status.XLS, OLD_XLS_NAME),
        f["encrypted"]: (Status.ENCRYPTED, None), f["corrupt"]: (Status.CORRUPT, CORRUPT),
        f["wrong_year"]: (Status.WRONG_YEAR, WRONG_YEAR), f["other_catalog"]: (Status.OTHER_CATALOG, OTHER_CATALOG),
        f["dup_old"]: (Status.DUPLICATE, DUPLICATE),
        f["dup_new"]: (Status.CLEAN, DUPLICATE), f["misnamed"]: (Status.CLEAN, MISNAMED),
    }
    for file, row in subs.iterrows():
        status, code = expected.get(file, (None, None))
        if status is None:
            code = int(file.split("_")[1])
            status = _status(code)
        assert row["status"] == status.value, file
        got = None if pd.isna(row["district_code"]) else int(row["district_code"])
        assert got == code, file
        assert row["used"] == (status.usable), file
    assert subs.loc[f["xls"], "identified_by"] == "file name"
    assert subs.loc[f["misnamed"], "identified_by"] == "metadata"
    assert subs.loc[f["wrong_year"], "fiscal_year"] == 2563
    saved = subs.loc[f["dup_new"], "saved"]
    assert saved.to_pydatetime() == DUP_NEW_SAVED.replace(tzinfo=None)


def test_inputs_are_never_modified(scenario: Scenario) -> None:
    assert tree_hashes(scenario.inbox) == scenario.hashes_before


def test_a_file_name_is_only_a_hint() -> None:
    codes = range(1001, 1051)
    assert districts_in_name("2564_1048_Thawi_Watthana.xlsx", codes) == {1048}
    assert districts_in_name("KPI วัฒนา ล่าสุด (2).xlsm", codes) == {1039}
    assert districts_in_name("ทวีวัฒนา.xlsm", codes) == {1048}
    assert districts_in_name("Bangkok Noi Q2.xlsx", codes) == {1020}
    assert districts_in_name("report final v3.xlsx", codes) == set()
    assert districts_in_name("2564_10301_x.xlsx", codes) == set()


def test_discovery_walks_subfolders_and_skips_our_outputs(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/b/x.xlsm", "a/y.XLSX", "z.xls", "~$z.xlsx", "notes.docx", "summary.xlsx"):
        (tmp_path / name).write_bytes(b"x")
    found = discover(tmp_path, exclude=[tmp_path / "summary.xlsx"])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a/b/x.xlsm", "a/y.XLSX", "z.xls", "~$z.xlsx"]


# ---------------------------------------------------------------------------------------------
# Scores


def test_every_score_matches_an_independent_calculation(scenario: Scenario) -> None:
    r = scenario.result
    scores = r.scores.set_index(["district_code", "indicator_code"])
    districts = r.districts.set_index("district_code")
    touched = {(code, sheet) for code, items in ERRORS.items() for sheet, *_ in items}
    checked = 0
    for code, values in scenario.values.items():
        for ind in scenario.catalog.for_district(code):
            if (code, ind.code) in touched:
                continue
            got = scores.loc[(code, ind.code), "score"]
            assert got == pytest.approx(expected_score(ind, values[ind.code]), abs=1e-9), (code, ind.code)
            assert scores.loc[(code, ind.code), "target_met"] == expected_met(ind, values[ind.code])
            checked += 1
        if code not in ERRORS:
            _, weighted = expected_district(scenario.catalog, code, values)
            assert districts.loc[code, "score"] == pytest.approx(weighted, abs=1e-9), code
    assert checked > 400
    for code in (*MISSING, CORRUPT, WRONG_YEAR, OTHER_CATALOG):
        assert math.isnan(districts.loc[code, "score"]) and districts.loc[code, "rank"] is None
        assert scores.loc[code]["score"].isna().all()


def test_scores_per_kind_are_weighted_within_the_kind(scenario: Scenario, summary_book: openpyxl.Workbook) -> None:
    """Beside the overall score, one per KPI kind: the same weighted mean over that kind's indicators."""
    r = scenario.result
    assert set(r.scores["kind"]) == {"strategic", "routine"}
    checked = 0
    for row in r.districts.dropna(subset=["score"]).to_dict("records"):
        part = r.scores[r.scores["district_code"] == row["district_code"]]
        for kind in ("strategic", "routine"):
            sub = part[part["kind"] == kind]
            expected = excel_round(sum(w * (s if s == s and s is not None else 0.0)
                                       for w, s in zip(sub["weight"], sub["score"], strict=True)) / sub["weight"].sum())
            assert row[f"score_{kind}"] == pytest.approx(expected, abs=0.006), (row["district_code"], kind)
            checked += 1
    assert checked >= 4
    header = [c.value for c in summary_book["คะแนนรายเขต"][1]]
    assert "คะแนนตัวชี้วัดเชิงยุทธศาสตร์\nstrategic KPI score" in header
    assert "คะแนนตัวชี้วัดงานประจำ\nroutine KPI score" in header


def test_ranks_are_competition_ranks_by_weighted_score(scenario: Scenario) -> None:
    d = scenario.result.districts.dropna(subset=["score"])
    for row in d.itertuples():
        assert row.rank == 1 + int((d["score"] > row.score).sum())
    assert isinstance(d.iloc[0]["rank"], int)


def test_indicator_statistics(scenario: Scenario) -> None:
    r = scenario.result
    ind = r.indicators.set_index("indicator_code")
    usable = r.districts[r.districts["status"].isin(["clean", "with_errors"])]["district_code"]
    for code in ind.index:
        part = r.scores[(r.scores["indicator_code"] == code) & r.scores["district_code"].isin(usable)]
        values = [s for s in part["score"] if not math.isnan(s)]
        assert ind.loc[code, "districts_applicable"] == int((r.scores["indicator_code"] == code).sum())
        assert ind.loc[code, "districts_reporting"] == len(values)
        assert ind.loc[code, "mean_score"] == pytest.approx(excel_round(math.fsum(values) / len(values)))
        assert ind.loc[code, "min_score"] == min(values) and ind.loc[code, "max_score"] == max(values)
        met = [m for m in part["target_met"] if m is not None]
        assert ind.loc[code, "met_share"] == pytest.approx(sum(met) / len(met))
        levels = [min(5, int(math.floor(s + 1e-9))) for s in values]
        assert [ind.loc[code, f"level_{n}"] for n in range(6)] == [levels.count(n) for n in range(6)]


# ---------------------------------------------------------------------------------------------
# Problems


def test_problems_are_located_and_complete(scenario: Scenario) -> None:
    spec = load_spec()
    p = scenario.result.problems
    f = scenario.files
    rows = {(r.code, r.file, r.sheet, r.cell) for r in p.itertuples()}
    for code, items in ERRORS.items():
        file = template.output_name(scenario.catalog, code, macros=False)
        for sheet, name, _, problem_code in items:
            if problem_code:
                assert (problem_code, file, sheet, spec.a1(name)) in rows, (code, problem_code)
    for code in MISSING:
        row = p[(p["code"] == "KPI-E501") & (p["district_code"] == code)]
        assert len(row) == 1 and str(code) in row.iloc[0]["message_th"]
    assert (p["code"] == "KPI-E501").sum() == 2
    assert ("KPI-W502", f["dup_new"], None, None) in rows
    assert ("KPI-W501", f["misnamed"], None, None) in rows
    assert ("KPI-W503", f["lock"], None, None) in rows
    assert ("KPI-E100", f["corrupt"], None, None) in rows
    assert ("KPI-E101", f["xls"], None, None) in rows
    assert ("KPI-E102", f["encrypted"], None, None) in rows
    assert any(c == "KPI-E109" and file == f["wrong_year"] for c, file, *_ in rows)
    assert any(c == "KPI-E106" and file == f["other_catalog"] for c, file, *_ in rows)
    # Clean districts have nothing to say, and the superseded duplicate's own problems are not listed.
    noisy = set(ERRORS) | set(MISSING) | {CORRUPT, WRONG_YEAR, OTHER_CATALOG, DUPLICATE, MISNAMED, OLD_XLS_NAME}
    quiet = p[p["district_code"].notna() & ~p["district_code"].isin(list(noisy))]
    assert quiet.empty, quiet[["district_code", "code", "message_en"]].to_string()
    assert not (p["file"] == f["dup_old"]).any()
    assert set(p["severity"]) == {"error", "warning"}


# ---------------------------------------------------------------------------------------------
# The summary workbook


def _rows(ws: Any, first: int = 1) -> list[list[Any]]:
    return [list(r) for r in ws.iter_rows(min_row=first, values_only=True)]


@pytest.fixture(scope="session")
def summary_book(scenario: Scenario) -> openpyxl.Workbook:
    return openpyxl.load_workbook(scenario.out)


def test_summary_sheets_and_page_setup(summary_book: openpyxl.Workbook, scenario: Scenario) -> None:
    assert summary_book.sheetnames == SHEETS
    for ws in summary_book.worksheets:
        assert ws.page_setup.orientation == "landscape" and int(ws.page_setup.paperSize) == 9, ws.title
        # A fixed 90 %, never fit-to-width: wide sheets go on across pages instead of shrinking to 5 pt
        assert not ws.sheet_properties.pageSetUpPr or not ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert ws.page_setup.scale == 90, ws.title
    frozen = {ws.title: ws.freeze_panes for ws in summary_book.worksheets}
    assert frozen["สถานะการส่ง"] == "C2" and frozen["คะแนนรายเขต"] == "C3" and frozen["ปัญหาที่พบ"] == "A2"
    assert frozen["ข้อมูล"] == "E3"
    fonts = {c.font.name for ws in summary_book.worksheets for row in ws.iter_rows(max_row=5) for c in row
             if c.value is not None}
    assert fonts == {"TH Sarabun New"}
    with zipfile.ZipFile(scenario.out) as z:
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
        assert len(charts) == 2
        assert b'barDir val="col"' in z.read(charts[0]) and b'grouping val="stacked"' in z.read(charts[1])
        core = z.read("docProps/core.xml").decode()
        assert "2021-03-31T00:00:00Z" in core  # fixed: the quarter's last day, not the clock


def test_overview_counts(summary_book: openpyxl.Workbook, scenario: Scenario) -> None:
    rows = {r[1]: r[2] for r in _rows(summary_book["ภาพรวม"], 5) if r[1]}
    counts = scenario.result.counts
    assert rows["districts"] == 50
    assert rows["received"] == counts["received"] == 45
    assert rows["clean"] == counts["clean"] and rows["with errors"] == 5 and rows["missing"] == 2
    assert rows["duplicates"] == 1 and rows["wrong fiscal year"] == 1 and rows["other catalog version"] == 1
    assert rows["unreadable / not kpi-xl"] == 1  # the corrupt one is the only district-level unreadable
    scored = scenario.result.districts["score"].dropna()
    assert rows["mean district score"] == pytest.approx(excel_round(math.fsum(scored) / len(scored)))
    assert rows["highest score"] == pytest.approx(scored.max()) and rows["lowest score"] == pytest.approx(scored.min())


def test_status_sheet(summary_book: openpyxl.Workbook, scenario: Scenario) -> None:
    ws = summary_book["สถานะการส่ง"]
    assert ws.auto_filter.ref == "A1:N51"  # N: the sign-off column
    body = _rows(ws, 2)[:50]
    d = scenario.result.districts
    for row, expected in zip(body, d.to_dict("records"), strict=True):
        assert row[0] == expected["district_code"] and row[1] == expected["district_name_th"]
        assert row[2] == _status(expected["district_code"]).th and row[3] == _status(expected["district_code"]).en
        assert row[4] == expected["file"]
        assert row[8] == expected["errors"] and row[9] == expected["warnings"]
        if expected["score"] == expected["score"]:
            assert row[10] == pytest.approx(expected["score"]) and row[11] == expected["rank"]
        else:
            assert row[10] is None and row[11] is None
    saved = {r[0]: r[5] for r in body}
    assert saved[DUPLICATE] == (DUP_NEW_SAVED + dt.timedelta(hours=7)).replace(tzinfo=None)  # Bangkok time
    assert isinstance(body[0][0], int) and isinstance(body[0][10], float)
    unused = [r for r in _rows(ws, 56) if r[4]]
    f = scenario.files
    assert {r[4] for r in unused} == {f["dup_old"], f["wrong_year"], f["other_catalog"], f["corrupt"], f["lock"],
                                      f["xls"], f["encrypted"]}


def test_scores_sheet(summary_book: openpyxl.Workbook, scenario: Scenario) -> None:
    ws = summary_book["คะแนนรายเขต"]
    codes = [i.code for i in scenario.catalog.indicators]
    header = _rows(ws)[0]
    assert [h.split("\n")[0] for h in header[2:2 + len(codes)]] == codes
    assert header[2 + len(codes)].startswith("คะแนนถ่วงน้ำหนัก")
    assert header[4 + len(codes)].startswith("ไตรมาสก่อน\n2564/Q1") and header[5 + len(codes)].startswith("ปีก่อน\n2563/Q2")
    assert _rows(ws, 2)[0][2:2 + len(codes)] == [i.weight for i in scenario.catalog.indicators]
    scores = scenario.result.scores.set_index(["district_code", "indicator_code"])["score"]
    grey = 0
    for row in _rows(ws, 3)[:50]:
        code = row[0]
        for j, ind in enumerate(codes):
            if (code, ind) not in scores.index:
                assert row[2 + j] is None
                grey += 1
            elif scores[(code, ind)] == scores[(code, ind)]:
                assert row[2 + j] == pytest.approx(scores[(code, ind)])
            else:
                assert row[2 + j] is None
        if code in scenario.values and code not in ERRORS:
            _, weighted = expected_district(scenario.catalog, code, scenario.values[code])
            assert row[2 + len(codes)] == pytest.approx(weighted)
    assert grey == sum(50 - len(i.districts) for i in scenario.catalog.indicators if i.districts != "all")
    scales = [r for cf in ws.conditional_formatting for r in cf.rules if r.type == "colorScale"]
    assert scales and len(scales[0].colorScale.color) == 3


def test_indicator_sheet(summary_book: openpyxl.Workbook, scenario: Scenario) -> None:
    body = [r for r in _rows(summary_book["รายตัวชี้วัด"], 2) if r[0]]
    ind = scenario.result.indicators
    assert [r[0] for r in body] == list(ind["indicator_code"])
    for row, expected in zip(body, ind.to_dict("records"), strict=True):
        assert row[6] == expected["districts_applicable"] and row[7] == expected["districts_reporting"]
        assert row[8] == pytest.approx(expected["mean_score"]) and row[9] == pytest.approx(expected["min_score"])
        assert row[12] == pytest.approx(expected["met_share"])
        assert row[13:19] == [expected[f"level_{n}"] for n in range(6)]


def test_problem_sheet(summary_book: openpyxl.Workbook, scenario: Scenario) -> None:
    ws = summary_book["ปัญหาที่พบ"]
    p = scenario.result.problems
    assert ws.auto_filter.ref == f"A1:I{len(p) + 1}"
    body = _rows(ws, 2)
    assert len(body) == len(p)
    for row, expected in zip(body, p.to_dict("records"), strict=True):
        assert row[2] == expected["file"] and row[3] == expected["sheet"] and row[4] == expected["cell"]
        assert row[5] == expected["code"] and row[7] == expected["message_th"] and row[8] == expected["message_en"]
        assert row[6] == {"error": "ข้อผิดพลาด", "warning": "คำเตือน"}[expected["severity"]]


def test_data_sheet_is_a_pivot_ready_table(summary_book: openpyxl.Workbook, scenario: Scenario) -> None:
    ws = summary_book["ข้อมูล"]
    table = ws.tables["kpi_data"]
    first_row = _rows(ws)[0]
    keys = [c for c in first_row[:len(data_columns())] if c]
    # Beside the table, after one empty column: the note that is the sheet's whole print area
    assert first_row[len(keys) + 1] == DATA_NOTE and ws.print_area.endswith(f"${openpyxl.utils.get_column_letter(len(keys) + 2)}$1")
    n = len(scenario.result.scores)
    assert table.ref == f"A2:{openpyxl.utils.get_column_letter(len(keys))}{n + 2}"
    body = _rows(ws, 3)
    assert len(body) == n
    col = {k: i for i, k in enumerate(keys)}
    for row in body:
        code, ind = row[col["district_code"]], row[col["indicator_code"]]
        values = scenario.values.get(code)
        if values is None or code in ERRORS:
            continue
        for name, value in values[ind].items():
            assert row[col[name]] == value, (code, ind, name)
        ind_obj = scenario.catalog.indicator(ind)
        assert row[col["score"]] == pytest.approx(expected_score(ind_obj, values[ind]))
        assert row[col["target_met"]] == ("ผ่าน" if expected_met(ind_obj, values[ind]) else "ไม่ผ่าน")


def test_manifest_sheet_and_json(summary_book: openpyxl.Workbook, scenario: Scenario) -> None:
    ws = summary_book["รายการแฟ้ม"]
    rows = _rows(ws)
    start = next(i for i, r in enumerate(rows) if r[0] and str(r[0]).startswith("แฟ้ม\n")) + 1
    listed = {r[0]: r for r in rows[start:] if r[0]}
    assert {k: v[2] for k, v in listed.items()} == scenario.hashes_before
    for file, row in listed.items():
        assert row[1] == (scenario.inbox / file).stat().st_size
    assert rows[0][2] == (RUN_AT + dt.timedelta(hours=7)).replace(tzinfo=None)
    data = json.loads(scenario.out.with_name("summary.manifest.json").read_text(encoding="utf-8"))
    assert {f["file"]: f["sha256"] for f in data["files"]} == scenario.hashes_before
    assert {f["file"]: f["status"] for f in data["files"]} == dict(
        zip(scenario.result.submissions["file"], scenario.result.submissions["status"], strict=True))
    assert data["summary"]["sha256"] == hashlib.sha256(scenario.out.read_bytes()).hexdigest()
    assert data["run_at"] == RUN_AT.isoformat() and data["quarter"] == QUARTER


# ---------------------------------------------------------------------------------------------
# Determinism and atomic output


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def test_same_inputs_give_the_same_summary(scenario: Scenario, tmp_path: Path) -> None:
    a = consolidate(scenario.inbox, scenario.catalog, QUARTER, out=tmp_path / "a.xlsx", db=False, jobs=2,
                    run_at=RUN_AT)
    b = consolidate(scenario.inbox, scenario.catalog, QUARTER, out=tmp_path / "b.xlsx", db=False, jobs=1,
                    run_at=RUN_AT + dt.timedelta(days=1))
    assert a.districts.equals(b.districts) and a.problems.equals(b.problems) and a.scores.equals(b.scores)
    pa, pb = _parts(tmp_path / "a.xlsx"), _parts(tmp_path / "b.xlsx")
    assert pa.keys() == pb.keys()
    differ = sorted(n for n in pa if pa[n] != pb[n])
    assert differ == ["xl/worksheets/sheet7.xml"]  # the manifest sheet: only the run's time


def test_the_data_sheet_is_byte_for_byte_what_xlsxwriter_writes(scenario: Scenario, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The long data sheet and the shared strings are written by kpi_xl (speed); XlsxWriter's own path must give
    the same file."""
    from kpi_xl import summary

    summary.write_summary(scenario.result, tmp_path / "fast.xlsx")
    monkeypatch.setattr(summary, "FAST_XML", False)
    summary.write_summary(scenario.result, tmp_path / "plain.xlsx")
    fast, plain = _parts(tmp_path / "fast.xlsx"), _parts(tmp_path / "plain.xlsx")
    assert list(fast) == list(plain)
    assert [n for n in fast if fast[n] != plain[n]] == []
    assert b"<c r=\"A3\"" in fast["xl/worksheets/sheet6.xml"]  # the data rows are there at all


def test_a_run_that_dies_leaves_the_previous_summary(scenario: Scenario, tmp_path: Path) -> None:
    out = tmp_path / "summary.xlsx"
    shutil.copyfile(scenario.out, out)
    before = out.read_bytes()

    def die(done: int, total: int, file: str) -> None:
        if done == 10:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        consolidate(scenario.inbox, scenario.catalog, QUARTER, out=out, db=False, jobs=2, progress=die)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.xlsx"]

    script = textwrap.dedent(f"""
        import time
        from kpi_xl import catalog
        from kpi_xl.consolidate import consolidate
        cat = catalog.load({str(scenario_catalog_path())!r})
        consolidate({str(scenario.inbox)!r}, cat, {QUARTER}, out={str(out)!r}, db=False,
                    jobs=1, progress=lambda d, t, f: time.sleep(0.05))
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    time.sleep(2.0)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert out.read_bytes() == before
    assert tree_hashes(scenario.inbox) == scenario.hashes_before


def scenario_catalog_path() -> Path:
    return Path(__file__).resolve().parent.parent / "workbook_templates" / "catalog_2564.yaml"


# ---------------------------------------------------------------------------------------------
# Memory: what the workers load and what the parent keeps per file (issue 16)


def test_workers_start_without_the_parents_heavy_modules(sample_catalog: Catalog) -> None:
    """A worker is a fresh interpreter with the validator only: pandas (loaded in this test process)
    must not come along, as it would with a forked worker (≈ 45 MB more per worker)."""
    from kpi_xl import consolidate as consolidate_mod

    assert "pandas" in sys.modules
    pool = ProcessPoolExecutor(max_workers=1, mp_context=consolidate_mod._context(),
                               initializer=consolidate_mod._init_worker, initargs=(sample_catalog, QUARTER))
    with pool:
        loaded = pool.submit(eval, "sorted({'pandas', 'sqlalchemy', 'xlsxwriter', 'openpyxl', "
                                   "'kpi_xl.validate'} & set(__import__('sys').modules))").result()
    assert loaded == ["kpi_xl.validate"]


def test_the_parent_keeps_a_small_record_per_file(tmp_path: Path) -> None:
    """Repeated values are one object per run, an unused file keeps neither indicators nor
    sign-off, and the record has no per-instance dict."""
    from kpi_xl.consolidate import InboxFiles, _slim, _submission

    def record(name: str) -> dict[str, Any]:
        return {"file": name, "size": 1, "sha256": "0" * 64, "mtime": 1.0, "status": "clean",
                "district_code": 1030, "district_name_th": "".join(["จตุ", "จักร"]),
                "district_name_en": "".join(["Chatu", "chak"]), "catalog_hash": "".join(["ab"] * 32),
                "template_version": "".join(["1.", "0"]), "signoff": {"state": "signed"},
                "indicators": [{"code": "KPI-01"}]}

    shared: dict[Any, Any] = {}
    a, b = _submission(record("a.xlsm"), RUN_AT, shared), _submission(record("b.xlsm"), RUN_AT, shared)
    assert not hasattr(a, "__dict__")
    for name in ("district_name_th", "district_name_en", "catalog_hash", "template_version"):
        assert getattr(a, name) is getattr(b, name), name
    _slim(b)
    assert b.signoff is None and b.indicators is None and b.problems == []
    assert a.signoff == {"state": "signed"} and a.indicators == [{"code": "KPI-01"}]

    (tmp_path / "sub").mkdir()
    files = InboxFiles(tmp_path, ["a.xlsm", "sub/b.xlsm"])
    assert len(files) == 2 and list(files) == [(tmp_path / "a.xlsm", "a.xlsm"), (tmp_path / "sub" / "b.xlsm", "sub/b.xlsm")]
    assert files[1] == (tmp_path / "sub" / "b.xlsm", "sub/b.xlsm")


# ---------------------------------------------------------------------------------------------
# A real client


@pytest.mark.libreoffice
def test_libreoffice_prints_the_summary(scenario: Scenario, tmp_path: Path) -> None:
    from kpi_xl.libreoffice import convert

    pdf = convert(scenario.out, to="pdf", outdir=tmp_path)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 20_000
    pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
    assert pages >= len(SHEETS)


def test_empty_inbox_gives_every_district_missing(tmp_path: Path, sample_catalog: Catalog) -> None:
    cat = sample_catalog.model_copy(update={"districts": [DistrictRef(code=1030, name_th="จตุจักร",
                                                                       name_en="Chatuchak")]})
    (tmp_path / "inbox").mkdir()
    r = consolidate(tmp_path / "inbox", cat, 1, out=tmp_path / "s.xlsx", db=False)
    assert list(r.districts["status"]) == ["missing"] and list(r.problems["code"]) == ["KPI-E501"]
    assert openpyxl.load_workbook(tmp_path / "s.xlsx").sheetnames == SHEETS


def test_a_missing_inbox_is_an_error_not_fifty_missing_districts(tmp_path: Path, sample_catalog: Catalog) -> None:
    with pytest.raises(FileNotFoundError):
        consolidate(tmp_path / "no such folder", sample_catalog, 1, out=tmp_path / "s.xlsx", db=False)
    assert not (tmp_path / "s.xlsx").exists()


@pytest.mark.parametrize(("script", "method"), [
    ("from kpi_xl import consolidate\nprint(consolidate._context().get_start_method())\n", "fork"),
    ("from kpi_xl import consolidate\nif __name__ == '__main__':\n    print(consolidate._context().get_start_method())\n",
     "spawn"),
    ("from kpi_xl import consolidate\n\ndef main():\n    print(consolidate._context().get_start_method())\n\n"
     "if '__main__' == __name__:\n    main()\n", "spawn"),
])
def test_a_script_calling_consolidate_unguarded_gets_forked_workers(tmp_path: Path, script: str, method: str) -> None:
    """A spawned worker re-runs the caller's script: an unguarded top-level call (the README's example
    saved as a file) would run the consolidation again in every worker. Such a call site is found on
    the script's syntax tree and gets fork; a guarded one, spawn."""
    import subprocess
    import sys

    (tmp_path / "script.py").write_text(script, encoding="utf-8")
    done = subprocess.run([sys.executable, "script.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == method


def test_a_packages_main_run_with_dash_m_keeps_spawned_workers(tmp_path: Path) -> None:
    """multiprocessing never re-runs a package's ``__main__`` in a worker (``python -m kpi_xl`` included),
    so an unguarded call there keeps the small spawned workers."""
    import subprocess
    import sys

    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "pkg" / "__main__.py").write_text(
        "from kpi_xl import consolidate\nprint(consolidate._context().get_start_method())\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "pkg"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "spawn"
