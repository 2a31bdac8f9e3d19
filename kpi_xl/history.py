"""The history database: every consolidation run, so head office can compare quarters and years.

A real database through SQLAlchemy Core: a SQLite file by default (nothing to install), PostgreSQL
(or anything SQLAlchemy speaks) by URL.

Nothing is ever updated in place or deleted: every run is a row of ``runs`` with its results
hanging off it (``run_id``), and a period's *current* result is the run named by the period's
latest row in ``accepted``. A new run appends itself and an "accepted" marker; restoring an
earlier run appends another marker pointing back at it. So "what did we know in April?" can
always be answered, and a mistyped command can always be undone (``kpi-xl history restore``).

Tables (every child row also carries ``fiscal_year`` and ``quarter``, so a period is read with
one indexed condition on any database):

- ``runs``: one row per consolidation run: when, from which catalog, counts, mean score.
- ``accepted``: append-only markers; the latest per period names its current run.
- ``submissions``: every input file: SHA-256, size, status, district, saved time.
- ``district_results``: one row per district of the catalog per run: status, file, score, rank.
- ``results``: run × district × indicator: value scored, score, level, target met.
- ``problems``: every problem listed in the summary.
- ``assessments`` / ``assessment_audit``: head office's own score, comment and decision per district
  × indicator (``kpi-xl review apply``), append-only, and one audit row per changed value.
- ``schema_info``: the schema version; a database of an older kpi-xl is upgraded on open
  (1 → 2: runs kept run by run; 2 → 3: added nullable columns for the KPI kind, the scores per
  kind and the sign-off state, which rows stored before the upgrade leave empty).

Default location (one rule for ``demo``, ``consolidate`` and ``history``): the environment
variable ``KPI_XL_HISTORY`` (a file path or a URL) when set, otherwise ``kpi_history.sqlite``
beside the summary workbook (``consolidate``, ``demo``) or in the current folder (``history``).
"""

from __future__ import annotations

import datetime as dt
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .problems import Problem
    from .result import ConsolidationResult

SCHEMA_VERSION = 3
HISTORY_FILE = "kpi_history.sqlite"
HISTORY_ENV = "KPI_XL_HISTORY"
metadata = MetaData()

runs = Table(
    "runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("fiscal_year", Integer, nullable=False),
    Column("quarter", Integer, nullable=False),
    Column("run_at", DateTime, nullable=False),
    Column("catalog_hash", String(64), nullable=False),
    Column("catalog_title", Text),
    Column("inbox", Text),
    Column("summary", Text),
    Column("kpi_xl_version", String(32)),
    Column("districts", Integer),
    Column("received", Integer),
    Column("clean", Integer),
    Column("with_errors", Integer),
    Column("missing", Integer),
    Column("files", Integer),
    Column("mean_score", Float),
    Column("unreadable", Integer),
    Column("forced", Boolean, nullable=False, default=False),
    Index("ix_runs_period", "fiscal_year", "quarter"),
)

accepted = Table(
    "accepted", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("fiscal_year", Integer, nullable=False),
    Column("quarter", Integer, nullable=False),
    Column("accepted_at", DateTime, nullable=False),
    Column("action", String(16), nullable=False),
    Index("ix_accepted_period", "fiscal_year", "quarter"),
)

schema_info = Table(
    "schema_info", metadata,
    Column("key", String(32), primary_key=True),
    Column("value", String(64), nullable=False),
)

submissions = Table(
    "submissions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("fiscal_year", Integer, nullable=False),
    Column("quarter", Integer, nullable=False),
    Column("file", Text, nullable=False),
    Column("sha256", String(64)),
    Column("size", BigInteger),
    Column("status", String(32), nullable=False),
    Column("district_code", Integer),
    Column("identified_by", String(16)),
    Column("workbook_fiscal_year", Integer),
    Column("report_quarter", Integer),
    Column("saved", DateTime),
    Column("used", Boolean, nullable=False),
    Column("errors", Integer),
    Column("warnings", Integer),
    Column("score", Float),
    Index("ix_submissions_period", "fiscal_year", "quarter"),
)

