"""The `kpi-xl` command line: each command opens library objects, calls one library function and
turns library exceptions into clean bilingual errors (sqlite-utils' habit). Nothing is computed here.

Heavy modules are imported inside the commands so `kpi-xl --help` answers at once.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .problems import KpiError, Problem

app = typer.Typer(
    name="kpi-xl",
    help="kpi-xl: แบบรายงานตัวชี้วัดของสำนักงานเขตใน Excel — สร้าง ตรวจสอบ รวบรวม / "
    "Bangkok district KPI reports in Excel: build, validate, consolidate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
catalog_app = typer.Typer(help="ทะเบียนตัวชี้วัด / The indicator catalog.", no_args_is_help=True)
docs_app = typer.Typer(help="สร้างเอกสารอ้างอิง / Generate the reference docs.", no_args_is_help=True)
history_app = typer.Typer(
    help="ประวัติการรวบรวม: แนวโน้ม รายการรอบ เรียกคืนรอบเดิม / The history: trends, runs, restoring a run.",
    invoke_without_command=True,
)
app.add_typer(catalog_app, name="catalog")
app.add_typer(docs_app, name="docs")
app.add_typer(history_app, name="history")
review_app = typer.Typer(help="แฟ้มตรวจประเมินของสำนักงาน / Head office's review workbook.", no_args_is_help=True)
app.add_typer(review_app, name="review")

# Piped into a file or another program, rich would wrap at 80 columns and cut the demo's
# suggested commands in two: lines are then left whole (soft wrap) for the reader to copy.
# Tables, too, keep every column whole there: a pipe has no width, so a wide one is assumed instead
# of rich's 80 (or an inherited ``COLUMNS``), which cut cells to "…".
PIPE_WIDTH = 240


def _console(stderr: bool) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    tty = stream.isatty()
    width = None if tty else PIPE_WIDTH
    return Console(stderr=stderr, highlight=False, soft_wrap=not tty, width=width)


console = _console(stderr=False)
err = _console(stderr=True)


def _version(value: bool) -> None:
    if value:
        from . import __version__

        console.print(f"kpi-xl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="รุ่นของ kpi-xl / show the version")] = False,
) -> None:
    """kpi-xl: แบบรายงานตัวชี้วัดของสำนักงานเขตใน Excel — สร้าง ตรวจสอบ รวบรวม / Bangkok district KPI reports
    in Excel: build, validate, consolidate."""

CatalogOpt = Annotated[Path, typer.Option("--catalog", "-c", help="ทะเบียนตัวชี้วัด .xlsx/.yaml / catalog file")]


def _print_problems(problems: list[Problem], lang: str = "th") -> None:
    for p in problems:
        style = "red" if p.is_error else "yellow"
        err.print(f"[{style}]{p.code}[/] {escape(p.message_th if lang == 'th' else p.message_en)}")
        if lang == "th":
            err.print(f"        {escape(p.message_en)}", style="dim")


def _fail(problems: list[Problem], code: int = 1, lang: str = "th") -> NoReturn:
    _print_problems(problems, lang)
    raise typer.Exit(code)


def _load_catalog(path: Path):  # noqa: ANN202 - returns kpi_xl.catalog.Catalog
    from . import catalog

    try:
        return catalog.load(path)
    except KpiError as exc:
        _fail(exc.problems, 1)


# --- catalog ------------------------------------------------------------------------------------


@catalog_app.command("check")
def catalog_check(
    path: Annotated[Path, typer.Argument(help="ทะเบียนตัวชี้วัด .xlsx/.yaml / catalog file")],
) -> None:
    """ตรวจทะเบียนตัวชี้วัดและแสดงเป็นตาราง / Check a catalog and list its indicators.

    Exit code 0 when valid, 1 with every located error otherwise.
    """
    from .catalog import catalog_warnings

    cat = _load_catalog(path)
    table = Table(title=f"ทะเบียนตัวชี้วัด ปีงบประมาณ {cat.fiscal_year} / catalog FY {cat.fiscal_year}")
    for header in ("รหัส / code", "ชื่อตัวชี้วัด / name", "ด้าน", "วิธีให้คะแนน / scoring", "เป้าหมาย / target",
                   "ทิศทาง", "น้ำหนัก / weight", "เขต / districts"):
        table.add_column(header)
    for ind in cat.indicators:
        table.add_row(
            ind.code, ind.name_th, str(ind.dimension), ind.scoring.value, f"{ind.target:g} {ind.unit}",
            ind.direction.value, f"{ind.weight:g}",
            "ทุกเขต / all" if ind.districts == "all" else ", ".join(map(str, ind.districts)),
        )
    console.print(table)
    console.print(f"catalog hash: {cat.content_hash}")
    warnings = catalog_warnings(cat)
    for w in warnings:
        err.print(f"[yellow]{w.code}[/] {escape(w.message_th)} / {escape(w.message_en)}")
    console.print(f"[green]ถูกต้อง {len(cat.indicators)} ตัวชี้วัด / valid: {len(cat.indicators)} indicators[/]")


@catalog_app.command("convert")
def catalog_convert(
    source: Annotated[Path, typer.Argument(help="แฟ้มต้นทาง / source .xlsx or .yaml")],
    target: Annotated[Path, typer.Argument(help="แฟ้มปลายทาง / target .xlsx or .yaml")],
    force: Annotated[bool, typer.Option("--force", help="เขียนทับแฟ้มเดิม / overwrite the target")] = False,
) -> None:
    """แปลงทะเบียน Excel ⇄ YAML / Convert a catalog between Excel and YAML (same content, same hash)."""
    from . import catalog

    cat = _load_catalog(source)
    if target.exists() and not force:
        err.print(f"[red]มีแฟ้ม {target} อยู่แล้ว ใช้ --force เพื่อเขียนทับ / {target} exists; use --force[/]")
        raise typer.Exit(1)
    if target.suffix.lower() in {".yaml", ".yml"}:
        catalog.to_yaml(cat, target)
    else:
        catalog.to_xlsx(cat, target)
    console.print(f"{target}  ({cat.content_hash[:12]})")


# --- build --------------------------------------------------------------------------------------


@app.command()
def build(
    catalog: CatalogOpt,
    out: Annotated[Path, typer.Option("--out", "-o", help="โฟลเดอร์ผลลัพธ์ / output folder")],
    districts: Annotated[str | None, typer.Option(help="รหัสเขตคั่นด้วย , เช่น 1030,1001 / district codes")] = None,
    no_macros: Annotated[bool, typer.Option("--no-macros", help="สร้าง .xlsx ไม่มีมาโคร / plain .xlsx, no button")] = False,
    interpreter: Annotated[str | None, typer.Option(help="Interpreter_Win ของ xlwings / Python path on the PCs")] = None,
    password: Annotated[str | None, typer.Option(help="รหัสผ่านป้องกันแผ่นงาน / sheet protection password")] = None,
    force: Annotated[bool, typer.Option("--force", help="เขียนทับแฟ้มเดิม / overwrite existing workbooks")] = False,
    split_by: Annotated[str | None, typer.Option("--split-by", help="แยกสำเนาตามหน่วยงาน: responsible / one copy per section")] = None,
    history_db: Annotated[str | None, typer.Option("--history", help="ฐานข้อมูลประวัติ: แสดงผลปีที่แล้วในแต่ละตัวชี้วัด / history DB: print last year's results")] = None,
    key_file: Annotated[Path | None, typer.Option("--key-file", help="แฟ้มกุญแจลับ: ลงนามข้อมูลกำกับแฟ้มแบบ HMAC (แทน $KPI_XL_KEY_FILE) / secret key file: keyed metadata checksum")] = None,
) -> None:
    """สร้างแบบรายงานของแต่ละเขต / Build one workbook per district for the catalog's fiscal year.

    With --split-by responsible: one copy per section (its indicators fillable, the others read-only)
    plus the coordinator's copy; combine them with kpi-xl merge. With --history: each indicator
    sheet shows the district's result and score last year, and the button warns about values far
    from the district's own past.
    """
    from . import template

    _use_key_file(key_file)
    cat = _load_catalog(catalog)
    codes = None
    if districts:
        try:
            codes = [int(c) for c in districts.replace(" ", "").split(",") if c]
        except ValueError:
            err.print(f"[red]รหัสเขตไม่ถูกต้อง \"{districts}\" — ใช้ตัวเลขคั่นด้วย , เช่น 1030,1001 / "
                      f"bad --districts \"{districts}\": use codes such as 1030,1001[/]")
            raise typer.Exit(2) from None
        known = {d.code for d in cat.districts}
        unknown = [c for c in codes if c not in known]
        if unknown:
            err.print(f"[red]ไม่มีรหัสเขต {unknown} / unknown district codes {unknown}[/]")
            raise typer.Exit(2)
    from .files import check_output_folder

    try:
        check_output_folder(out, inputs=[catalog])
    except KpiError as exc:
        _fail(exc.problems, 2)
    past = None
    if history_db is not None:
        from .past import districts_past

        if "://" not in history_db and not Path(history_db).is_file():
            err.print(f"[red]ไม่พบฐานข้อมูลประวัติ {escape(history_db)} / history database not found: {escape(history_db)}[/]")
            raise typer.Exit(2)
        past = districts_past(_db_url(history_db), cat.fiscal_year, codes or [d.code for d in cat.districts])
    if split_by is not None:
        _build_sections(cat, out, codes, split_by, macros=not no_macros, interpreter=interpreter,
                        password=password, force=force, past=past)
        return
    try:
        paths = template.build_all(cat, out, districts=codes, macros=not no_macros, interpreter=interpreter,
                                   password=password, force=force, past=past)
    except FileExistsError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    console.print(f"สร้างแล้ว {len(paths)} แฟ้ม ใน {out} / built {len(paths)} workbooks in {out}")


def _use_key_file(path: Path | None) -> None:
    """``--key-file`` for this process and its workers (through the environment they inherit);
    a key that cannot be used stops the command before any work (KPI-E615, exit 2)."""
    import os

    from .keys import KEY_FILE_ENV, KeyProblem, load_key
    from .problems import problem

    if path is not None:
        os.environ[KEY_FILE_ENV] = str(path)
    try:
        load_key()
    except KeyProblem as exc:
        _fail([problem("KPI-E615", source=exc.source, detail=exc.detail)], 2)


@app.command()
def keygen(
    out: Annotated[Path, typer.Option("--out", "-o", help="แฟ้มกุญแจใหม่ เช่น kpi_key_2564.txt / new key file")],
) -> None:
    """สร้างกุญแจลับของส่วนกลางสำหรับข้อมูลกำกับแฟ้ม / Make head office's secret key for tamper-evident metadata.

    Keep the file at head office only (never in a workbook, never on a district PC); one key per
    fiscal year. Give it to build and consolidate (their key-file option, or KPI_XL_KEY_FILE).
    """
    import os

    from .keys import new_key

    if out.exists():
        err.print(f"[red]มีแฟ้ม {out} อยู่แล้ว จะไม่เขียนทับกุญแจเดิม / {out} exists; an existing key is never overwritten[/]")
        raise typer.Exit(2)
    if not out.parent.is_dir():
        err.print(f"[red]ไม่พบโฟลเดอร์ {out.parent} / folder not found: {out.parent}[/]")
        raise typer.Exit(2)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # readable by head office's account only
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(new_key() + "\n")
    console.print(f"สร้างกุญแจแล้ว / key written: {out}")


# --- validate -----------------------------------------------------------------------------------


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="แฟ้มที่เขตส่งมา / filled workbooks")],
    catalog: Annotated[Path | None, typer.Option("--catalog", "-c", help="ทะเบียนที่ใช้ตรวจ / catalog to check against")] = None,
    quarter: Annotated[int | None, typer.Option(min=1, max=4, help="ไตรมาสที่รายงาน (ค่าเริ่มต้น: ตามแผ่นคำชี้แจง) / quarter")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="ผลเป็น JSON / JSON output")] = False,
    lang: Annotated[str, typer.Option(help="ภาษา th|en / message language")] = "th",
    annotate: Annotated[Path | None, typer.Option(help="เขียนสำเนาที่มีเครื่องหมาย (แฟ้มเดียว: ชื่อแฟ้ม; หลายแฟ้ม: โฟลเดอร์) / write a marked copy")] = None,
) -> None:
    """ตรวจแฟ้มที่กรอกแล้วและคิดคะแนน / Validate filled workbooks and compute their scores.

    Exit code 0 valid, 1 errors found, 2 a file could not be read.
    """
    from .validate import validate_file

    _use_key_file(None)  # a configured key that cannot be read: one message, not a traceback per file
    targets: list[Path] = []
    if annotate is not None:  # every marked copy's place checked before any file is read
        from .files import annotate_targets

        try:
            targets = annotate_targets(annotate, files)
        except KpiError as exc:
            _fail(exc.problems, 2, lang)
    cat = _load_catalog(catalog) if catalog else None
    reports = [validate_file(f, catalog=cat, quarter=quarter) for f in files]
    if annotate is not None:
        from .annotate import annotate as write_marked

        for report, src, dst in zip(reports, files, targets, strict=True):
            if not report.readable:
                continue
            if not dst.parent.exists():
                dst.parent.mkdir()  # the one level annotate_targets allowed
            write_marked(src, dst, report)
            if not as_json:
                console.print(f"เขียนสำเนาตรวจแล้ว / marked copy: {dst}")
    if as_json:
        sys.stdout.write(json.dumps([_report_json(r) for r in reports], ensure_ascii=False, indent=1) + "\n")
    else:
        for report in reports:
            _print_report(report, lang)
    if any(not r.readable for r in reports):
        raise typer.Exit(2)
    if any(not r.valid for r in reports):
        raise typer.Exit(1)


@review_app.command("apply")
def review_apply(
    review: Annotated[Path, typer.Argument(help="แฟ้ม review_<ปี>_Q<ไตรมาส>.xlsx ที่กรอกแล้ว / the filled review workbook")],
    db: Annotated[str | None, typer.Option(help="ฐานข้อมูลประวัติ (ค่าเริ่มต้น: ข้างแฟ้มตรวจประเมิน) / history database")] = None,
    out: Annotated[Path | None, typer.Option(help="โฟลเดอร์แฟ้มแจ้งผลถึงเขต (ค่าเริ่มต้น: feedback_<ปี>_Q<ไตรมาส>) / feedback folder")] = None,
) -> None:
    """บันทึกผลการตรวจประเมินและสร้างแฟ้มแจ้งผลถึงเขต / Apply head office's review: check the entries,
    store them in the history beside the self-assessment, write one feedback workbook per district.

    Exit code 0 applied, 1 entries with errors (nothing stored), 2 unusable input or output.
    """
    from .headoffice.apply import apply_review
    from .problems import KpiError

    try:
        applied = apply_review(review, db=db, out=out)
    except KpiError as exc:
        _fail(exc.problems, code=1 if any(p.code.startswith("KPI-E71") and p.code != "KPI-E718"
                                          for p in exc.problems) else 2)
    for p in applied.warnings:
        err.print(f"[yellow]{p.code}[/] {escape(p.message_th)}")
    console.print(f"บันทึกผลการตรวจประเมิน {applied.fiscal_year}/Q{applied.quarter}: {applied.stored} รายการ "
                  f"(ประวัติการแก้ไข {applied.audit} รายการ, ส่งกลับแก้ไข {applied.returned}) / stored {applied.stored}, "
                  f"audit rows {applied.audit}, sent back {applied.returned}")
    for code, path in applied.feedback.items():
        console.print(f"แฟ้มแจ้งผล / feedback {code}: {escape(str(path))}")


@app.command()
def submit(
    book: Annotated[Path, typer.Argument(help="แฟ้มรายงานของเขต / the district's workbook")],
    quarter: Annotated[int, typer.Option(min=1, max=4, help="ไตรมาสที่ยืนยันส่ง / quarter to sign off")],
    out: Annotated[Path | None, typer.Option(help="แฟ้มที่ยืนยันแล้ว (ค่าเริ่มต้น: <ชื่อแฟ้ม>_signed_Q<q>) / signed copy")] = None,
    force: Annotated[bool, typer.Option("--force", help="เขียนทับแฟ้มที่ยืนยันไว้เดิม / replace an existing signed copy")] = False,
) -> None:
    """ยืนยันส่งรายงาน (แบบไม่มีมาโคร) / Sign off a workbook for a quarter (the macro-free path).

    The same engine as the ยืนยันส่งรายงาน button: the full check for the quarter; with no error
    left (unless the catalog allows) and every signature block filled, a signed copy is written,
    the input is never modified. Exit code 0 signed, 1 refused, 2 unusable input or output.
    """
    from .problems import KpiError
    from .submit import submit_file

    try:
        result, path = submit_file(book, quarter, out=out, overwrite=force)
    except KpiError as exc:
        _fail(exc.problems, code=2)
    except (OSError, ValueError) as exc:
        err.print(f"[red]อ่านหรือเขียนแฟ้มไม่ได้ / cannot read or write: {escape(str(exc))}[/]")
        raise typer.Exit(2) from None
    if path is None:
        _fail(result.problems, code=1)
    console.print(escape(result.message_th))
    console.print(escape(result.message_en), style="dim")
    console.print(f"แฟ้มที่ยืนยันส่งแล้ว / signed copy: {escape(str(path))}")


def _report_json(report) -> dict:  # noqa: ANN001 - DistrictReport
    return {
        "file": report.file,
        "readable": report.readable,
        "valid": report.valid,
        "district_code": report.district_code,
        "fiscal_year": report.fiscal_year,
        "report_quarter": report.report_quarter,
        "district_score": report.district_score,
        "indicators": [
            {"code": i.code, "year_value": i.year_value, "score": i.score, "target_met": i.target_met,
             "explanation_th": i.explanation_th}
            for i in report.indicators
        ],
        "problems": report.problems.flatten(),
    }


def _say(lang: str, th: str, en: str) -> str:
    """Thai first and English beside, or English alone with ``--lang en``."""
    return en if lang == "en" else f"{th} / {en}"


def _number(value: float) -> str:
    """A value as the form shows it: thousands separated, at most two decimals."""
    return f"{value:,.2f}".rstrip("0").rstrip(".") if not float(value).is_integer() else f"{value:,.0f}"


def _print_report(report, lang: str) -> None:  # noqa: ANN001 - DistrictReport
    en = lang == "en"
    quarter = report.report_quarter or "-"
    if en:
        console.rule(f"{Path(report.file).name} — {report.district_name_en or '?'} district, quarter {quarter}")
    else:
        console.rule(f"{Path(report.file).name} — เขต{report.district_name_th or '?'} ไตรมาส {quarter}")
    if report.problems.problems:
        table = Table(show_lines=False)
        headers = ("code", "severity", "where", "message") if en else ("รหัส / code", "ระดับ / severity",
                                                                       "ที่ / where", "ข้อความ / message")
        for h in headers:
            table.add_column(h)
        for p in report.problems:
            where = f"{p.location.sheet or ''}!{p.location.cell or ''}".strip("!")
            if p.is_error:
                sev = "[red]error[/]" if en else "[red]ข้อผิดพลาด[/]"
            else:
                sev = "[yellow]warning[/]" if en else "[yellow]คำเตือน[/]"
            table.add_row(p.code, sev, escape(where), escape(p.text(lang)))
        console.print(table)
    if report.indicators:
        table = Table(title=_say(lang, "คะแนน", "scores"))
        headers = (("indicator", "value", "score", "target", "how") if en else
                   ("ตัวชี้วัด / indicator", "ผล / value", "คะแนน / score", "ผลประเมิน / target", "วิธีคิด / how"))
        for h in headers:
            table.add_column(h)
        for i in report.indicators:
            if i.target_met is None:
                met = ""
            else:
                met = ("met" if i.target_met else "not met") if en else ("ผ่าน" if i.target_met else "ไม่ผ่าน")
            table.add_row(i.code, "" if i.year_value is None else _number(i.year_value),
                          "" if i.score is None else f"{i.score:.2f}", met,
                          escape(i.explanation_en if en else i.explanation_th))
        console.print(table)
        if report.district_score is not None:
            label = _say(lang, "คะแนนรวมถ่วงน้ำหนักของเขต", "district weighted score")
            console.print(f"{label}: [bold]{report.district_score:.2f}[/]")
    console.print(report.problems.summary_en() if en else report.problems.summary_th())


# --- consolidate / history ----------------------------------------------------------------------


@app.command()
def consolidate(
    inbox: Annotated[Path, typer.Argument(help="โฟลเดอร์แฟ้มที่เขตส่งมา (รวมโฟลเดอร์ย่อย) / folder of returned workbooks")],
    catalog: CatalogOpt,
    quarter: Annotated[int, typer.Option(min=1, max=4, help="ไตรมาสที่รวบรวม / quarter")],
    out: Annotated[Path, typer.Option("--out", "-o", help="แฟ้มสรุป .xlsx / summary workbook")],
    db: Annotated[str | None, typer.Option(help="ฐานข้อมูลประวัติ (แฟ้มหรือ URL) ค่าเริ่มต้น $KPI_XL_HISTORY หรือ kpi_history.sqlite ข้างแฟ้มสรุป / history DB; default $KPI_XL_HISTORY, else kpi_history.sqlite beside the summary")] = None,
    into: Annotated[Path | None, typer.Option(help="แม่แบบของส่วนกลางที่จะเติมข้อมูล / head office's own template")] = None,
    html: Annotated[Path | None, typer.Option(help="เขียนเว็บรายงานลงโฟลเดอร์นี้ด้วย / also write the web report here")] = None,
    key_file: Annotated[Path | None, typer.Option("--key-file", help="แฟ้มกุญแจลับของส่วนกลาง (แทน $KPI_XL_KEY_FILE) / head office's secret key file")] = None,
    lang: Annotated[str, typer.Option(help="ภาษา th|en / message language")] = "th",
    replace_history: Annotated[bool, typer.Option("--replace-history", help="บันทึกแทนรอบเดิมแม้โฟลเดอร์ว่าง ได้แฟ้มน้อยกว่าเดิม หรือไตรมาสไม่ตรงกับแฟ้ม (รอบเดิมเรียกคืนได้) / replace the stored period even with an empty inbox, fewer workbooks or a quarter the covers contradict (the old run stays restorable)")] = False,
) -> None:
    """รวบรวมแฟ้มทุกเขต: ใครส่ง ใครขาด ผิดที่ใด คะแนน / Consolidate every district's workbook.

    Every output is checked before the first file is read. Ends with one tally line.
    Exit code: 0 every district sent a clean workbook; 1 done and written, but some district is
    missing, has errors or could not be read; 2 nothing written (a usage mistake, an output that
    cannot be written, or a run refused to protect the stored history).
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .consolidate import consolidate as run

    _use_key_file(key_file)
    cat = _load_catalog(catalog)
    if not inbox.is_dir():
        err.print(f"[red]ไม่พบโฟลเดอร์ {inbox} / folder not found: {inbox}[/]")
        raise typer.Exit(2)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True) as bar:
        task = bar.add_task("ตรวจแฟ้ม / validating", total=None)

        def progress(done: int, total: int, file: str) -> None:
            bar.update(task, completed=done, total=total)

        try:
            result = run(inbox, cat, quarter, out=out, db=_db_url(db) if db else None, into=into,
                         progress=progress, replace=replace_history)
        except KpiError as exc:
            bar.stop()
            _fail(exc.problems, 2, lang)
    _print_consolidation(result, lang)
    # --- web report (kpi_xl.web): a post-step on the history the run just wrote.
    if html is not None:
        from .history import default_location
        from .web import SiteError, build_site

        history_db = _db_url(db) if db else default_location(out.parent)  # where the run just wrote
        try:
            site = build_site(history_db, html, fiscal_year=result.fiscal_year, quarter=result.quarter, catalog=cat)
        except SiteError as exc:
            err.print(f"[red]{exc}[/]")
            raise typer.Exit(2) from None
        _print_site(site)
    console.print(tally(result.counts, lang))
    raise typer.Exit(0 if result.complete else 1)


