"""Head office's history, read back for a new year's workbooks: ``kpi-xl build --history DB``.

The builder takes plain :class:`~kpi_xl.model.DistrictPast` objects made here (data flows one way:
history → past → template), so the template writer never touches a database. For each district:

- **last year**: the result and score of each indicator in the latest quarter stored for the
  previous fiscal year, from each period's current (accepted) run — as every history reader does;
- **known**: the indicator codes any district reported last year, so an indicator that is not
  among them is printed as new (ตัวชี้วัดใหม่);
- **own**: the district's value scored for each indicator and quarter in every earlier fiscal
  year, for the outlier warning (:mod:`kpi_xl.outliers`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import Engine, select

from .model import DistrictPast, PastResult

__all__ = ["districts_past"]


def districts_past(db: str | Path | Engine, fiscal_year: int, district_codes: Iterable[int]) -> dict[int, DistrictPast]:
    """District code → what the history knows of it before ``fiscal_year`` (one query for all).

    A database without any earlier year gives every district an empty past: every indicator is
    then printed as new, and no outlier warning can be given (too little history).
    """
    from . import history

    codes = list(district_codes)
    engine = history.open_db(db)
    t = history.results
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(t.c.fiscal_year, t.c.quarter, t.c.district_code, t.c.indicator_code, t.c.year_value,
                       t.c.score, t.c.run_id)
                .where(t.c.fiscal_year < fiscal_year, t.c.run_id.in_(history._current_ids()))  # noqa: SLF001
                .order_by(t.c.fiscal_year, t.c.quarter, t.c.run_id)
            ).all()
    finally:
        if not isinstance(db, Engine):
            engine.dispose()
    latest: dict[tuple[int, int, int, str], tuple[float | None, float | None]] = {}
    for fy, q, district, code, value, score, _ in rows:  # one current run per period
        latest[(fy, q, district, code)] = (value, score)
    last = fiscal_year - 1
    known = sorted({code for (fy, _, _, code) in latest if fy == last})
    out = {code: DistrictPast(fiscal_year=last, district_code=code, known=known) for code in codes}
    for (fy, q, district, code), (value, score) in sorted(latest.items()):
        past = out.get(district)
        if past is None:
            continue
        if fy == last:
            current = past.last_year.get(code)
            if current is None or q >= current.quarter:
                past.last_year[code] = PastResult(fiscal_year=fy, quarter=q, year_value=value, score=score)
        if value is not None:
            past.own.setdefault(code, {}).setdefault(q, []).append(float(value))
    return out
