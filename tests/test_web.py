"""The web report, built once from the demo's real history database and opened in real Chromium.

The module runs the demo once (about 20 s), then plants a narrative with an HTML ``<script>`` in
Chatuchak's workbook the way a clerk would type it, consolidates again, and builds the site. The
browser tests need Debian's chromium and the playwright wheel (tests/install-and-run.sh installs
both); the accessibility test also needs axe-core, fetched with npm into tests/.cache/axe.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import sqlite3
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from kpi_xl import catalog as catalog_mod
from kpi_xl.consolidate import consolidate
from kpi_xl.demo import district_values, run_demo, sample_catalog_path
from kpi_xl.fill import fill_workbook
from kpi_xl.reference import districts
from kpi_xl.web import MARKER, SiteError, build_site
from kpi_xl.web.build import render_pages
from kpi_xl.web.data import load_snapshot, overview_context

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).resolve().parent / ".cache" / "axe" / "package" / "axe.min.js"
CHATUCHAK = 1030
INJECTED = "<script>window.__injected = 1</script><b>ตัวหนา</b> กิจกรรมปลูกต้นไม้ & ล้างคลอง"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The demo's history plus one workbook whose narrative carries markup, consolidated for real."""
    root = tmp_path_factory.mktemp("web")
    made = run_demo(root / "demo", seed=2564, web=False)
    cat = catalog_mod.load(sample_catalog_path())
    blank = next(made["blank_workbooks"].glob(f"*_{CHATUCHAK}_*"))
    values = district_values(cat, districts()[CHATUCHAK], 4, random.Random(7))
    values[cat.for_district(CHATUCHAK)[0].code]["q4_report"] = INJECTED
    target = next(made["inbox"].glob(f"*_{CHATUCHAK}_*"))
    fill_workbook(blank, target, values=values, report_quarter=4)
    consolidate(made["inbox"], cat, 4, out=made["summary"], db=f"sqlite:///{made['database']}")
    made["values"] = values
    made["root"] = root
    return made


@pytest.fixture(scope="module")
def site(demo: dict) -> Path:
    info = build_site(demo["database"], demo["root"] / "site")
    assert info.pages == 1 + 50 + 12
    assert info.seconds < 30 and info.bytes < 20_000_000
    return info.root


# --- the files ---------------------------------------------------------------------------------


def test_every_page_has_its_json_twin_with_the_same_data(site: Path, demo: dict) -> None:
    html = sorted(site.rglob("*.html"))
    assert len(html) == 63
    for page in html:
        assert page.with_suffix(".json").is_file(), page
    overview = json.loads((site / "index.json").read_text(encoding="utf-8"))
    assert overview["counts"]["districts"] == 50
    assert overview["counts"]["missing"] == len(demo["plan"].not_sent)
    text = (site / "index.html").read_text(encoding="utf-8")
    for d in overview["ranking"]:
        assert f'href="district/{d["code"]}.html"' in text


def test_workbook_text_is_escaped_everywhere(site: Path) -> None:
    page = (site / "district" / f"{CHATUCHAK}.html").read_text(encoding="utf-8")
    assert "<script>window.__injected" not in page
    assert "&lt;script&gt;window.__injected = 1&lt;/script&gt;&lt;b&gt;ตัวหนา&lt;/b&gt;" in page
    assert "&amp; ล้างคลอง" in page
    twin = json.loads((site / "district" / f"{CHATUCHAK}.json").read_text(encoding="utf-8"))
    reports = [q["report"] for i in twin["indicators"] for q in i["quarters"]]
    assert INJECTED in reports


def test_assets_ship_with_the_site_and_nothing_points_outside(site: Path) -> None:
    assert (site / MARKER).is_file()
    fonts = site / "static" / "fonts"
    assert (fonts / "Laksaman.ttf").stat().st_size > 50_000
    assert "GPL" in (fonts / "LICENSE-fonts-thai-tlwg.txt").read_text(encoding="utf-8")
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
        assert "https://" not in text


def test_refuses_a_folder_that_is_not_a_site_and_keeps_the_old_site_on_failure(demo: dict, tmp_path: Path) -> None:
    documents = tmp_path / "documents"
    documents.mkdir()
    (documents / "budget.xlsx").write_bytes(b"precious")
    with pytest.raises(SiteError, match="not a kpi-xl site"):
        build_site(demo["database"], documents)
    assert (documents / "budget.xlsx").read_bytes() == b"precious"
    out = tmp_path / "site"
    build_site(demo["database"], out)
    before = (out / "index.html").read_text(encoding="utf-8")
    with pytest.raises(SiteError, match="2999"):
        build_site(demo["database"], out, fiscal_year=2999, quarter=1)
    assert (out / "index.html").read_text(encoding="utf-8") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["documents", "site"]  # no temp folder left


