"""The indicator catalog: Excel and YAML read to the same model; every error located, all at once."""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import pytest
import yaml

from kpi_xl import catalog as cat_mod
from kpi_xl.catalog import INDICATOR_COLUMNS, INDICATOR_SHEET, Catalog, Direction, Scoring, column_letter
from kpi_xl.problems import REGISTRY, KpiError

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_YAML = ROOT / "workbook_templates" / "catalog_2564.yaml"
SAMPLE_XLSX = ROOT / "workbook_templates" / "catalog_2564.xlsx"
SEED_NAME = "ระดับความสำเร็จของการสร้างเครือข่ายประชาสังคมเพื่อร่วมผลักดันการพัฒนาพื้นที่"


@pytest.fixture(scope="module")
def sample() -> Catalog:
    return cat_mod.load(SAMPLE_YAML)


def col(key: str) -> int:
    """1-based column of a catalog key, as openpyxl counts."""
    return [k for k, *_ in INDICATOR_COLUMNS].index(key) + 1


def letter(key: str) -> str:
    return column_letter(col(key) - 1)


def edit_xlsx(tmp_path: Path, edits: dict[tuple[int, str], object]) -> Path:
    """A copy of the sample catalog with cells changed as head office would in Excel."""
    path = tmp_path / "catalog.xlsx"
    shutil.copy(SAMPLE_XLSX, path)
    wb = openpyxl.load_workbook(path)
    ws = wb[INDICATOR_SHEET[0]]
    for (row, key), value in edits.items():
        ws.cell(row=row, column=col(key)).value = value
    wb.save(path)
    return path


def codes(exc: pytest.ExceptionInfo[KpiError]) -> list[str]:
    return [p.code for p in exc.value.problems]


# --- the sample -------------------------------------------------------------------------------


def test_sample_catalog_meets_the_brief(sample: Catalog) -> None:
    assert sample.fiscal_year == 2564
    assert len(sample.indicators) >= 12
    assert {i.dimension for i in sample.indicators} == set(range(1, 8))
    kinds = [i.scoring for i in sample.indicators]
    assert kinds.count(Scoring.MILESTONE) >= 3
    assert kinds.count(Scoring.THRESHOLDS) >= 4
    assert kinds.count(Scoring.PASS_FAIL) >= 1
    assert any(i.scoring is Scoring.THRESHOLDS and i.direction is Direction.LOWER for i in sample.indicators)
    assert any(i.districts != "all" for i in sample.indicators)
    assert sum(i.weight for i in sample.indicators) == pytest.approx(100)
    seed = next(i for i in sample.indicators if i.name_th == SEED_NAME)
    assert (seed.scoring, seed.target, seed.dimension, len(seed.levels)) == (Scoring.MILESTONE, 5, 5, 5)
    assert cat_mod.catalog_warnings(sample) == []


def test_excel_and_yaml_samples_are_the_same_catalog(sample: Catalog) -> None:
    assert cat_mod.load(SAMPLE_XLSX) == sample
    assert cat_mod.load(SAMPLE_XLSX).content_hash == sample.content_hash


def test_round_trip_excel_yaml_excel(sample: Catalog, tmp_path: Path) -> None:
    xlsx = cat_mod.to_xlsx(sample, tmp_path / "a.xlsx")
    from_xlsx = cat_mod.load(xlsx)
    yml = cat_mod.to_yaml(from_xlsx, tmp_path / "a.yaml")
    from_yaml = cat_mod.load(yml)
    assert from_xlsx == sample == from_yaml
    again = cat_mod.to_xlsx(from_yaml, tmp_path / "b.xlsx")
    assert again.read_bytes() == xlsx.read_bytes()  # reproducible bytes


def test_content_hash_is_stable_and_sensitive(sample: Catalog) -> None:
    same = Catalog.model_validate(sample.model_dump())
    assert same.content_hash == sample.content_hash
    changed = sample.model_copy(update={"indicators": [sample.indicators[0].model_copy(update={"target": 99})]
                                        + sample.indicators[1:]})
    assert changed.content_hash != sample.content_hash
    assert len(sample.content_hash) == 64