district_results = Table(
    "district_results", metadata,
    Column("run_id", Integer, ForeignKey("runs.id"), primary_key=True),
    Column("fiscal_year", Integer, nullable=False),
    Column("quarter", Integer, nullable=False),
    Column("district_code", Integer, primary_key=True),
    Column("district_name_th", Text),
    Column("status", String(32), nullable=False),
    Column("file", Text),
    Column("saved", DateTime),
    Column("errors", Integer),
    Column("warnings", Integer),
    Column("score", Float),
    Column("rank", Integer),
    # Schema 3: the score per KPI kind and the district's sign-off as head office found it.
    Column("score_strategic", Float),
    Column("score_routine", Float),
    Column("signoff", String(16)),
    Column("signoff_quarter", Integer),
    Column("signoff_changed", Text),
    Index("ix_district_results_district", "district_code"),
    Index("ix_district_results_period", "fiscal_year", "quarter"),
)

results = Table(
    "results", metadata,
    Column("run_id", Integer, ForeignKey("runs.id"), primary_key=True),
    Column("fiscal_year", Integer, nullable=False),
    Column("quarter", Integer, nullable=False),
    Column("district_code", Integer, primary_key=True),
    Column("indicator_code", String(20), primary_key=True),
    Column("indicator_name_th", Text),
    Column("scoring", String(16)),
    Column("kind", String(16)),  # schema 3: strategic | routine
    Column("content_hash", String(64)),  # schema 3: the sheet's inputs (was a returned item changed?)
    # schema 3: the quarterly values as this run read them, so a later change of an earlier quarter shows
    Column("q1_value", Float),
    Column("q2_value", Float),
    Column("q3_value", Float),
    Column("q4_value", Float),
    Column("weight", Float),
    Column("year_value", Float),
    Column("score", Float),
    Column("level", Integer),
    Column("target_met", Boolean),
    Index("ix_results_district", "district_code"),
)