def test_trend_and_latest_run_come_from_every_period_in_history(demo: dict, tmp_path: Path) -> None:
    """A previous year's run (copied in SQL with lower scores) shows as a trend; a second run of the
    current period with another id is the one the pages use (the latest wins)."""
    db = tmp_path / "history.sqlite"
    shutil.copy(demo["database"], db)
    with sqlite3.connect(db) as conn:
        conn.execute("""insert into runs (fiscal_year, quarter, run_at, catalog_hash, catalog_title, districts,
                        received, clean, with_errors, missing, files, mean_score, forced)
                        select 2563, quarter, '2020-11-01 00:00:00', catalog_hash, catalog_title, districts,
                        received, clean, with_errors, missing, files, mean_score, 0 from runs""")
        old = conn.execute("select id from runs where fiscal_year = 2563").fetchone()[0]
        conn.execute("""insert into accepted (run_id, fiscal_year, quarter, accepted_at, action)
                        values (?, 2563, 4, '2020-11-01 00:00:00', 'run')""", (old,))
        current = conn.execute("select max(id) from runs where fiscal_year = 2564").fetchone()[0]
        for table, lower in (("district_results", "score"), ("results", None)):
            columns = [row[1] for row in conn.execute(f"pragma table_info({table})")]
            values = ", ".join("?" if c == "run_id" else "2563" if c == "fiscal_year"
                               else f"{c} - 1" if c == lower else c for c in columns)
            conn.execute(f"insert into {table} ({', '.join(columns)}) select {values} from {table} "
                         "where run_id = ?", (old, current))
    from kpi_xl.history import open_db

    engine = open_db(db)
    snap = load_snapshot(engine)
    assert (snap.fiscal_year, snap.quarter) == (2564, 4)
    ov = overview_context(snap)
    chatuchak = next(d for d in ov["ranking"] if d["code"] == CHATUCHAK)
    assert [t["period"] for t in chatuchak["trend"]] == ["2563/Q4", "2564/Q4"]
    assert chatuchak["trend"][0]["score"] == pytest.approx(chatuchak["trend"][1]["score"] - 1)
    pages = render_pages(snap)
    assert "<polyline" in pages[f"district/{CHATUCHAK}.html"]
    old_site = load_snapshot(engine, 2563, 4)
    assert old_site.run["id"] == old
    engine.dispose()


def test_cli_report_prints_the_index(demo: dict, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from kpi_xl.cli import app

    out = tmp_path / "site"
    result = CliRunner().invoke(app, ["report", "--db", str(demo["database"]), "--out", str(out),
                                      "--fiscal-year", "2564", "--quarter", "4"])
    assert result.exit_code == 0, result.output
    assert str(out / "index.html") in result.output.replace("\n", "")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    result = CliRunner().invoke(app, ["report", "--db", str(demo["database"]), "--out", str(tmp_path / "other")])
    assert result.exit_code == 2


# --- in a real browser ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():  # noqa: ANN201 - playwright's Browser
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (tests/install-and-run.sh installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the test extra)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM))
        yield b
        b.close()


@pytest.fixture()
def page(browser, site: Path):  # noqa: ANN001, ANN201 - playwright objects
    """A page that records console errors and refuses every request outside the site folder."""
    context = browser.new_context()
    page = context.new_page()
    page.errors, page.outside = [], []
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    prefix = site.as_uri() + "/"

    def guard(route) -> None:  # noqa: ANN001
        if route.request.url.startswith(prefix):
            route.continue_()
        else:
            page.outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    yield page
    context.close()


def _file(url: str) -> Path:
    return Path(unquote(urlparse(url).path))


def test_every_page_loads_offline_without_errors_and_every_link_resolves(page, site: Path) -> None:  # noqa: ANN001
    seen: set[Path] = set()
    queue = [site / "index.html"]
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        page.goto(path.as_uri())
        hrefs = page.eval_on_selector_all(
            "a[href], link[href], script[src]",
            "els => els.map(e => new URL(e.getAttribute('href') || e.getAttribute('src'), document.baseURI).href)")
        for href in hrefs:
            target = _file(href.split("#")[0])
            assert href.startswith("file://") and target.is_file(), (path, href)
            anchor = href.partition("#")[2]
            if anchor and target == path:
                assert page.locator(f"[id='{anchor}']").count() == 1, (path, href)
            assert site in target.parents, (path, href)
            if target.suffix == ".html":
                queue.append(target)
    assert len(seen) == 63  # every page is reachable from the overview
    assert page.errors == []
    assert page.outside == []
    font_loaded = page.evaluate("document.fonts.check('16px Laksaman')")
    assert font_loaded