def tally(counts: dict[str, int], lang: str = "th") -> str:
    """The one line a run ends with (also the first thing to read in a log)."""
    english = (f"received {counts['received']} · clean {counts['clean']} · with errors {counts['with_errors']} · "
               f"missing {counts['missing']} · unreadable {counts['unreadable']} file(s)")
    if lang == "en":
        return english
    return (f"รับแล้ว {counts['received']} เขต · ถูกต้อง {counts['clean']} · มีข้อผิดพลาด {counts['with_errors']} · "
            f"ยังไม่ส่ง {counts['missing']} · เปิดไม่ได้ {counts['unreadable']} แฟ้ม / " + english)


def _print_consolidation(result, lang: str = "th") -> None:  # noqa: ANN001 - ConsolidationResult
    en = lang == "en"
    table = Table(title=_say(lang, "สถานะการส่ง", "submissions"))
    headers = (("code", "district", "status", "errors", "warnings", "score", "rank") if en else
               ("รหัส", "เขต", "สถานะ / status", "ข้อผิดพลาด", "คำเตือน", "คะแนน", "อันดับ"))
    for h in headers:
        table.add_column(h)
    for row in result.districts.itertuples(index=False):
        d = row._asdict()
        score = d.get("score")
        name = d.get("district_name_en") if en else d.get("district_name_th")
        status = d.get("status_en" if en else "status_th", d.get("status"))
        table.add_row(str(d.get("district_code")), escape(str(name)), str(status),
                      str(d.get("errors", "")), str(d.get("warnings", "")),
                      "" if score is None or score != score else f"{score:.2f}",
                      "" if d.get("rank") is None or d.get("rank") != d.get("rank") else str(int(d["rank"])))
    console.print(table)
    for label, path in result.paths.items():
        console.print(f"{label}: {path}")


