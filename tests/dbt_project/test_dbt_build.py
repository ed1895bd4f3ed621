"""The dbt project on a small generated warehouse: build, contract, one-hot columns, docs."""

from __future__ import annotations

import ast
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml

from assets.dbt_project import PARSE_CACHE
from ml.dataset import BUILD_COLUMNS, NON_FEATURE_COLUMNS, scoring_rows, training_rows
from tests.conftest import run_dbt
from warehouse.database import connect
from warehouse.ingestion.contract import COLUMNS, TEXT
from warehouse.ingestion.loader import load_delivery
from warehouse.paths import DBT_PROJECT_DIR, DataPaths
from warehouse.sample_data import levels

CONTRACT_YML = DBT_PROJECT_DIR / "models" / "marts" / "fct_application_features.yml"


def contract_columns() -> list[str]:
    model = yaml.safe_load(CONTRACT_YML.read_text())["models"][0]
    return [column["name"] for column in model["columns"]]


def mart_columns(paths: DataPaths) -> list[str]:
    with connect(paths.warehouse, read_only=True) as connection:
        return [row[0] for row in connection.execute("describe marts.fct_application_features").fetchall()]


def test_the_feature_mart_has_the_contract_columns_and_every_row(built_warehouse):
    assert mart_columns(built_warehouse) == contract_columns()
    with connect(built_warehouse.warehouse, read_only=True) as connection:
        raw_rows = connection.execute("select count(*) from raw.applications").fetchone()[0]
        mart_rows, unseen, anomalies = connection.execute(
            "select count(*), sum(organization_type__unseen), sum(days_employed_anomaly)"
            " from marts.fct_application_features"
        ).fetchone()
        text_columns = connection.execute(
            "select column_name from information_schema.columns where table_schema = 'marts'"
            " and table_name = 'fct_application_features' and data_type = 'VARCHAR'"
        ).fetchall()
    assert mart_rows == raw_rows
    assert unseen == 0 and anomalies > 0
    assert text_columns == [("delivery_file",)], "the model reads numbers only: the delivery is bookkeeping"
    assert "delivery_file" in BUILD_COLUMNS


def test_features_include_the_articles_columns_and_the_ratios(built_warehouse):
    columns = set(mart_columns(built_warehouse))
    article_columns = {
        "ext_source_1",
        "ext_source_2",
        "ext_source_3",
        "days_birth",
        "days_employed",
        "amt_credit",
        "amt_annuity",
        "amt_goods_price",
        "amt_income_total",
        "days_id_publish",
        "days_registration",
        "days_last_phone_change",
        "region_population_relative",
        "own_car_age",
        "region_rating_client_w_city",
        "cnt_fam_members",
        "code_gender__f",
        "code_gender__m",
        "name_education_type__higher_education",
        "name_contract_type__cash_loans",
    }
    ratios = {
        "credit_to_income_ratio",
        "annuity_to_income_ratio",
        "annuity_to_credit_ratio",
        "credit_to_goods_price_ratio",
        "employed_to_age_ratio",
    }
    assert article_columns | ratios <= columns


NEVER_SEEN = {"NAME_CONTRACT_TYPE": "Buy now pay later", "FLAG_OWN_CAR": "Maybe", "FLAG_OWN_REALTY": "Maybe"}
TEXT_COLUMNS = [name for name, sql_type in COLUMNS if sql_type == TEXT]
NEW_LEVEL_ROWS = slice(20, 45)  # 25 applications with a new organisation type and income type


@dataclass(frozen=True)
class Redelivered:
    paths: DataPaths
    month: pd.DataFrame
    dbt_output: str
    expected_unseen: dict[tuple[str, str], int]  # (column, value): applications
    target: Path  # dbt's target folder of the build after the redelivery