problems = Table(
    "problems", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("fiscal_year", Integer, nullable=False),
    Column("quarter", Integer, nullable=False),
    Column("district_code", Integer),
    Column("file", Text),
    Column("sheet", Text),
    Column("cell", Text),
    Column("code", String(16), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("message_th", Text),
    Column("message_en", Text),
    Index("ix_problems_period", "fiscal_year", "quarter"),
)

# Schema 3: head office's own assessment (``kpi-xl review apply``), beside the self-assessment in
# ``results``. Append-only like the runs: a changed entry is a new row, the latest per district ×
# indicator × period is current; every change of a score, decision or comment is also an audit row.
assessments = Table(
    "assessments", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("fiscal_year", Integer, nullable=False),
    Column("quarter", Integer, nullable=False),
    Column("district_code", Integer, nullable=False),
    Column("indicator_code", String(20), nullable=False),
    Column("self_score", Float),
    Column("hq_score", Float),
    Column("comment", Text),
    Column("decision", String(16)),
    Column("reviewer", Text),
    Column("applied_at", DateTime, nullable=False),
    Column("review_file", Text),
    Column("content_hash", String(64)),  # the sheet as assessed (results.content_hash of that run)
    Index("ix_assessments_period", "fiscal_year", "quarter"),
)

assessment_audit = Table(
    "assessment_audit", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("fiscal_year", Integer, nullable=False),
    Column("quarter", Integer, nullable=False),
    Column("district_code", Integer, nullable=False),
    Column("indicator_code", String(20), nullable=False),
    Column("field", String(16), nullable=False),  # hq_score | decision | comment
    Column("old_value", Text),
    Column("new_value", Text),
    Column("reviewer", Text),
    Column("changed_at", DateTime, nullable=False),
    Column("review_file", Text),
    Index("ix_audit_period", "fiscal_year", "quarter"),
)

_CHILDREN = (problems, results, district_results, submissions)  # children first: the order to drop them


# ---------------------------------------------------------------------------------------------
# Connecting


def database_url(db: str | Path) -> str:
    """A SQLAlchemy URL; a plain path means a SQLite file there."""
    text = str(db)
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def display_url(db: str | Path) -> str:
    """What to print: the file for SQLite, the URL without its password otherwise."""
    url = make_url(database_url(db))
    if url.get_backend_name() == "sqlite":
        return url.database or ":memory:"
    return url.render_as_string(hide_password=True)


def default_location(beside: Path | None = None) -> str | Path:
    """The one default history location: ``$KPI_XL_HISTORY``, else ``kpi_history.sqlite`` in
    ``beside`` (the summary's folder) or in the current folder."""
    env = os.environ.get(HISTORY_ENV, "").strip()
    if env:
        return env
    return (beside if beside is not None else Path.cwd()) / HISTORY_FILE


def sqlite_file(db: str | Path) -> Path | None:
    """The file behind a SQLite URL or path (None for other databases and in-memory SQLite)."""
    parsed = make_url(database_url(db))
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return Path(parsed.database)
    return None


def exists(db: str | Path | Engine) -> bool:
    """Whether there is a database to read: a missing SQLite file is not created by asking."""
    return _exists(db)


def open_db(db: str | Path | Engine) -> Engine:
    """Connect, create missing tables and upgrade a database made by an earlier kpi-xl.

    SQLite engines made here run every transaction with an explicit BEGIN (pysqlite otherwise
    commits DDL on its own), so an upgrade or a run that dies half-way leaves the old rows.
    """
    if isinstance(db, Engine):
        engine = db
    else:
        url = database_url(db)
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        if parsed.get_backend_name() == "sqlite":
            _transactional_sqlite(engine)
    _upgrade(engine)
    return engine


def _transactional_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")


def _upgrade(engine: Engine) -> None:
    """Version 1 (one row per period in ``runs``, results keyed by period) → version 2, in one
    transaction: every stored run is kept and becomes its period's accepted run."""
    with engine.begin() as conn:
        tables = set(inspect(conn).get_table_names())
        if "runs" not in tables or "accepted" in tables:
            metadata.create_all(conn)
            _add_columns(conn)
            stored = conn.execute(select(schema_info.c.value).where(schema_info.c.key == "version")).first()
            if not stored:
                conn.execute(insert(schema_info).values(key="version", value=str(SCHEMA_VERSION)))
            elif stored[0] != str(SCHEMA_VERSION):
                conn.execute(update(schema_info).where(schema_info.c.key == "version")
                             .values(value=str(SCHEMA_VERSION)))
            return
        old: dict[str, list[dict[str, Any]]] = {}
        for table in (runs, *_CHILDREN):
            if table.name in tables:
                present = {c["name"] for c in inspect(conn).get_columns(table.name)}
                columns = [c for c in table.columns if c.name in present]
                old[table.name] = [dict(r) for r in conn.execute(select(*columns)).mappings()]
        for table in _CHILDREN:
            if table.name in tables:
                conn.execute(text(f"DROP TABLE {table.name}"))
        conn.execute(text("DROP TABLE runs"))
        metadata.create_all(conn)
        for table in (runs, *reversed(_CHILDREN)):
            names = {c.name for c in table.columns}
            rows = [{k: v for k, v in r.items() if k in names} for r in old.get(table.name, [])]
            if table is runs:
                for r in rows:
                    r.setdefault("forced", False)
            if rows:
                conn.execute(insert(table), rows)
        markers = [{"run_id": r["id"], "fiscal_year": r["fiscal_year"], "quarter": r["quarter"],
                    "accepted_at": r["run_at"], "action": "upgrade"} for r in old["runs"]]
        if markers:
            conn.execute(insert(accepted), markers)
        conn.execute(insert(schema_info).values(key="version", value=str(SCHEMA_VERSION)))


def _add_columns(conn: Any) -> None:
    """Schema 2 → 3: add the columns a later schema declares and an existing table lacks.

    Only nullable columns are ever added (ALTER TABLE ... ADD COLUMN, the same on SQLite and
    PostgreSQL), so stored rows stay as they were, with the new columns empty.
    """
    inspector = inspect(conn)
    present_tables = set(inspector.get_table_names())
    for table in metadata.sorted_tables:
        if table.name not in present_tables:
            continue
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            kind = column.type.compile(dialect=conn.dialect)
            conn.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))


def _exists(db: str | Path | Engine) -> bool:
    """Reading must not create an empty SQLite file as a side effect."""
    if isinstance(db, Engine):
        return True
    parsed = make_url(database_url(db))
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return Path(parsed.database).exists()
    return True


# ---------------------------------------------------------------------------------------------
# Periods


def previous_quarter(fiscal_year: int, quarter: int) -> tuple[int, int]:
    """Quarter 1's previous quarter is quarter 4 of the year before."""
    return (fiscal_year, quarter - 1) if quarter > 1 else (fiscal_year - 1, 4)


def previous_year(fiscal_year: int, quarter: int) -> tuple[int, int]:
    return (fiscal_year - 1, quarter)


def period_label(fiscal_year: int, quarter: int) -> str:
    return f"{fiscal_year}/Q{quarter}"