HistoryDb = Annotated[str | None, typer.Option(
    help="ฐานข้อมูลประวัติ (แฟ้มหรือ URL) ค่าเริ่มต้น $KPI_XL_HISTORY หรือ kpi_history.sqlite ในโฟลเดอร์ปัจจุบัน / "
    "history DB; default $KPI_XL_HISTORY, else kpi_history.sqlite in the current folder")]


def _history_db(db: str | None) -> str:
    """The one default location; a missing database is an error here, never created by reading."""
    from .history import default_location, display_url, exists

    url = _db_url(str(db if db else default_location()))
    if not exists(url):
        from .problems import problem

        _fail([problem("KPI-E613", path=display_url(url))], 2)
    return url


@history_app.callback()
def history(
    ctx: typer.Context,
    district: Annotated[int | None, typer.Option(help="รหัสเขต เช่น 1030 (เหมือน history trend) / district code")] = None,
    db: HistoryDb = None,
) -> None:
    """ประวัติการรวบรวม / The history database: trend, runs, restore."""
    if ctx.invoked_subcommand is not None:
        return
    if district is None:
        err.print(ctx.get_help())
        raise typer.Exit(2)
    history_trend_command(district=district, db=db)


@history_app.command("trend")
def history_trend_command(
    district: Annotated[int, typer.Option(help="รหัสเขต เช่น 1030 / district code")],
    db: HistoryDb = None,
) -> None:
    """แนวโน้มคะแนนของเขตข้ามไตรมาสและปี / A district's score trend across quarters and years."""
    from .history import history_trend

    frame = history_trend(_history_db(db), district)
    if frame.empty:
        err.print(f"[yellow]ไม่มีประวัติของเขต {district} / no history for district {district}[/]")
        raise typer.Exit(1)
    table = Table(title=f"แนวโน้มเขต {district} / district {district}: trend")
    shown = [c for c in frame.columns if c in TREND_HEADERS]  # the status code is for programs, not people
    for column in shown:
        table.add_column(TREND_HEADERS[column])
    for row in frame[shown].itertuples(index=False):
        table.add_row(*["" if v is None or v != v else (f"{v:.2f}" if isinstance(v, float) else str(v)) for v in row])
    console.print(table)