@pytest.fixture(scope="module")
def january_with_new_values(built_warehouse, deliveries_dir, tmp_path_factory) -> Redelivered:
    """A copy of the built warehouse, January redelivered with values never seen before, and `dbt build` again.

    Rows 0-15 each bring a new value in one of the 16 text columns, row 16 the new contract type
    again (so counts are checked), and rows 20-44 a new organisation type and income type.
    """
    month = pd.read_csv(deliveries_dir / "20210101.csv")
    expected = {}
    for row, column in enumerate(TEXT_COLUMNS):  # one column per row
        value = NEVER_SEEN.get(column, f"New {column.lower()}")
        month.loc[month.index[row], column] = value
        expected[(column.lower(), value)] = 1
    month.loc[month.index[len(TEXT_COLUMNS)], "NAME_CONTRACT_TYPE"] = NEVER_SEEN["NAME_CONTRACT_TYPE"]
    expected[("name_contract_type", NEVER_SEEN["NAME_CONTRACT_TYPE"])] = 2
    month.loc[month.index[NEW_LEVEL_ROWS], "ORGANIZATION_TYPE"] = "Space agency"
    month.loc[month.index[NEW_LEVEL_ROWS], "NAME_INCOME_TYPE"] = "Gig worker"
    expected[("organization_type", "Space agency")] = expected[("name_income_type", "Gig worker")] = 25

    root = tmp_path_factory.mktemp("january_with_new_values")
    paths = DataPaths(root / "data").create()
    shutil.copy(built_warehouse.warehouse, paths.warehouse)
    changed = root / "redelivery" / "20210101.csv"
    changed.parent.mkdir()
    month.to_csv(changed, index=False)
    load_delivery(changed, paths)
    # As a month's run builds (assets/dbt_models.py PRODUCTION_BUILD): the unit tests ran in the whole build.
    result = run_dbt(["build", "--exclude-resource-type", "unit_test"], paths.root, root / "target")
    assert result.returncode == 0, result.stdout[-3000:]
    return Redelivered(paths, month, result.stdout, expected, root / "target")


@pytest.mark.slow  # a dbt build of its own, shared with the next test
def test_a_never_seen_level_gives_the_same_columns_and_lands_in_unseen(january_with_new_values):
    paths, month = january_with_new_values.paths, january_with_new_values.month
    with connect(paths.warehouse, read_only=True) as connection:
        training = training_rows(connection, pd.Timestamp("2021-01-01").date())
        scoring = scoring_rows(connection, pd.Timestamp("2021-01-01").date())
    features = [column for column in contract_columns() if column not in BUILD_COLUMNS]
    assert list(scoring.columns) == features + ["target"], "the mart's bookkeeping is never read"
    assert list(training.columns) == list(scoring.columns) + ["label_source"], "where each label came from"
    new_levels = scoring[scoring["sk_id_curr"].isin(month["SK_ID_CURR"].iloc[NEW_LEVEL_ROWS])]
    assert len(new_levels) == 25
    assert (new_levels["organization_type__unseen"] == 1).all()
    assert (new_levels["name_income_type__unseen"] == 1).all()
    one_hot_organisation = [
        c for c in scoring.columns if c.startswith("organization_type__") and c != "organization_type__unseen"
    ]
    assert (new_levels[one_hot_organisation].sum(axis=1) == 0).all()
    assert not set(NON_FEATURE_COLUMNS) - set(training.columns)


@pytest.mark.slow  # the previous test's dbt build
def test_a_never_seen_value_in_any_text_column_warns_and_is_listed(built_warehouse, january_with_new_values):
    with connect(built_warehouse.warehouse, read_only=True) as connection:
        assert connection.execute("select count(*) from monitoring.unseen_levels").fetchone()[0] == 0
    assert len(TEXT_COLUMNS) == 16
    paths, month = january_with_new_values.paths, january_with_new_values.month
    warned = [line for line in january_with_new_values.dbt_output.splitlines() if "WARN" in line]
    for column in TEXT_COLUMNS:
        assert any(f"in_fixed_levels_raw_applications_{column.lower()}" in line for line in warned), column
    for flag in ("flag_own_car", "flag_own_realty"):
        assert any(f"not_null_stg_home_credit__applications_{flag}" in line for line in warned), flag
    assert "ERROR=0" in january_with_new_values.dbt_output

    with connect(paths.warehouse, read_only=True) as connection:
        unseen = connection.execute(
            "select application_month, column_name, value, applications from monitoring.unseen_levels"
        ).fetchall()
        features = connection.execute(
            "select * from marts.fct_application_features where application_month = date '2021-01-01'"
        ).df()
    assert {row[0] for row in unseen} == {pd.Timestamp("2021-01-01").date()}
    assert {(column, value): applications for _, column, value, applications in unseen} == (
        january_with_new_values.expected_unseen
    )
    # Each new level of a one-hot column lands in its `__unseen` column.
    by_id = features.set_index("sk_id_curr")
    for row, column in enumerate(TEXT_COLUMNS):
        if column.lower() in one_hot_macro_levels():
            assert by_id.loc[month["SK_ID_CURR"].iloc[row], f"{column.lower()}__unseen"] == 1, column


