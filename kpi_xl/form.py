"""The report form as data: loads ``workbook_templates/form_spec.yaml``.

Writer, reader, validator, Excel button and docs all ask this module where a cell is and what it
holds, so a change to the form is one edit in the YAML. A cell's address is derived from its row's
place in the spec; nothing else in the code knows an address.

The Excel button loads the spec on every press, in a fresh interpreter: importing PyYAML and
parsing 18 kB of YAML cost it ~15 ms. So the YAML's data also ships as ``form_spec.json``, stamped
with the SHA-256 of the YAML text it was made from (``python -m kpi_xl.form`` writes it; a test
keeps the committed file current). :func:`load_spec` uses the JSON only when that stamp matches the
YAML beside it, so an edited YAML is never shadowed by a stale JSON: it is parsed instead, as before.
Either way the data goes through the same :class:`FormSpec` validation.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from .defaults import new_list

FieldType = Literal["fixed", "text", "number", "quarter", "date", "computed"]
RequiredKind = Literal["quarterly", "year_end", "signature"]
COLUMNS = "ABCDEFG"
HELPED_TYPES = ("number", "quarter")
QUARTER_HELPER_ROW = 0
"""Helper cells sit in the spec's ``helper_column``: one per number/quarter input, on its row, and the
reporting quarter's on the first row (the title's, which has no input)."""


class CellSpec(BaseModel):
    model_config = ConfigDict(frozen=True)
    col: str
    span: int = 1
    text: str | None = None
    source: str | None = None
    name: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> CellSpec:
        if sum(x is not None for x in (self.text, self.source, self.name)) > 1:
            raise ValueError("a cell has one of text, source, name")
        return self

    @property
    def col_index(self) -> int:
        return COLUMNS.index(self.col)


class RowSpec(BaseModel):
    model_config = ConfigDict(frozen=True)
    label: str | None = None
    style: str = "field"
    cells: list[CellSpec] = Field(default_factory=new_list)


class FieldSpec(BaseModel):
    """One contract cell (a sheet-scoped defined name)."""

    model_config = ConfigDict(frozen=True)
    name: str = ""
    type: FieldType
    label_th: str
    label_en: str
    required_from: int | None = None
    required: RequiredKind | None = None
    quarter: int | None = None
    only: list[str] | None = None
    prompt_th: str | None = None

    def applies(self, scoring: str) -> bool:
        return self.only is None or scoring in self.only

    @property
    def is_input(self) -> bool:
        return self.type not in ("fixed", "computed")

    @property
    def required_kind(self) -> RequiredKind | None:
        if self.required_from is None:
            return None
        return self.required or "quarterly"


class WorkbookName(BaseModel):
    model_config = ConfigDict(frozen=True)
    sheet: str
    key: str | None = None
    cell: str | None = None


class ReportColumn(BaseModel):
    model_config = ConfigDict(frozen=True)
    key: str
    th: str
    en: str
    width: float = 20


class ReportSheet(BaseModel):
    """A read-only list sheet (title, header, one text row per item), e.g. an upgrade's change report."""

    model_config = ConfigDict(frozen=True)
    sheet: str
    title: str
    columns: list[ReportColumn]