TREND_HEADERS = {
    "period": "ช่วง / period", "status_th": "สถานะ / status", "score": "คะแนน / score",
    "hq_score": "คะแนนที่สำนักงานประเมิน / head office's score", "hq_difference": "ผลต่าง / difference",
    "rank": "อันดับ / rank",
    "change_prev_quarter": "เทียบไตรมาสก่อน / vs previous quarter", "prev_year_score": "ปีก่อน / last year",
    "change_prev_year": "เทียบปีก่อน / vs last year",
}


def _bangkok(value: object) -> str:
    """A stored time (UTC; naive means UTC) as Bangkok time, which is what head office reads."""
    import datetime as dt

    if not isinstance(value, dt.datetime):
        return "" if value is None else str(value)
    stamp = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return stamp.astimezone(dt.timezone(dt.timedelta(hours=7))).strftime("%Y-%m-%d %H:%M:%S")


@history_app.command("runs")
def history_runs(
    fiscal_year: Annotated[int | None, typer.Option(help="ปีงบประมาณ / fiscal year")] = None,
    quarter: Annotated[int | None, typer.Option(min=1, max=4, help="ไตรมาส / quarter")] = None,
    db: HistoryDb = None,
) -> None:
    """ทุกรอบการรวบรวม (รอบปัจจุบันมี *) / Every consolidation run; the current one of each period is starred."""
    from .history import runs_frame

    frame = runs_frame(_history_db(db), every=True, fiscal_year=fiscal_year, quarter=quarter)
    if frame.empty:
        err.print("[yellow]ยังไม่มีรอบการรวบรวม / no runs stored[/]")
        raise typer.Exit(1)
    table = Table(title="รอบการรวบรวม / runs")
    for header in ("", "รอบ / run", "ช่วง / period", "เวลา (กรุงเทพฯ) / run at (Bangkok)", "รับแล้ว / received", "ถูกต้อง / clean",
                   "มีข้อผิดพลาด / errors", "ยังไม่ส่ง / missing", "เปิดไม่ได้ / unreadable", "แทนที่โดยตั้งใจ / forced"):
        table.add_column(header)
    for r in frame.to_dict("records"):
        table.add_row("*" if r["current"] else "", str(r["id"]), f"{r['fiscal_year']}/Q{r['quarter']}", _bangkok(r["run_at"]),
                      *[_int(r[k]) for k in ("received", "clean", "with_errors", "missing", "unreadable")],
                      "ใช่ / yes" if r["forced"] else "")
    console.print(table)


