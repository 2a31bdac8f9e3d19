"""Where the contract's defined names must point, checked the same way by every fetcher.

The file reader (:mod:`kpi_xl.reader`) and the Excel button (:mod:`kpi_xl.excel`) both find
contract cells through the workbook's own defined names. A name someone redirected — to another
indicator's cell, a range, another workbook, ``#REF!``, a cell far outside the form — must not be
read and scored silently: it is KPI-E115, naming where it points and where it should. Kept apart
from the reader so the button's path does not import calamine for it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from . import limits
from .form import load_spec
from .problems import Location, Problem, problem

__all__ = ["ContractName", "cell_position", "cell_rc", "contract_names", "within_form"]

_CELL = re.compile(r"^\$?([A-Za-z]{1,3})\$?([0-9]{1,7})$")


class ContractName(NamedTuple):
    name: str
    scope: str | None  # the sheet of a sheet-scoped name, None for a workbook-scoped one
    sheet: str  # the sheet the name points at ("" when it points at no sheet of this workbook)
    cell: str  # its cell, or the top-left of a range ("" when it is no reference)
    target: str  # "" for one plain cell; else what the name holds (a range, [1]Book!A1, #REF!…)


def cell_position(a1: str) -> tuple[int, int] | None:
    """``B21`` (or ``$b$21``) → (21, 2), 1-based as the sheet shows them; None for anything else."""
    match = _CELL.match(a1)
    if match is None:
        return None
    col = 0
    for ch in match.group(1).upper():
        col = col * 26 + ord(ch) - 64
    return int(match.group(2)), col


def cell_rc(a1: str) -> tuple[int, int]:
    """:func:`cell_position` for addresses that must be well formed: a malformed one raises."""
    found = cell_position(a1)
    if found is None:
        raise ValueError(a1)
    return found


def within_form(a1: str) -> bool:
    """A cell a contract name may point at: no form row lies beyond ``MAX_NAMED_ROW`` even after
    rows are inserted, no column beyond ``MAX_NAMED_COLUMN``; the readers never read further."""
    found = cell_position(a1) if a1 == a1.upper() and "$" not in a1 else None
    return found is not None and found[0] <= limits.MAX_NAMED_ROW and found[1] <= limits.MAX_NAMED_COLUMN


def contract_names(names: tuple[ContractName, ...], wanted_scopes: set[str], sheets: set[str],
                   file: str) -> tuple[list[ContractName], list[Problem]]:
    """The names to read, and KPI-E115 for every contract name that does not point where the form
    says: one cell, within the form's area, on its own indicator sheet (sheet-scoped fields) or on
    the cover/metadata sheet (workbook names). A misdirected name is never read."""
    classify = _classify if len(names) <= limits.CACHED_NAMES else _classify.__wrapped__
    used, misdirected = classify(names, frozenset(wanted_scopes), frozenset(sheets))
    return list(used), [
        problem("KPI-E115", Location(file=file, sheet=sheet, name=name), name=name, value=where, expected=expected)
        for name, sheet, where, expected in misdirected
    ]


@lru_cache(maxsize=64)
def _classify(names: tuple[ContractName, ...], wanted_scopes: frozenset[str],
              sheets: frozenset[str]) -> tuple[tuple[ContractName, ...], tuple[tuple[str, str, str, str], ...]]:
    """:func:`contract_names` without the file, cached: the names of one catalog's workbooks are
    the same tuple (the reader caches them on their XML), and this loop over ~750 names took 3 ms."""
    spec = load_spec()
    expected_sheet = {name: spec.sheets[where.sheet] for name, where in spec.workbook_names.items()}
    used: list[ContractName] = []
    misdirected: list[tuple[str, str, str, str]] = []
    for n in names:
        if n.scope is None:
            expected = expected_sheet.get(n.name)
        elif n.scope in wanted_scopes:
            expected = n.scope if n.name in spec.fields else None
        else:
            continue
        bad = bool(n.target) or not within_form(n.cell)
        if expected is None:
            if not bad and n.sheet in sheets:
                used.append(n)  # a name of the district's own: read as before, if it is sane
            continue
        if expected not in sheets or "#REF!" in n.target:
            # The sheet itself is gone, or the cell was deleted (#REF!): KPI-E113 (metadata) or
            # KPI-E111 ("do not delete input cells") says so, once.
            continue
        if bad or n.sheet != expected:
            misdirected.append((n.name, n.scope or expected, n.target or f"'{n.sheet}'!{n.cell}", expected))
            continue
        used.append(n)
    return tuple(used), tuple(misdirected)