def test_thai_synonyms_and_thai_digits_are_read(tmp_path: Path) -> None:
    path = edit_xlsx(tmp_path, {(2, "direction"): "มากดี", (2, "weight"): "๑๐", (2, "result_type"): "ผลผลิต"})
    ind = cat_mod.load(path).indicators[0]
    assert (ind.direction, ind.weight, ind.result_type.value) == (Direction.HIGHER, 10, "output")


def test_dimension_label_as_the_form_prints_it(sample: Catalog) -> None:
    assert sample.dimension(5).label_th == "ด้านที่ ๕ - มหานครประชาธิปไตย : Bangkok as a Democratic City"


# --- every error, located ---------------------------------------------------------------------


def row_of(sample: Catalog, code: str) -> int:
    return [i.code for i in sample.indicators].index(code) + 2


def test_thresholds_out_of_order_is_located(sample: Catalog, tmp_path: Path) -> None:
    r = row_of(sample, "KPI-03")
    with pytest.raises(KpiError) as exc:
        cat_mod.load(edit_xlsx(tmp_path, {(r, "t3"): 5000}))
    assert codes(exc) == ["KPI-C022"]
    p = exc.value.problems[0]
    assert p.message_th.startswith(f"[{INDICATOR_SHEET[0]}!{letter('t1')}{r}]")
    assert p.message_en.startswith(f"[sheet 'indicators', row {r}, column 'thresholds']")


def test_lower_is_better_needs_decreasing_thresholds(sample: Catalog, tmp_path: Path) -> None:
    r = row_of(sample, "KPI-04")  # complaints: lower is better
    with pytest.raises(KpiError) as exc:
        cat_mod.load(edit_xlsx(tmp_path, {(r, "direction"): "higher"}))
    assert codes(exc) == ["KPI-C022"]
    assert "increasing, equal neighbours allowed" in exc.value.problems[0].message_en


def test_equal_adjacent_thresholds_are_a_step(sample: Catalog, tmp_path: Path) -> None:
    """t2 = t3 is legitimate: a value at that threshold gets the higher score (3), no division by 0."""
    from kpi_xl import scoring

    r = row_of(sample, "KPI-03")  # 600, 800, 1000, 1200, 1400 → 600, 800, 800, 1200, 1400
    cat = cat_mod.load(edit_xlsx(tmp_path, {(r, "t3"): 800}))
    ind = cat.indicator("KPI-03")
    assert ind.thresholds == [600, 800, 800, 1200, 1400]
    assert scoring.score_indicator(ind, result_value=800).value == 3
    assert scoring.score_indicator(ind, result_value=700).value == 1.5
    assert scoring.score_indicator(ind, result_value=1000).value == 3.5


def test_milestone_target_above_five_is_an_error(sample: Catalog, tmp_path: Path) -> None:
    r = row_of(sample, "KPI-05")
    with pytest.raises(KpiError) as exc:
        cat_mod.load(edit_xlsx(tmp_path, {(r, "target"): 6}))
    assert codes(exc) == ["KPI-C029"]
    assert "outside the scale 0–5" in exc.value.problems[0].message_en


def test_milestone_needs_five_levels(sample: Catalog, tmp_path: Path) -> None:
    r = row_of(sample, "KPI-05")
    with pytest.raises(KpiError) as exc:
        cat_mod.load(edit_xlsx(tmp_path, {(r, "level_4"): None}))
    assert codes(exc) == ["KPI-C023"]
    assert "found 4" in exc.value.problems[0].message_en


def test_unknown_dimension(sample: Catalog, tmp_path: Path) -> None:
    r = row_of(sample, "KPI-01")
    with pytest.raises(KpiError) as exc:
        cat_mod.load(edit_xlsx(tmp_path, {(r, "dimension"): 8}))
    assert codes(exc) == ["KPI-C021"]
    assert exc.value.problems[0].message_th.startswith(f"[{INDICATOR_SHEET[0]}!{letter('dimension')}{r}]")