def _int(value: object) -> str:
    return "" if value is None or value != value else str(int(value))  # type: ignore[call-overload]


@history_app.command("restore")
def history_restore(
    run_id: Annotated[int, typer.Argument(help="หมายเลขรอบจาก history runs / run number")],
    db: HistoryDb = None,
) -> None:
    """ให้รอบเดิมกลับมาเป็นผลปัจจุบันของช่วงนั้น (ไม่ลบอะไร) / Make an earlier run current again (nothing is deleted)."""
    from .history import restore_run

    url = _history_db(db)
    try:
        row = restore_run(url, run_id)
    except KpiError as exc:
        _fail(exc.problems, 2)
    period = f"{row['fiscal_year']}/Q{row['quarter']}"
    console.print(f"รอบที่ {run_id} เป็นผลปัจจุบันของ {period} แล้ว / run {run_id} is now the current result of {period}")


def _db_url(db: str) -> str:
    """A plain file path means a SQLite file; anything with :// is a SQLAlchemy URL (PostgreSQL…)."""
    return db if "://" in db else f"sqlite:///{Path(db).resolve()}"


# --- web report (kpi_xl.web) ------------------------------------------------------------------


@app.command()
def report(
    db: Annotated[str, typer.Option(help="ฐานข้อมูลประวัติ (URL หรือแฟ้ม .sqlite) / history DB")],
    out: Annotated[Path, typer.Option("--out", "-o", help="โฟลเดอร์เว็บรายงาน / site folder")],
    fiscal_year: Annotated[int | None, typer.Option(help="ปีงบประมาณ (ค่าเริ่มต้น: ล่าสุด) / fiscal year (default: latest)")] = None,
    quarter: Annotated[int | None, typer.Option(min=1, max=4, help="ไตรมาส (ค่าเริ่มต้น: ล่าสุด) / quarter (default: latest)")] = None,
    catalog: Annotated[Path | None, typer.Option(help="ทะเบียนตัวชี้วัด สำหรับคำนิยามและเกณฑ์ / catalog for definitions")] = None,
) -> None:
    """เว็บรายงานผล (แฟ้ม HTML เปิดได้โดยไม่ต้องมีเซิร์ฟเวอร์) / Static web report from the history DB."""
    from .web import SiteError, build_site

    cat = _load_catalog(catalog) if catalog is not None else None
    try:
        site = build_site(_db_url(db), out, fiscal_year=fiscal_year, quarter=quarter, catalog=cat)
    except SiteError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    _print_site(site)