@pytest.mark.slow  # a dbt build of its own
def test_the_contract_fails_the_build_when_sql_and_yml_disagree(built_warehouse, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    model = project / "models" / "marts" / "fct_application_features.sql"
    model.write_text(model.read_text().replace("as ext_source_mean,", "as ext_source_average,"))
    paths = DataPaths(tmp_path / "data").create()
    shutil.copy(built_warehouse.warehouse, paths.warehouse)
    result = run_dbt(["run", "--select", "fct_application_features"], paths.root, tmp_path / "target", project)
    assert result.returncode != 0
    assert "ext_source_average" in result.stdout and "contract" in result.stdout.lower()


@pytest.mark.slow  # a dbt build of its own
def test_docs_generate_writes_the_catalog(built_warehouse, tmp_path):
    target = tmp_path / "docs_target"
    target.mkdir()
    # The build's parse cache: the same project and profile, so dbt parses only what changed (nothing).
    shutil.copy(built_warehouse.root / "dbt_target" / PARSE_CACHE, target)
    result = run_dbt(["docs", "generate"], built_warehouse.root, target)
    assert result.returncode == 0, result.stdout[-2000:]
    assert (target / "catalog.json").exists() and (target / "index.html").exists()
    catalog = (target / "catalog.json").read_text()
    assert "fct_application_features" in catalog and "stg_home_credit__applications" in catalog


def one_hot_macro_levels() -> dict[str, list[str]]:
    macro = (DBT_PROJECT_DIR / "macros" / "one_hot.sql").read_text()
    literal = macro[macro.index("return({") + len("return(") : macro.index("}) }}") + 1]
    return ast.literal_eval(literal)


def test_every_level_of_the_source_has_a_one_hot_column_or_is_a_null_marker():
    macro_levels = one_hot_macro_levels()
    yes_no_flags = {"FLAG_OWN_CAR", "FLAG_OWN_REALTY"}
    for column, counts in levels.CATEGORICAL_LEVELS.items():
        if column in yes_no_flags:
            continue
        expected = set(counts) - set(levels.NULL_MARKERS)
        assert set(macro_levels[column.lower()]) == expected, column
    slugs = [
        f"{c}__{re.sub('[^a-z0-9]+', '_', level.lower()).strip('_')}" for c, ls in macro_levels.items() for level in ls
    ]
    assert len(slugs) == len(set(slugs)), "two levels share a column name"
    assert set(slugs) <= set(contract_columns())


@pytest.mark.slow  # the redelivery's dbt build
def test_a_build_after_a_redelivery_replaces_only_that_deliverys_rows(built_warehouse, january_with_new_values):
    executed = (
        january_with_new_values.target / "run" / "credit_default" / "models" / "marts" / "fct_application_features.sql"
    ).read_text()
    assert "delete from" in executed and not re.search(r"create\s+table", executed), "incremental, not rebuilt whole"
    query = (
        "select delivery_file, count(*), min(loaded_at) from marts.fct_application_features"
        " group by delivery_file order by delivery_file"
    )
    with connect(built_warehouse.warehouse, read_only=True) as connection:
        before = connection.execute(query).fetchall()
    with connect(january_with_new_values.paths.warehouse, read_only=True) as connection:
        after = connection.execute(query).fetchall()
    changed = [(old, new) for old, new in zip(before, after, strict=True) if old != new]
    assert [new[0] for _, new in changed] == ["20210101.csv"], "the other deliveries' rows were left as they were"
    [(old, new)] = changed
    assert new[1] == len(january_with_new_values.month) and new[2] > old[2], "January's rows: the new version's"
