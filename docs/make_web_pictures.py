"""Re-make the web report's pictures in docs/img/ from the real thing: the demo's site in Chromium.

    python docs/make_web_pictures.py            # writes docs/img/web_*.png

Runs the demo into a temporary folder (about 20 s), builds its site and photographs three pages in
headless Chromium (Debian's ``chromium`` through Playwright), so the README shows exactly what
head office opens. Kept out of the tests on purpose: pictures change with every style tweak and a
test must not rewrite files in the repository.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from kpi_xl.demo import run_demo
from kpi_xl.web import build_site

DOCS = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
PAGES = [("web_overview.png", "index.html"), ("web_district.png", "district/1030.html"),
         ("web_indicator.png", "indicator/KPI-04.html")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DOCS / "img")
    parser.add_argument("--height", type=int, default=1400, help="pixels of each page to keep")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        made = run_demo(Path(tmp) / "demo", web=False)
        site = build_site(made["database"], Path(tmp) / "site")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM)
            page = browser.new_page(viewport={"width": 1200, "height": args.height})
            for name, rel in PAGES:
                page.goto((site.root / rel).as_uri())
                page.wait_for_load_state("load")
                page.evaluate("document.fonts.ready")
                page.screenshot(path=str(args.out / name))
                print(args.out / name)
            browser.close()


if __name__ == "__main__":
    main()