def _print_site(site) -> None:  # noqa: ANN001 - kpi_xl.web.SiteInfo
    console.print(f"เว็บรายงาน {site.fiscal_year}/Q{site.quarter}: {site.pages} หน้า, "
                  f"{site.bytes / 1e6:.1f} MB, {site.seconds:.1f} s / web report written")
    console.print(f"เปิดแฟ้มนี้ / open: {site.index}")


# --- demo / docs --------------------------------------------------------------------------------


@app.command()
def demo(
    directory: Annotated[Path, typer.Argument(help="โฟลเดอร์สำหรับผลการสาธิต / where to put the demo")] = Path("kpi-demo"),
    seed: Annotated[int, typer.Option(help="ค่าสุ่มตั้งต้น / random seed")] = 2564,
) -> None:
    """สาธิตทั้งรอบ: สร้าง กรอก ตรวจ รวบรวม / Run the whole cycle on the sample catalog."""
    from .demo import run_demo

    run_demo(directory, seed=seed, console=console)


@docs_app.command("errors")
def docs_errors(
    out: Annotated[Path, typer.Option(help="แฟ้มผลลัพธ์ / output file")] = Path("docs/errors.md"),
) -> None:
    """docs/errors.md จากทะเบียนรหัสปัญหา / Write docs/errors.md from the problem registry."""
    from .docs import write_docs

    write_docs(errors=out)
    console.print(str(out))


