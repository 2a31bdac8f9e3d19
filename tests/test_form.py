"""The form spec's JSON twin (``form_spec.json``): the Excel button loads it instead of parsing the
YAML, so it must always say what the YAML says, and a stale one must never be used."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from kpi_xl import form


def test_compiled_spec_is_current() -> None:
    """After editing form_spec.yaml run ``python -m kpi_xl.form``; this test says when it was forgotten."""
    folder = form._templates()
    assert (folder / form.COMPILED_FILE).read_text(encoding="utf-8") == form.compiled_spec_text(folder)


def test_compiled_spec_gives_the_same_form_as_the_yaml() -> None:
    folder = form._templates()
    from_yaml = form.FormSpec.model_validate(form._yaml_data((folder / form.SPEC_FILE).read_text(encoding="utf-8")))
    assert form.load_spec() == from_yaml
    assert form.load_spec().addresses == from_yaml.addresses


def test_stale_or_broken_json_falls_back_to_the_yaml(tmp_path: Path) -> None:
    folder = form._templates()
    shutil.copy(folder / form.SPEC_FILE, tmp_path / form.SPEC_FILE)
    expected = form._yaml_data((folder / form.SPEC_FILE).read_text(encoding="utf-8"))
    assert form.spec_data(tmp_path) == expected  # no JSON at all
    stale = {"yaml_sha256": "0" * 64, "spec": {"title": "stale"}}
    (tmp_path / form.COMPILED_FILE).write_text(json.dumps(stale), encoding="utf-8")
    assert form.spec_data(tmp_path) == expected  # made from another YAML text: not used
    (tmp_path / form.COMPILED_FILE).write_text("{not json", encoding="utf-8")
    assert form.spec_data(tmp_path) == expected
    form.write_compiled_spec(tmp_path)
    assert form.spec_data(tmp_path) == expected
    assert json.loads((tmp_path / form.COMPILED_FILE).read_text(encoding="utf-8"))["spec"] == expected
    # The YAML edited after the JSON was written: the edit wins, the JSON is ignored.
    text = (tmp_path / form.SPEC_FILE).read_text(encoding="utf-8")
    edited = text.replace("\nhelper_column: I\n", "\nhelper_column: J\n", 1)
    assert edited != text
    (tmp_path / form.SPEC_FILE).write_text(edited, encoding="utf-8")
    assert form.spec_data(tmp_path)["helper_column"] == "J"