def _current_ids() -> Any:
    """Run ids that are current: the run of each period's latest "accepted" marker."""
    latest = select(func.max(accepted.c.id)).group_by(accepted.c.fiscal_year, accepted.c.quarter)
    return select(accepted.c.run_id).where(accepted.c.id.in_(latest))


def district_scores(engine: Engine, fiscal_year: int, quarter: int) -> dict[int, float | None]:
    """District → weighted score in a period's current run (empty when never consolidated)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(district_results.c.district_code, district_results.c.score)
            .where(district_results.c.fiscal_year == fiscal_year, district_results.c.quarter == quarter,
                   district_results.c.run_id.in_(_current_ids()))
        ).all()
    return {int(code): score for code, score in rows}


def attach_previous(engine: Engine, result: ConsolidationResult) -> None:
    """Fill the previous-quarter and previous-year score columns of ``result.districts``."""
    fy, q = result.fiscal_year, result.quarter
    before_q = district_scores(engine, *previous_quarter(fy, q))
    before_y = district_scores(engine, *previous_year(fy, q))
    codes = result.districts["district_code"].tolist()
    result.districts["prev_quarter_score"] = [before_q.get(int(c)) for c in codes]
    result.districts["prev_year_score"] = [before_y.get(int(c)) for c in codes]
    result.districts["prev_quarter_score"] = result.districts["prev_quarter_score"].astype(float)
    result.districts["prev_year_score"] = result.districts["prev_year_score"].astype(float)
    result.history = True


def attach_assessments(engine: Engine, result: ConsolidationResult) -> None:
    """Head office's assessments of the period beside the district's own (``kpi-xl review apply``).

    ``result.scores`` gains ``hq_score``, ``hq_decision``, ``hq_comment`` and ``returned``: for an
    item sent back (ส่งกลับแก้ไข), ``changed`` when the sheet's inputs differ from what was assessed,
    else ``unchanged``. ``result.districts`` gains ``hq_district_score``: the weighted score with head
    office's score in place of the district's wherever head office gave one (None when it gave none),
    and ``final_score``: that, else the district's own. The rank is by ``final_score`` (the rule the
    summary states): head office's assessment decides where one exists.
    """
    from .scoring import assessed_district_score

    found = current_assessments(engine, result.fiscal_year, result.quarter)
    scores = result.scores
    keys = list(zip(scores["district_code"].astype(int), scores["indicator_code"], strict=True))
    got = [found.get(k, {}) for k in keys]
    scores["hq_score"] = [g.get("hq_score") for g in got]
    scores["hq_decision"] = pd_object([g.get("decision") for g in got])
    scores["hq_comment"] = pd_object([g.get("comment") for g in got])
    scores["returned"] = pd_object([
        (None if g.get("decision") != RETURNED else
         "unchanged" if g.get("content_hash") and g.get("content_hash") == h else "changed")
        for g, h in zip(got, scores["content_hash"], strict=True)])
    pairs: dict[int, list[tuple[float, float | None, float | None]]] = {}
    any_hq: set[int] = set()
    for (code, _ind), g, w, own, status in zip(keys, got, scores["weight"], scores["score"], scores["status"],
                                               strict=True):
        if status not in ("clean", "with_errors"):
            continue
        hq = g.get("hq_score")
        if hq is not None:
            any_hq.add(code)
        pairs.setdefault(code, []).append((float(w), None if own != own else own, hq))
    codes = result.districts["district_code"].astype(int).tolist()
    hq_scores = [assessed_district_score(pairs[c]) if c in any_hq else None for c in codes]
    result.districts["hq_district_score"] = hq_scores
    final = [h if h is not None else (None if s != s else s) for h, s in zip(hq_scores, result.districts["score"],
                                                                              strict=True)]
    result.districts["final_score"] = final
    if any_hq:
        ranked = [f for f in final if f is not None]
        result.districts["rank"] = pd_object([None if f is None else 1 + sum(1 for x in ranked if x > f)
                                              for f in final])


RETURNED = "ส่งกลับแก้ไข"


def attach_changes(engine: Engine, result: ConsolidationResult) -> None:
    """Changes after the fact: a quarterly value of an earlier quarter of the year that differs from
    what that quarter's own (current) run stored becomes a KPI-W711 warning with the old and the new
    value, in the problems (summary and review workbook); both values stay in the history (the
    earlier run keeps the old one, this run stores the new one)."""
    import pandas as pd

    from .form import load_spec
    from .problems import Location, problem

    if result.quarter <= 1 or result.scores.empty:
        return
    spec = load_spec()
    usable = result.districts.set_index("district_code")
    rows = []
    for k in range(1, result.quarter):
        stored = current_results(engine, result.fiscal_year, k)
        if not stored:
            continue
        name = f"q{k}_value"
        for r in result.scores.to_dict("records"):
            code = int(r["district_code"])
            if r["status"] not in ("clean", "with_errors") or name not in r:
                continue
            old = stored.get((code, r["indicator_code"]), {}).get(name)
            new = r[name]
            new = None if new is None or (isinstance(new, float) and math.isnan(new)) else new
            if old is None or (isinstance(new, (int, float)) and abs(float(new) - old) < 1e-9):
                continue
            file = usable.loc[code, "file"]
            p = problem("KPI-W711", Location(file=file, sheet=r["indicator_code"], cell=spec.a1(name), name=name),
                        quarter=k, old=_audit_text(old), new=_audit_text(new) or "(ว่าง / blank)")
            rows.append({"district_code": code, "district_name_th": r["district_name_th"], "file": file,
                         "sheet": r["indicator_code"], "cell": spec.a1(name), "name": name, "code": p.code,
                         "severity": p.severity.value, "message_th": p.message_th, "message_en": p.message_en})
    if rows:
        frame = pd.DataFrame(rows, columns=result.problems.columns)
        result.problems = pd.concat([result.problems, frame], ignore_index=True)


def pd_object(values: list[Any]) -> Any:
    import pandas as pd

    return pd.Series(values, dtype=object).values


# ---------------------------------------------------------------------------------------------
# Writing a run


def _clean(value: Any) -> Any:
    """pandas' missing values → None; numpy scalars → Python (every DB driver accepts those)."""
    if value is None:
        return None
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _records(frame: pd.DataFrame, columns: dict[str, str], **fixed: Any) -> list[dict[str, Any]]:
    """Frame rows → dicts for one table (``columns``: table column → frame column)."""
    out = []
    for row in frame.to_dict("records"):
        item = {col: _clean(row.get(src)) for col, src in columns.items()}
        item.update(fixed)
        out.append(item)
    return out