@docs_app.command("all")
def docs_all(
    directory: Annotated[Path, typer.Option(help="โฟลเดอร์ docs / docs folder")] = Path("docs"),
) -> None:
    """สร้าง errors.md, cli.md, contract.md / Regenerate every generated reference page."""
    from .docs import write_docs

    for path in write_docs(directory=directory, app=app):
        console.print(str(path))


# --- upgrade (kpi_xl.upgrade): carry filled workbooks onto a revised catalog ------------------------


@app.command()
def upgrade(
    old: Annotated[list[Path], typer.Argument(help="แฟ้มเดิมที่กรอกแล้ว หรือโฟลเดอร์ / filled workbooks or folders")],
    catalog: Annotated[Path, typer.Option("--catalog", "-c", help="ทะเบียนตัวชี้วัดฉบับใหม่ / the revised catalog")],
    out: Annotated[Path, typer.Option("--out", "-o", help="โฟลเดอร์แฟ้มใหม่ (ไม่ใช่โฟลเดอร์เดิม) / output folder")],
    force: Annotated[bool, typer.Option("--force", help="เขียนทับแฟ้มใหม่ที่มีอยู่ / overwrite existing outputs")] = False,
) -> None:
    """ปรับแฟ้มที่กรอกแล้วตามทะเบียนฉบับใหม่ ยกข้อมูลมาครบ / Upgrade filled workbooks to a revised catalog.

    Every entry is carried over by defined name; what changed is listed here and on a sheet of each
    new workbook. The inputs are never modified. Exit code 0 all upgraded, 1 some refused.
    """
    from .upgrade import upgrade_all

    cat = _load_catalog(catalog)
    results, refused = upgrade_all(old, cat, out, force=force)
    for result in results:
        console.rule(f"{result.source.name} → {result.target}")
        if not result.changes:
            console.print("ไม่มีการเปลี่ยนแปลง / nothing changed")
        table = Table()
        for h in ("ตัวชี้วัด / indicator", "การเปลี่ยนแปลง / change", "เดิม / before", "ใหม่ / after"):
            table.add_column(h)
        for change in result.changes:
            table.add_row(change.code, escape(change.label), escape(change.old), escape(change.new))
        if result.changes:
            console.print(table)
        placed = sum(len(v) for v in result.placed.values())
        console.print(f"ยกมาในช่องเดิม {placed} ช่อง, ไปแผ่นงานยกมาจากฉบับเดิม {len(result.carried)} รายการ, "
                      f"ไม่ผ่านเกณฑ์ใหม่ {len(result.misfits)} รายการ / {placed} entries placed, "
                      f"{len(result.carried)} carried over, {len(result.misfits)} no longer fit")
    if refused:
        _fail(refused, 1)
    if not results:
        err.print("[red]ไม่พบแฟ้ม .xlsm/.xlsx ที่จะปรับ / no .xlsm/.xlsx workbook to upgrade[/]")
        raise typer.Exit(1)


# --- sections (kpi_xl.sections): split a district by section, merge the copies back -----------------


def _build_sections(cat, out: Path, codes: list[int] | None, by: str, **options) -> None:  # noqa: ANN001, ANN003
    from .sections import SPLIT_FIELDS, build_sections

    if by not in SPLIT_FIELDS:
        err.print(f"[red]--split-by ต้องเป็น {', '.join(SPLIT_FIELDS)} (พบ \"{escape(by)}\") / "
                  f"--split-by must be {', '.join(SPLIT_FIELDS)}[/]")
        raise typer.Exit(2)
    try:
        paths = build_sections(cat, out, codes, by=by, **options)
    except FileExistsError as exc:
        err.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(1) from None
    console.print(f"สร้างสำเนาของหน่วยงาน {len(paths)} แฟ้ม ใน {out} / built {len(paths)} section copies in {out}")


