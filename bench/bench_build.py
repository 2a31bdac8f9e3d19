"""Build 50 district workbooks of 30 indicators; compare with openpyxl writing the same content.

    python bench/bench_build.py [--districts 50] [--indicators 30] [--skip-openpyxl]

The 30-indicator catalog clones the sample's 12 indicators under new codes (all districts), so each
workbook has 30 indicator sheets. Timings, all in this run:
- kpi-xl build_all on every core (the real command);
- kpi-xl build_all on one process;
- openpyxl writing the same sheets (same cells, merges, fonts, names, validations, conditional
  formats, protection) on one process: the baseline.
Goal: 50 × 30 in ≤ 5 s with build_all.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from kpi_xl import catalog as catalog_mod
from kpi_xl import model, scoring, template
from kpi_xl.catalog import Catalog
from kpi_xl.form import COLUMNS, load_spec

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "workbook_templates" / "catalog_2564.yaml"


def big_catalog(indicators: int) -> Catalog:
    sample = catalog_mod.load(SAMPLE)
    clones = []
    for n in range(indicators):
        source = sample.indicators[n % len(sample.indicators)]
        clones.append(source.model_copy(update={"code": f"KPI-{n + 1:02d}", "districts": "all",
                                                "weight": 100 / indicators}))
    return sample.model_copy(update={"indicators": clones})


def openpyxl_build(catalog: Catalog, code: int, out: Path) -> None:
    """The same content as template.workbook_bytes, written with openpyxl (no VBA, no buttons)."""
    from openpyxl import Workbook
    from openpyxl.formatting.rule import FormulaRule
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.workbook.defined_name import DefinedName
    from openpyxl.worksheet.datavalidation import DataValidation

    spec = load_spec()
    district = catalog.district(code)
    book = Workbook()
    cover = book.active
    cover.title = spec.sheets["cover"]
    regular, bold = Font(name=template.FONT, size=16), Font(name=template.FONT, size=16, bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")
    for r in range(1, 30):
        cover.cell(r, 1, f"คำชี้แจง บรรทัดที่ {r} สำนักงานเขต{district.name_th}").font = regular
    cover["C9"] = 1
    book.defined_names["report_quarter"] = DefinedName("report_quarter", attr_text=f"'{cover.title}'!$C$9")
    inds = catalog.for_district(code)
    for ind in inds:
        ws = book.create_sheet(ind.code)
        ctx = template.Context(catalog, ind, district)
        applies = {f.name for f in spec.fields_for(ind.scoring.value)}
        for letter in COLUMNS:
            ws.column_dimensions[letter].width = spec.columns.get(letter, 10)
        ws.column_dimensions["G"].hidden = True
        for r, row in enumerate(spec.rows, start=1):
            if row.label:
                cell = ws.cell(r, 1, row.label)
                cell.font, cell.alignment = bold, wrap
            for spec_cell in row.cells:
                c = spec_cell.col_index + 1
                value = None
                if spec_cell.text is not None:
                    value = spec_cell.text
                elif spec_cell.source is not None:
                    value = template.source_text(spec_cell.source, ctx)
                elif spec_cell.name in applies:
                    name = spec_cell.name
                    field = spec.fields[name]
                    if name in ("year_value", "score", "target_met"):
                        value = {"year_value": scoring.excel_year_value, "score": scoring.excel_score,
                                 "target_met": scoring.excel_target_met}[name](ind)
                    elif field.type == "fixed":
                        value = {"kpi_code": ind.code, "kpi_name": ind.name_th, "target_value": ind.target,
                                 "target_unit": ind.unit}[name]
                    else:
                        dv = DataValidation(type="list" if field.type == "quarter" else None,
                                            formula1='"1,2,3,4"' if field.type == "quarter" else None,
                                            promptTitle=field.label_th[:32], prompt=field.prompt_th)
                        ws.add_data_validation(dv)
                        dv.add(ws.cell(r, c).coordinate)
                        if field.required_from:
                            ws.conditional_formatting.add(ws.cell(r, c).coordinate, FormulaRule(
                                formula=[f"AND(LEN({ws.cell(r, c).coordinate})=0,report_quarter>=1)"],
                                fill=PatternFill(bgColor="FDE9D9", fill_type="solid")))
                    ws.defined_names[name] = DefinedName(name, attr_text=f"'{ind.code}'!${COLUMNS[c - 1]}${r}")
                cell = ws.cell(r, c, value)
                cell.font, cell.alignment = regular, wrap
                if spec_cell.span > 1:
                    ws.merge_cells(start_row=r, start_column=c, end_row=r, end_column=c + spec_cell.span - 1)
            ws.row_dimensions[r].height = 30
        ws.protection.sheet = True
        ws.page_setup.paperSize = 9
        ws.print_title_rows = "1:2"
    summary = book.create_sheet(spec.sheets["summary"])
    for r, ind in enumerate(inds, start=3):
        for c, v in enumerate([ind.code, ind.name_th, ind.target, ind.unit, f"='{ind.code}'!year_value",
                               f"='{ind.code}'!score", f"='{ind.code}'!target_met", ind.weight], start=1):
            summary.cell(r, c, v).font = regular
    meta = book.create_sheet(spec.sheets["meta"])
    rows = model.meta_rows(template_version=spec.template_version, fiscal_year=catalog.fiscal_year,
                           district_code=code, district_name_th=district.name_th, district_name_en=district.name_en,
                           catalog_hash=catalog.content_hash, indicator_codes=[i.code for i in inds],
                           build_time="2020-10-01T00:00:00Z", catalog_json=model.catalog_to_json(catalog))
    for r, (key, value) in enumerate(rows, start=1):
        meta.cell(r, 1, key)
        meta.cell(r, 2, value)
    meta.sheet_state = "hidden"
    conf = book.create_sheet(spec.sheets["conf"])
    for r, (key, value) in enumerate(template.xlwings_settings(), start=1):
        conf.cell(r, 1, key)
        conf.cell(r, 2, value)
    conf.sheet_state = "hidden"
    book.save(out / template.output_name(catalog, code, macros=False))


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(label: str, action) -> float:
    """Wall time, printed with the CPU seconds used (this process and its workers): the machine may be shared."""
    start, cpu = time.perf_counter(), _cpu()
    action()
    took = time.perf_counter() - start
    print(f"{label:<48} {took:7.2f} s wall  {_cpu() - cpu:7.2f} s CPU")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--districts", type=int, default=50)
    parser.add_argument("--indicators", type=int, default=30)
    parser.add_argument("--skip-openpyxl", action="store_true")
    args = parser.parse_args()
    catalog = big_catalog(args.indicators)
    codes = [d.code for d in catalog.districts][: args.districts]
    cores = os.cpu_count() or 1
    print(f"{len(codes)} workbooks × {args.indicators} indicator sheets; {cores} cores; "
          f"load average before: {os.getloadavg()[0]:.2f}")
    work = Path(tempfile.mkdtemp(prefix="kpi-bench-build-"))
    try:
        template.build_workbook(catalog, codes[0], work / "warm")  # imports and the VBA project cache
        parallel = timed(f"kpi-xl build_all (.xlsm, {cores} processes)",
                         lambda: template.build_all(catalog, work / "par", districts=codes))
        timed(f"kpi-xl build_all (.xlsx, {cores} processes)",
              lambda: template.build_all(catalog, work / "parx", districts=codes, macros=False))
        serial = timed("kpi-xl build_all (.xlsm, 1 process)",
                       lambda: template.build_all(catalog, work / "ser", districts=codes, jobs=1))
        size = sum(p.stat().st_size for p in (work / "par").iterdir()) / len(codes) / 1024
        print(f"{'average workbook size':<48} {size:7.0f} KiB")
        if not args.skip_openpyxl:
            (work / "opx").mkdir()
            baseline = timed("openpyxl, same content (1 process)",
                             lambda: [openpyxl_build(catalog, c, work / "opx") for c in codes])
            print(f"{'ratio build_all / openpyxl':<48} {parallel / baseline:7.3f}  ({baseline / parallel:.1f}× faster)")
            print(f"{'ratio build_all 1 process / openpyxl':<48} {serial / baseline:7.3f}")
        print(f"{'goal ≤ 5 s for 50 × 30':<48} {'met' if parallel <= 5 else 'NOT met'}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