def record_run(engine: Engine, result: ConsolidationResult, *, forced: bool = False) -> int:
    """Store one run and make it its period's current run; earlier runs stay (restorable).

    ``forced``: head office passed the explicit flag past :func:`check_replacement`; kept on the
    row so the run list shows which runs replaced a period on purpose. Returns the run id.
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        kpi_version = version("kpi-xl")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        kpi_version = "0"
    fy, q = result.fiscal_year, result.quarter
    counts = result.counts
    run_at = result.run_at
    if run_at.tzinfo is not None:
        run_at = run_at.astimezone(dt.UTC).replace(tzinfo=None)
    unreadable = int(result.submissions["status"].isin(UNREADABLE).sum())
    with engine.begin() as conn:
        run_id = conn.execute(insert(runs).values(
            fiscal_year=fy, quarter=q, run_at=run_at, catalog_hash=result.catalog_hash,
            catalog_title=result.catalog_title_th, inbox=str(result.inbox),
            summary=str(result.paths.get("summary", "")) or None, kpi_xl_version=kpi_version,
            districts=counts["districts"], received=counts["received"], clean=counts["clean"],
            with_errors=counts["with_errors"], missing=counts["missing"], files=counts["files"],
            mean_score=result.mean_score, unreadable=unreadable, forced=forced,
        )).inserted_primary_key[0]
        conn.execute(insert(accepted).values(run_id=run_id, fiscal_year=fy, quarter=q, accepted_at=run_at,
                                             action="run"))
        period = {"run_id": run_id, "fiscal_year": fy, "quarter": q}
        rows = _records(result.submissions, {
            "file": "file", "sha256": "sha256", "size": "size", "status": "status", "district_code": "district_code",
            "identified_by": "identified_by", "workbook_fiscal_year": "fiscal_year",
            "report_quarter": "report_quarter", "saved": "saved", "used": "used", "errors": "errors",
            "warnings": "warnings", "score": "score"}, **period)
        if rows:
            conn.execute(insert(submissions), rows)
        rows = _records(result.districts, {
            "district_code": "district_code", "district_name_th": "district_name_th", "status": "status",
            "file": "file", "saved": "saved", "errors": "errors", "warnings": "warnings", "score": "score",
            "rank": "rank", "score_strategic": "score_strategic", "score_routine": "score_routine",
            "signoff": "signoff", "signoff_quarter": "signoff_quarter", "signoff_changed": "signoff_changed"},
            **period)
        if rows:
            conn.execute(insert(district_results), rows)
        rows = _records(result.scores, {
            "district_code": "district_code", "indicator_code": "indicator_code",
            "indicator_name_th": "indicator_name_th", "scoring": "scoring", "kind": "kind", "content_hash": "content_hash",
            "weight": "weight", **{f"q{k}_value": f"q{k}_value" for k in (1, 2, 3, 4)},
            "year_value": "year_value", "score": "score", "level": "level", "target_met": "target_met"}, **period)
        if rows:
            conn.execute(insert(results), rows)
        rows = _records(result.problems, {
            "district_code": "district_code", "file": "file", "sheet": "sheet", "cell": "cell", "code": "code",
            "severity": "severity", "message_th": "message_th", "message_en": "message_en"}, **period)
        if rows:
            conn.execute(insert(problems), rows)
    return int(run_id)


# ---------------------------------------------------------------------------------------------
# Reading


UNREADABLE = ("corrupt", "encrypted", "xls", "not_kpi_xl")  # Status values of files nobody could open


def runs_frame(db: str | Path | Engine, *, every: bool = False, fiscal_year: int | None = None,
               quarter: int | None = None) -> pd.DataFrame:
    """The current run of every stored period, oldest period first; ``every=True``: every run ever
    made (restorable ones too), by period then run id, with a ``current`` column."""
    import pandas as pd

    columns = [c.name for c in runs.columns] + ["current"]
    if not _exists(db):
        return pd.DataFrame(columns=columns)
    engine = open_db(db)
    query = select(runs, runs.c.id.in_(_current_ids()).label("current"))
    if not every:
        query = query.where(runs.c.id.in_(_current_ids()))
    if fiscal_year is not None:
        query = query.where(runs.c.fiscal_year == fiscal_year)
    if quarter is not None:
        query = query.where(runs.c.quarter == quarter)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(runs.c.fiscal_year, runs.c.quarter, runs.c.id)).mappings().all()
    if not isinstance(db, Engine):
        engine.dispose()
    frame = pd.DataFrame([dict(r) for r in rows], columns=columns)
    frame["current"] = frame["current"].astype(bool)
    return frame


def current_run(db: str | Path | Engine, fiscal_year: int, quarter: int) -> dict[str, Any] | None:
    """The period's current run as a dict, or None (a missing SQLite file is not created)."""
    frame = runs_frame(db, fiscal_year=fiscal_year, quarter=quarter)
    if frame.empty:
        return None
    return {k: _clean(v) for k, v in frame.iloc[-1].to_dict().items()}