class FormSpec(BaseModel):
    model_config = ConfigDict(frozen=True)
    template_version: str
    known_versions: list[str]
    renamed: dict[str, dict[str, str | None]] = Field(default_factory=dict)
    title: str
    columns: dict[str, float]
    print_area_last_col: str
    hidden_columns: list[str] = Field(default_factory=new_list)
    helper_column: str = "I"
    rows: list[RowSpec]
    fields: dict[str, FieldSpec]
    workbook_names: dict[str, WorkbookName]
    sheets: dict[str, str]
    report_sheets: dict[str, ReportSheet] = Field(default_factory=dict)
    _addresses: dict[str, tuple[int, int]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _names_placed_once(self) -> FormSpec:
        placed = [c.name for r in self.rows for c in r.cells if c.name]
        if len(placed) != len(set(placed)):
            raise ValueError("a defined name is placed twice in the form spec")
        if set(placed) != set(self.fields):
            raise ValueError(f"fields and placed names differ: {set(placed) ^ set(self.fields)}")
        for name, spec in self.fields.items():
            object.__setattr__(spec, "name", name)
        for version, renames in self.renamed.items():
            if version not in self.known_versions:
                raise ValueError(f"renamed: version {version} is not in known_versions")
            if version == self.template_version:
                unknown = {new for new in renames.values() if new is not None} - set(self.fields)
                if unknown:
                    raise ValueError(f"renamed: {version} maps onto names the form lacks: {sorted(unknown)}")
        for key, sheet in self.report_sheets.items():
            if sheet.sheet not in self.sheets:
                raise ValueError(f"report_sheets.{key}.sheet {sheet.sheet!r} is not a key of sheets")
        self._addresses = {c.name: (r, c.col_index) for r, row in enumerate(self.rows) for c in row.cells if c.name}
        helped = [(self._addresses[n][0], n) for n, f in self.fields.items() if f.type in HELPED_TYPES]
        rows = [r for r, _ in helped]
        if len(rows) != len(set(rows)) or QUARTER_HELPER_ROW in rows:
            raise ValueError("each number/quarter input needs a row of its own (and not the first) for its helper cell")
        return self

    @property
    def helper_col(self) -> int:
        """0-based index of the hidden helper column (right of the button column)."""
        col = 0
        for ch in self.helper_column.upper():
            col = col * 26 + ord(ch) - 64
        return col - 1

    def helper_a1(self, name: str) -> str:
        """Absolute A1 of the hidden helper cell holding input ``name`` as a number (``$I$21``)."""
        return f"${self.helper_column}${self.addresses[name][0] + 1}"

    @property
    def quarter_helper_a1(self) -> str:
        """Absolute A1 of the hidden helper cell holding the cover's reporting quarter (1–4; 4 if unreadable)."""
        return f"${self.helper_column}${QUARTER_HELPER_ROW + 1}"

    def helped_fields(self) -> list[FieldSpec]:
        """Inputs whose formulas read them through a helper cell (numbers and level quarters)."""
        return [f for f in self.fields.values() if f.type in HELPED_TYPES]

    @property
    def addresses(self) -> dict[str, tuple[int, int]]:
        """Defined name → (row, col), 0-based, as laid out by the writer."""
        return self._addresses

    def a1(self, name: str) -> str:
        row, col = self.addresses[name]
        return f"{COLUMNS[col]}{row + 1}"

    def fields_for(self, scoring: str) -> list[FieldSpec]:
        return [f for f in self.fields.values() if f.applies(scoring)]

    def quarter_fields(self, quarter: int) -> list[FieldSpec]:
        return [f for f in self.fields.values() if f.quarter == quarter]

    def names_from(self, version: str) -> dict[str, str | None]:
        """Defined name in a workbook of template ``version`` → its name in this version (None: dropped).

        Walks ``renamed`` through ``known_versions`` from ``version`` up to the current one, so each
        release declares only its own step. Names not mentioned keep their name. Raises ``KeyError``
        for a version this spec does not know.
        """
        if version not in self.known_versions:
            raise KeyError(version)
        mapping: dict[str, str | None] = {}
        introduced: set[str] = set()  # names a later version made up: the old workbook never had them
        later = self.known_versions[self.known_versions.index(version) + 1:]
        for step in later:
            renames = self.renamed.get(step, {})
            for old, current in list(mapping.items()):
                if current is not None and current in renames:
                    mapping[old] = renames[current]
            for old, new in renames.items():
                if old not in introduced:
                    mapping.setdefault(old, new)
            introduced |= {new for new in renames.values() if new is not None}
        return mapping

    @property
    def meta_sheet(self) -> str:
        return self.sheets["meta"]


SPEC_FILE = "form_spec.yaml"
COMPILED_FILE = "form_spec.json"
"""The YAML's data as JSON, with ``yaml_sha256`` (the YAML text's digest) and ``spec`` (the data)."""


def _templates() -> Path:
    """The folder of the shipped spec files (``kpi_xl.workbook_templates``), found from the package's
    own ``__file__``: cheaper on the button's path than ``importlib.resources``, whose import (and,
    for an editable install, the finder's resource reader) costs a few ms per press."""
    from . import workbook_templates

    if workbook_templates.__file__ is not None:
        return Path(workbook_templates.__file__).parent
    from importlib import resources  # pragma: no cover - a zipped or namespace install

    return Path(str(resources.files("kpi_xl.workbook_templates")))  # pragma: no cover


def _yaml_data(text: str) -> Any:
    import yaml  # only when the JSON twin is missing or stale: not on the button's usual path

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~30 ms less than pure Python
    return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def spec_data(folder: Path | None = None) -> Any:
    """The YAML spec's data: from ``form_spec.json`` when it was made from this very YAML text,
    else parsed from the YAML (a missing, unreadable or stale JSON only costs time)."""
    folder = folder or _templates()
    text = (folder / SPEC_FILE).read_text(encoding="utf-8")
    try:
        compiled = json.loads((folder / COMPILED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        compiled = None
    if isinstance(compiled, dict) and compiled.get("yaml_sha256") == _digest(text) and "spec" in compiled:
        return compiled["spec"]
    return _yaml_data(text)


def compiled_spec_text(folder: Path | None = None) -> str:
    """What ``form_spec.json`` must hold for the YAML in ``folder`` (the shipped one by default)."""
    folder = folder or _templates()
    text = (folder / SPEC_FILE).read_text(encoding="utf-8")
    data = {"yaml_sha256": _digest(text), "spec": _yaml_data(text)}
    # allow_nan=False and no default=: a YAML value JSON cannot carry (a date) fails here, loudly.
    return json.dumps(data, ensure_ascii=False, indent=1, allow_nan=False) + "\n"


def write_compiled_spec(folder: Path | None = None) -> Path:
    """Write ``form_spec.json`` beside the YAML (after every edit of the YAML)."""
    folder = folder or _templates()
    path = folder / COMPILED_FILE
    path.write_text(compiled_spec_text(folder), encoding="utf-8")
    return path


@cache
def load_spec() -> FormSpec:
    return FormSpec.model_validate(spec_data())


if __name__ == "__main__":  # python -m kpi_xl.form: refresh form_spec.json after editing the YAML
    print(write_compiled_spec())