def test_overview_names_all_50_districts(page, site: Path) -> None:  # noqa: ANN001
    page.goto((site / "index.html").as_uri())
    table = page.inner_text("#t-districts")
    for d in districts().values():
        assert d.name_th in table, d
    assert page.locator("#t-districts tbody tr").count() == 50


def test_district_page_shows_narratives_in_thai_and_markup_as_text(page, site: Path, demo: dict) -> None:  # noqa: ANN001
    page.goto((site / "district" / f"{CHATUCHAK}.html").as_uri())
    text = page.inner_text("main")
    narratives = [cells["q2_report"] for cells in demo["values"].values() if cells.get("q2_report")]
    assert narratives and all(n in text for n in narratives)
    assert "สำนักงานเขตจตุจักร" in text
    assert INJECTED in text  # shown as typed, tags and all
    assert page.evaluate("window.__injected") is None
    assert page.locator("main b").count() == 0


def test_filter_box_filters_rows(page, site: Path) -> None:  # noqa: ANN001
    page.goto((site / "index.html").as_uri())
    rows = page.locator("#t-districts tbody tr:visible")
    assert rows.count() == 50
    page.fill("#f-t-districts", "จตุจักร")
    assert rows.count() == 1
    assert "จตุจักร" in rows.first.inner_text()
    assert "1 จาก 50" in page.inner_text("#c-t-districts")
    page.fill("#f-t-districts", "")
    assert rows.count() == 50


@pytest.mark.parametrize("rel", ["index.html", f"district/{CHATUCHAK}.html", "indicator/KPI-04.html"])
def test_axe_finds_no_serious_accessibility_violations(page, site: Path, rel: str) -> None:  # noqa: ANN001
    if not AXE.is_file():
        pytest.skip(f"axe-core not found at {AXE}: npm was not available to fetch it (tests/install-and-run.sh)")
    page.goto((site / rel).as_uri())
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]
           if v["impact"] in ("serious", "critical")]
    assert bad == []


def test_consolidate_html_writes_the_site_after_the_run(demo: dict, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from kpi_xl.cli import app

    db = tmp_path / "history.sqlite"
    shutil.copy(demo["database"], db)
    result = CliRunner().invoke(app, [
        "consolidate", str(demo["inbox"]), "--catalog", str(sample_catalog_path()), "--quarter", "4",
        "--out", str(tmp_path / "summary.xlsx"), "--db", str(db), "--html", str(tmp_path / "site")])
    assert result.exit_code == 1, result.output  # written; the demo inbox has errors and missing districts
    twin = json.loads((tmp_path / "site" / "index.json").read_text(encoding="utf-8"))
    assert twin["counts"]["received"] == 48
    assert twin["meta"]["has_details"]  # the run's own summary workbook was found and read


def test_print_stylesheet_hides_navigation_and_uses_a4(page, site: Path) -> None:  # noqa: ANN001
    page.goto((site / "district" / f"{CHATUCHAK}.html").as_uri())
    assert page.is_visible("header.site nav")
    page.emulate_media(media="print")
    assert not page.is_visible("header.site nav")
    assert not page.is_visible(".filter")
    pdf = page.pdf(prefer_css_page_size=True)
    boxes = {tuple(round(float(x)) for x in m.split()) for m in re.findall(rb"/MediaBox\s*\[([^\]]*)\]", pdf)}
    assert boxes == {(0, 0, 595, 842)}  # A4 in points, from the stylesheet's @page


def test_a_missing_or_foreign_database_is_an_error_and_nothing_is_created(tmp_path: Path) -> None:
    missing = tmp_path / "typo.sqlite"
    with pytest.raises(SiteError, match="not found"):
        build_site(missing, tmp_path / "site")
    assert not missing.exists() and not (tmp_path / "site").exists()
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).close()
    with pytest.raises(SiteError, match="not a kpi-xl history database"):
        build_site(other, tmp_path / "site")
    with sqlite3.connect(other) as conn:  # reading created no table
        assert conn.execute("select count(*) from sqlite_master").fetchone()[0] == 0


def test_svg_charts_escape_labels_and_name_themselves() -> None:
    from kpi_xl.web import svg

    chart = str(svg.bar_chart([("<script>x</script>", 3.5, "a.html?x=1&y=2"), ("ว่าง", None, None)],
                              title="คะแนน <b>", desc="d & e"))
    assert "<script>" not in chart and "&lt;script&gt;x&lt;/script&gt;" in chart
    assert 'href="a.html?x=1&amp;y=2"' in chart and 'role="group"' in chart
    assert "<title id=" in chart and "คะแนน &lt;b&gt;" in chart and "d &amp; e" in chart
    spark = str(svg.sparkline([("2563/Q4", 2.0), ("2564/Q4", 4.0)], title="t"))
    assert 'role="img"' in spark and "<polyline" in spark and "2563/Q4: 2.00; 2564/Q4: 4.00" in spark