@app.command()
def merge(
    parts: Annotated[list[Path], typer.Argument(help="สำเนาของแต่ละหน่วยงาน หรือโฟลเดอร์ / section copies or folders")],
    out: Annotated[Path, typer.Option("--out", "-o", help="แฟ้มรวมของเขต .xlsm / the district's merged workbook")],
    force: Annotated[bool, typer.Option("--force", help="เขียนทับแฟ้มรวมที่มีอยู่ / overwrite the output")] = False,
) -> None:
    """รวมสำเนาของหน่วยงานเป็นแฟ้มเดียวของเขต / Merge section copies into the district's workbook.

    Each indicator comes from the copy of the section that owns it; a cell filled differently in two
    copies is reported with both values and places and left blank. Exit code 0 merged, 1 merged
    with conflicts, 2 refused (nothing written).
    """
    from .sections import MergeError, merge_parts

    try:
        result = merge_parts(parts, out, force=force)
    except MergeError as exc:
        _fail(exc.problems, 2)
    filled = sum(len(v) for v in result.values.values())
    console.print(f"รวมแล้ว {len(result.sections)} สำเนา, {filled} ช่อง → {result.target} / merged "
                  f"{len(result.sections)} copies, {filled} cells")
    for section in result.missing_sections:
        err.print(f"[yellow]ไม่มีสำเนาของ {escape(section)} / no copy from section {escape(section)}[/]")
    if result.problems:
        _fail(result.problems, 1)


def _lang_from_argv(argv: list[str]) -> str:
    """``--lang en`` anywhere on the line switches usage errors to English too."""
    for i, arg in enumerate(argv):
        if arg == "--lang" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
    return "th"
# --- district PCs: offline install and self-check (issue 15; kept together for easy merging) -------


@app.command()
def bundle(
    out: Annotated[Path, typer.Option("--out", help="โฟลเดอร์ชุดติดตั้ง / bundle folder to create")],
    python: Annotated[list[str] | None, typer.Option(
        "--python", help="รุ่น Python ของเครื่องเขต (ซ้ำได้; ปริยาย 3.11 3.12 3.13) / target Python, repeatable")] = None,
    this_machine: Annotated[bool, typer.Option(
        "--this-machine", help="สำหรับเครื่องนี้แทน Windows x64 (ใช้ทดสอบ) / for this machine, not Windows x64")] = False,
) -> None:
    """ชุดติดตั้งแบบไม่ใช้อินเทอร์เน็ตสำหรับเครื่องเขต / An offline installer for district PCs: wheels for
    Windows x64 and Python 3.11–3.13, install.cmd, and a completeness check."""
    from . import bundle as bundle_mod

    if this_machine:
        targets = [bundle_mod.this_machine()]
    else:
        targets = bundle_mod.windows_targets(python or bundle_mod.SUPPORTED_PYTHONS)
    try:
        report = bundle_mod.bundle(out, targets)
    except (RuntimeError, OSError) as exc:
        err.print(f"[red]สร้างชุดติดตั้งไม่สำเร็จ / bundle failed: {escape(str(exc))}[/]")
        raise typer.Exit(1) from None
    console.print(f"{out}: {len(report.wheels)} wheels, install.cmd, install.sh, bundle.json")
    for label, missing in report.unresolved.items():
        if missing:
            err.print(f"[red]{label}: ยังขาด / unresolved: {escape(', '.join(missing))}[/]")
        else:
            console.print(f"{label}: ครบ / complete")
    if not report.complete:
        raise typer.Exit(1)


@app.command()
def doctor() -> None:
    """สิ่งที่ปุ่ม ตรวจสอบข้อมูล ต้องใช้ในเครื่องนี้ และสิ่งที่ขาด / What the Excel button needs on this PC and
    what is missing (exit code 1 when something required is missing)."""
    from . import doctor as doctor_mod

    found = doctor_mod.checks()
    console.print(escape(doctor_mod.render(found)), soft_wrap=True)
    if not doctor_mod.ok(found):
        raise typer.Exit(1)


def main() -> None:
    from .usage import click

    try:
        # Non-standalone: click hands usage errors over as objects, worded here in Thai and English.
        code = app(standalone_mode=False, prog_name="kpi-xl")
    except click.NoArgsIsHelpError as exc:  # `kpi-xl` or `kpi-xl catalog` alone: the help, as before
        console.print(exc.ctx.get_help() if exc.ctx is not None else exc.format_message(), soft_wrap=True,
                      markup=False)
        raise SystemExit(exc.exit_code) from None
    except click.UsageError as exc:
        from .usage import usage_message

        for line in usage_message(exc, _lang_from_argv(sys.argv[1:])):
            err.print(escape(line), soft_wrap=True)
        raise SystemExit(exc.exit_code) from None
    except click.ClickException as exc:  # e.g. a file argument that cannot be opened
        err.print(f"[red]{escape(exc.format_message())}[/]", soft_wrap=True)
        raise SystemExit(exc.exit_code) from None
    except typer.Abort:
        err.print("ยกเลิก / aborted")
        raise SystemExit(1) from None
    except ModuleNotFoundError as exc:
        if exc.name not in {"pandas", "sqlalchemy", "packaging"}:
            raise
        err.print(f"[red]คำสั่งนี้ของส่วนกลางต้องติดตั้งเพิ่ม: pip install \"kpi-xl[hq]\" / this head-office command needs "
                  f"pip install \"kpi-xl[hq]\" (missing {exc.name})[/]")
        raise SystemExit(2) from None
    except KpiError as exc:  # a library error that escaped a command: still no traceback
        _print_problems(exc.problems, _lang_from_argv(sys.argv[1:]))
        raise SystemExit(2) from None
    raise SystemExit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