def test_duplicate_code(sample: Catalog, tmp_path: Path) -> None:
    with pytest.raises(KpiError) as exc:
        cat_mod.load(edit_xlsx(tmp_path, {(7, "code"): "KPI-02"}))
    assert codes(exc) == ["KPI-C020"]
    assert "row 3" in exc.value.problems[0].message_en


@pytest.mark.parametrize("weight", [0, -5])
def test_weight_must_be_positive(sample: Catalog, tmp_path: Path, weight: int) -> None:
    r = row_of(sample, "KPI-06")
    with pytest.raises(KpiError) as exc:
        cat_mod.load(edit_xlsx(tmp_path, {(r, "weight"): weight}))
    assert codes(exc) == ["KPI-C024"]
    assert exc.value.problems[0].location.cell == f"{letter('weight')}{r}"


def test_all_errors_at_once_not_the_first_only(sample: Catalog, tmp_path: Path) -> None:
    path = edit_xlsx(tmp_path, {
        (row_of(sample, "KPI-01"), "dimension"): 9,
        (row_of(sample, "KPI-03"), "t2"): 1,
        (row_of(sample, "KPI-06"), "weight"): 0,
        (row_of(sample, "KPI-08"), "level_5"): None,
        (row_of(sample, "KPI-10"), "scoring"): "guess",
        (row_of(sample, "KPI-12"), "target"): "สิบ",
        (row_of(sample, "KPI-11"), "code"): "KPI-05",
        (row_of(sample, "KPI-02"), "districts"): "1001,9999",
    })
    with pytest.raises(KpiError) as exc:
        cat_mod.load(path)
    assert sorted(codes(exc)) == sorted(
        ["KPI-C021", "KPI-C022", "KPI-C024", "KPI-C023", "KPI-C011", "KPI-C012", "KPI-C020", "KPI-C025"]
    )
    assert all(p.location.row and p.location.cell for p in exc.value.problems)


def test_missing_required_value_and_missing_column(sample: Catalog, tmp_path: Path) -> None:
    with pytest.raises(KpiError) as exc:
        cat_mod.load(edit_xlsx(tmp_path, {(4, "name_th"): None}))
    assert codes(exc) == ["KPI-C010"]
    path = tmp_path / "nocol.xlsx"
    shutil.copy(SAMPLE_XLSX, path)
    wb = openpyxl.load_workbook(path)
    wb[INDICATOR_SHEET[0]].delete_cols(col("weight"))
    wb.save(path)
    with pytest.raises(KpiError) as exc:
        cat_mod.load(path)
    assert codes(exc) == ["KPI-C003"]
    assert "'weight'" in exc.value.problems[0].message_en


def test_yaml_errors_are_located_too(tmp_path: Path) -> None:
    data = yaml.safe_load(SAMPLE_YAML.read_text(encoding="utf-8"))
    data["indicators"][2]["weight"] = 0
    data["indicators"][4]["levels"] = data["indicators"][4]["levels"][:3]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(KpiError) as exc:
        cat_mod.load(path)
    assert sorted(codes(exc)) == ["KPI-C023", "KPI-C024"]
    assert "[bad.yaml!indicators[3].weight]" in exc.value.problems[1].message_th + exc.value.problems[0].message_th


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04garbage", b"not: [valid"])
def test_unreadable_catalog_files(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / ("c.yaml" if content.startswith(b"not") else "c.xlsx")
    path.write_bytes(content)
    with pytest.raises(KpiError) as exc:
        cat_mod.load(path)
    assert codes(exc) == ["KPI-C001"]
    assert str(path) in exc.value.problems[0].message_en


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KpiError) as exc:
        cat_mod.load(tmp_path / "nope.xlsx")
    assert codes(exc) == ["KPI-C001"]


def test_weights_not_summing_to_100_is_a_warning(sample: Catalog) -> None:
    lighter = sample.model_copy(update={"indicators": sample.indicators[:-1]})
    warnings = cat_mod.catalog_warnings(lighter)
    assert [w.code for w in warnings] == ["KPI-C026"]
    assert REGISTRY["KPI-C026"].severity.value == "warning"
