"""FROZEN COPY of kpi_xl/history.py at schema version 1 (before runs were kept), for the migration test.

The history database: every consolidation run, so head office can compare quarters and years.

A real database through SQLAlchemy Core: a SQLite file by default (nothing to install), PostgreSQL
(or anything SQLAlchemy speaks) by URL. One run per fiscal year and quarter: running the same
period again replaces that period's rows, and only those, in one transaction — a run that dies
half-way leaves the previous rows in place.

Tables (every child row also carries ``fiscal_year`` and ``quarter`` so a period is deleted with
one indexed statement on any database):

- ``runs``: one row per period: when, from which catalog, counts, mean score.
- ``submissions``: every input file: SHA-256, size, status, district, saved time.
- ``district_results``: one row per district of the catalog: status, file, weighted score, rank.
- ``results``: district × indicator: value scored, score, level, target met.
- ``problems``: every problem listed in the summary.
"""

from __future__ import annotations

import datetime as dt
import math
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
    UniqueConstraint,
    create_engine,
    delete,
    insert,
    select,
)
from sqlalchemy.engine import make_url

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .consolidate import ConsolidationResult

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
    UniqueConstraint("fiscal_year", "quarter", name="uq_runs_period"),
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
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("fiscal_year", Integer, primary_key=True),
    Column("quarter", Integer, primary_key=True),
    Column("district_code", Integer, primary_key=True),
    Column("district_name_th", Text),
    Column("status", String(32), nullable=False),
    Column("file", Text),
    Column("saved", DateTime),
    Column("errors", Integer),
    Column("warnings", Integer),
    Column("score", Float),
    Column("rank", Integer),
    Index("ix_district_results_district", "district_code"),
)

results = Table(
    "results", metadata,
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("fiscal_year", Integer, primary_key=True),
    Column("quarter", Integer, primary_key=True),
    Column("district_code", Integer, primary_key=True),
    Column("indicator_code", String(20), primary_key=True),
    Column("indicator_name_th", Text),
    Column("scoring", String(16)),
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

_CHILDREN = (problems, results, district_results, submissions)


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


def open_db(db: str | Path | Engine) -> Engine:
    """Connect and create the tables that are missing (never drops or alters anything)."""
    if isinstance(db, Engine):
        engine = db
    else:
        url = database_url(db)
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
    metadata.create_all(engine)
    return engine


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


def district_scores(engine: Engine, fiscal_year: int, quarter: int) -> dict[int, float | None]:
    """District → weighted score in a period (empty when the period was never consolidated)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(district_results.c.district_code, district_results.c.score)
            .where(district_results.c.fiscal_year == fiscal_year, district_results.c.quarter == quarter)
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


def record_run(engine: Engine, result: ConsolidationResult) -> int:
    """Store one run, replacing the same fiscal year and quarter (and nothing else); returns its id."""
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
    with engine.begin() as conn:
        for table in _CHILDREN:
            conn.execute(delete(table).where(table.c.fiscal_year == fy, table.c.quarter == q))
        conn.execute(delete(runs).where(runs.c.fiscal_year == fy, runs.c.quarter == q))
        run_id = conn.execute(insert(runs).values(
            fiscal_year=fy, quarter=q, run_at=run_at, catalog_hash=result.catalog_hash,
            catalog_title=result.catalog_title_th, inbox=str(result.inbox),
            summary=str(result.paths.get("summary", "")) or None, kpi_xl_version=kpi_version,
            districts=counts["districts"], received=counts["received"], clean=counts["clean"],
            with_errors=counts["with_errors"], missing=counts["missing"], files=counts["files"],
            mean_score=result.mean_score,
        )).inserted_primary_key[0]
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
            "rank": "rank"}, **period)
        if rows:
            conn.execute(insert(district_results), rows)
        rows = _records(result.scores, {
            "district_code": "district_code", "indicator_code": "indicator_code",
            "indicator_name_th": "indicator_name_th", "scoring": "scoring", "weight": "weight",
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


def runs_frame(db: str | Path | Engine) -> pd.DataFrame:
    """Every stored period, oldest first."""
    import pandas as pd

    columns = [c.name for c in runs.columns]
    if not _exists(db):
        return pd.DataFrame(columns=columns)
    engine = open_db(db)
    with engine.connect() as conn:
        rows = conn.execute(select(runs).order_by(runs.c.fiscal_year, runs.c.quarter)).mappings().all()
    return pd.DataFrame([dict(r) for r in rows], columns=columns)


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

    from .consolidate import Status

    index = pd.MultiIndex.from_tuples([], names=["fiscal_year", "quarter"])
    if not _exists(db):
        return pd.DataFrame(columns=TREND_COLUMNS, index=index)
    engine = open_db(db)
    with engine.connect() as conn:
        periods = conn.execute(
            select(district_results.c.fiscal_year, district_results.c.quarter, district_results.c.status,
                   district_results.c.score, district_results.c.rank)
            .where(district_results.c.district_code == district_code)
            .order_by(district_results.c.fiscal_year, district_results.c.quarter)
        ).all()
        indicator_rows = conn.execute(
            select(results.c.fiscal_year, results.c.quarter, results.c.indicator_code, results.c.score)
            .where(results.c.district_code == district_code)
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
    return frame


def _diff(a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return None
    from .scoring import round2

    return round2(a - b)