def restore_run(db: str | Path | Engine, run_id: int, *, at: dt.datetime | None = None) -> dict[str, Any]:
    """Make an earlier run its period's current run again, by a new "accepted" marker (nothing is
    deleted, so a restore can itself be undone). Raises KpiError (KPI-E614) for an unknown run."""
    from .problems import KpiError, problem

    engine = open_db(db)
    at = (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(tzinfo=None, microsecond=0)
    with engine.begin() as conn:
        row = conn.execute(select(runs).where(runs.c.id == run_id)).mappings().first()
        if row is None:
            raise KpiError([problem("KPI-E614", run_id=run_id)])
        conn.execute(insert(accepted).values(run_id=run_id, fiscal_year=row["fiscal_year"], quarter=row["quarter"],
                                             accepted_at=at, action="restore"))
        found = dict(row)
    if not isinstance(db, Engine):
        engine.dispose()
    return found


def check_replacement(db: str | Path | Engine | None, result: ConsolidationResult, *,
                      files_found: int, declared: list[int]) -> list[Problem]:
    """Why this run must not become current without head office's explicit flag (empty = fine).

    A mistyped folder or quarter must not wipe a quarter: an empty inbox (KPI-E611), a quarter
    most readable covers contradict (KPI-E612), or fewer usable workbooks than the stored run of
    the period (KPI-E610). ``declared``: the quarter each readable workbook's cover chose.
    ``db=None``: no history is written, so only the quarter is checked.
    """
    from collections import Counter

    from .problems import Location, problem

    fy, q = result.fiscal_year, result.quarter
    found = []
    if declared:
        others = Counter(v for v in declared if v != q)
        if others and sum(others.values()) * 2 > len(declared):
            top, count = others.most_common(1)[0]
            found.append(problem("KPI-E612", Location(), quarter=q, count=count, total=len(declared), declared=top))
    if db is None:
        return found
    if files_found == 0:  # one message: the empty folder says it all
        return [problem("KPI-E611", Location(), folder=str(result.inbox), period=period_label(fy, q))]
    stored = current_run(db, fy, q) if _exists(db) else None
    received = result.counts["received"]
    if stored is not None and stored.get("received") is not None and received < stored["received"]:
        found.append(problem("KPI-E610", Location(), received=received, stored=stored["received"],
                             period=period_label(fy, q), run_id=stored["id"]))
    return found


TREND_COLUMNS = ["period", "status_th", "score", "rank", "change_prev_quarter", "prev_year_score",
                 "change_prev_year", "status"]


def history_trend(db: str | Path | Engine, district_code: int, *, indicators: bool = False) -> pd.DataFrame:
    """One row per stored period for one district, oldest first, indexed by (fiscal_year, quarter).

    Columns: period ("2564/Q2"), status_th, score, rank (int or None), change_prev_quarter and
    change_prev_year (score minus the previous quarter's / the same quarter last year's, where
    both are stored), prev_year_score, status (the English key); with ``indicators=True`` also
    one score column per indicator code.
    """
    import pandas as pd

    from .result import Status

    index = pd.MultiIndex.from_tuples([], names=["fiscal_year", "quarter"])
    if not _exists(db):
        return pd.DataFrame(columns=TREND_COLUMNS, index=index)
    engine = open_db(db)
    with engine.connect() as conn:
        periods = conn.execute(
            select(district_results.c.fiscal_year, district_results.c.quarter, district_results.c.status,
                   district_results.c.score, district_results.c.rank)
            .where(district_results.c.district_code == district_code,
                   district_results.c.run_id.in_(_current_ids()))
            .order_by(district_results.c.fiscal_year, district_results.c.quarter)
        ).all()
        indicator_rows = conn.execute(
            select(results.c.fiscal_year, results.c.quarter, results.c.indicator_code, results.c.score)
            .where(results.c.district_code == district_code, results.c.run_id.in_(_current_ids()))
        ).all() if indicators else []
    if not isinstance(db, Engine):
        engine.dispose()
    by_period = {(fy, q): score for fy, q, _, score, _ in periods}
    codes = sorted({code for _, _, code, _ in indicator_rows})
    ind_scores = {(fy, q, code): score for fy, q, code, score in indicator_rows}
    rows = []
    for fy, q, status, score, rank in periods:
        before_q = by_period.get(previous_quarter(fy, q))
        before_y = by_period.get(previous_year(fy, q))
        row: dict[str, Any] = {
            "period": period_label(fy, q),
            "status_th": Status(status).th if status in Status._value2member_map_ else status,
            "score": score, "rank": None if rank is None else int(rank),
            "change_prev_quarter": _diff(score, before_q),
            "prev_year_score": before_y,
            "change_prev_year": _diff(score, before_y),
            "status": status,
        }
        for code in codes:
            row[code] = ind_scores.get((fy, q, code))
        rows.append(row)
    index = pd.MultiIndex.from_tuples([(fy, q) for fy, q, *_ in periods], names=["fiscal_year", "quarter"])
    frame = pd.DataFrame(rows, columns=[*TREND_COLUMNS, *codes], index=index)
    frame["rank"] = pd.Series([r["rank"] for r in rows], dtype=object, index=index)
    for column in ("score", "change_prev_quarter", "prev_year_score", "change_prev_year", *codes):
        frame[column] = frame[column].astype(float)
    assessed = _assessed_scores(db, district_code, [(fy, q) for fy, q, *_ in periods])
    if any(v is not None for v in assessed.values()):  # head office's score beside the district's own
        frame.insert(3, "hq_score", [assessed.get(k) for k in frame.index])
        frame.insert(4, "hq_difference", [_diff(h, sc) for h, sc in zip(frame["hq_score"], frame["score"], strict=True)])
        frame["hq_score"] = frame["hq_score"].astype(float)
        frame["hq_difference"] = frame["hq_difference"].astype(float)
    return frame


def _assessed_scores(db: str | Path | Engine, district_code: int,
                     periods: list[tuple[int, int]]) -> dict[tuple[int, int], float | None]:
    """Per period, the district's weighted score with head office's score in place of its own
    wherever head office assessed (None for a period head office did not assess)."""
    from .scoring import district_score

    if not periods:
        return {}
    engine = open_db(db) if not isinstance(db, Engine) else db
    out: dict[tuple[int, int], float | None] = {}
    for fy, q in periods:
        found = {k[1]: v for k, v in current_assessments(engine, fy, q).items() if k[0] == district_code}
        if not any(v.get("hq_score") is not None for v in found.values()):
            out[(fy, q)] = None
            continue
        own = {k[1]: v for k, v in current_results(engine, fy, q).items() if k[0] == district_code}
        pairs = [(r["weight"] or 0.0, found[c]["hq_score"] if c in found and found[c].get("hq_score") is not None
                  else r["score"]) for c, r in own.items()]
        out[(fy, q)] = district_score(pairs)
    if not isinstance(db, Engine):
        engine.dispose()
    return out


def _diff(a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return None
    from .scoring import round2

    return round2(a - b)


# ---------------------------------------------------------------------------------------------
# Head office's assessments (kpi-xl review apply)

AUDITED = ("hq_score", "decision", "comment")


def current_assessments(engine: Engine, fiscal_year: int, quarter: int) -> dict[tuple[int, str], dict[str, Any]]:
    """(district, indicator) → the latest assessment of the period (empty when none)."""
    latest = (select(func.max(assessments.c.id))
              .where(assessments.c.fiscal_year == fiscal_year, assessments.c.quarter == quarter)
              .group_by(assessments.c.district_code, assessments.c.indicator_code))
    with engine.connect() as conn:
        rows = conn.execute(select(assessments).where(assessments.c.id.in_(latest))).mappings().all()
    return {(r["district_code"], r["indicator_code"]): dict(r) for r in rows}


def current_results(engine: Engine, fiscal_year: int, quarter: int) -> dict[tuple[int, str], dict[str, Any]]:
    """(district, indicator) → the period's current run's result row (self score, content hash)."""
    with engine.connect() as conn:
        rows = conn.execute(select(results).where(
            results.c.fiscal_year == fiscal_year, results.c.quarter == quarter,
            results.c.run_id.in_(_current_ids()))).mappings().all()
    return {(r["district_code"], r["indicator_code"]): dict(r) for r in rows}


def current_files(engine: Engine, fiscal_year: int, quarter: int) -> dict[int, str]:
    """District → SHA-256 of the workbook the period's current run used."""
    with engine.connect() as conn:
        rows = conn.execute(select(submissions.c.district_code, submissions.c.sha256).where(
            submissions.c.fiscal_year == fiscal_year, submissions.c.quarter == quarter,
            submissions.c.used.is_(True), submissions.c.run_id.in_(_current_ids()))).all()
    return {int(code): sha for code, sha in rows if code is not None and sha}


def record_assessments(engine: Engine, fiscal_year: int, quarter: int, entries: list[dict[str, Any]], *,
                       applied_at: dt.datetime, review_file: str) -> tuple[int, int]:
    """Append the entries that differ from the current assessment, with one audit row per changed
    value; returns (assessments added, audit rows added). One transaction: all or nothing."""
    before = current_assessments(engine, fiscal_year, quarter)
    added: list[dict[str, Any]] = []
    audit: list[dict[str, Any]] = []
    for e in entries:
        key = (e["district_code"], e["indicator_code"])
        old = before.get(key, {})
        changed = [f for f in AUDITED if _audit_text(old.get(f)) != _audit_text(e.get(f))]
        if not changed and old.get("reviewer") == e.get("reviewer"):
            continue
        added.append({"fiscal_year": fiscal_year, "quarter": quarter, "district_code": key[0],
                      "indicator_code": key[1], "self_score": e.get("self_score"), "hq_score": e.get("hq_score"),
                      "comment": e.get("comment"), "decision": e.get("decision"), "reviewer": e.get("reviewer"),
                      "applied_at": applied_at, "review_file": review_file, "content_hash": e.get("content_hash")})
        audit += [{"fiscal_year": fiscal_year, "quarter": quarter, "district_code": key[0], "indicator_code": key[1],
                   "field": f, "old_value": _audit_text(old.get(f)) or None, "new_value": _audit_text(e.get(f)) or None,
                   "reviewer": e.get("reviewer"), "changed_at": applied_at, "review_file": review_file}
                  for f in changed]
    with engine.begin() as conn:
        if added:
            conn.execute(insert(assessments), added)
        if audit:
            conn.execute(insert(assessment_audit), audit)
    return len(added), len(audit)


def _audit_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
