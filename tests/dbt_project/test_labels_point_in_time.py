"""Outcomes delivered later: used by the models after their month's, never before.

A model is trained ahead, when the month before it is published: an outcome file dated M
arrives with M's applications, after M's model was trained, so it counts from M+1's model on.

Months arrive without TARGET; `outcomes_YYYYMM01.csv` files bring the outcomes of earlier
months, one also correcting a history label. Built with real dbt, read through the same
training-row query the model uses.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from ml.dataset import training_rows
from tests.conftest import run_dbt
from warehouse.database import connect
from warehouse.ingestion.delivery_names import month_file_name, outcomes_file_name
from warehouse.ingestion.inbox import load_month_from_inbox
from warehouse.ingestion.loader import load_delivery
from warehouse.paths import DataPaths

OCTOBER, NOVEMBER, DECEMBER, JANUARY = date(2020, 10, 1), date(2020, 11, 1), date(2020, 12, 1), date(2021, 1, 1)
FEBRUARY = date(2021, 2, 1)

# A dbt build of its own, with outcome files arriving month by month.
pytestmark = pytest.mark.slow


def ids(frame: pd.DataFrame) -> set[int]:
    return set(frame["SK_ID_CURR"].astype(int))


@pytest.fixture(scope="module")
def outcomes_warehouse(deliveries_dir, tmp_path_factory) -> tuple[DataPaths, dict]:
    paths = DataPaths(tmp_path_factory.mktemp("outcomes")).create()
    months = {month: pd.read_csv(deliveries_dir / month_file_name(month)) for month in (OCTOBER, NOVEMBER, DECEMBER)}
    history = pd.read_csv(deliveries_dir / "initial.csv")
    corrected_id = int(history["SK_ID_CURR"].iloc[0])
    corrected_label = 1 - int(history["TARGET"].iloc[0])
    for month, frame in months.items():
        frame.drop(columns=["TARGET"]).to_csv(paths.inbox / month_file_name(month), index=False)
    history.to_csv(paths.inbox / "initial.csv", index=False)
    # October's outcomes arrive on 1 December; November's, with a correction of one history label, on 1 January.
    months[OCTOBER][["SK_ID_CURR", "TARGET"]].to_csv(paths.inbox / outcomes_file_name(DECEMBER), index=False)
    pd.concat(
        [
            months[NOVEMBER][["SK_ID_CURR", "TARGET"]],
            pd.DataFrame({"SK_ID_CURR": [corrected_id], "TARGET": [corrected_label]}),
        ]
    ).to_csv(paths.inbox / outcomes_file_name(JANUARY), index=False)

    loaded_by_month = {}
    for month in (OCTOBER, NOVEMBER, DECEMBER):
        results = load_month_from_inbox(paths, month)
        loaded_by_month[month] = [r.delivery.file_name for r in results if r.status != "unchanged"]
    load_delivery(paths.inbox / outcomes_file_name(JANUARY), paths)
    # What a training set reads, and all it is built from, with their tests.
    command = ["build", "--select", "+fct_application_features", "+fct_application_labels", "+int_labels_known_today"]
    result = run_dbt(command, paths.root, paths.root / "dbt_target")
    assert result.returncode == 0, result.stdout[-3000:]
    facts = {"months": months, "corrected": (corrected_id, corrected_label), "loaded_by_month": loaded_by_month}
    return paths, facts


def test_a_months_run_loads_only_the_outcome_files_dated_by_then(outcomes_warehouse):
    _, facts = outcomes_warehouse
    assert facts["loaded_by_month"] == {
        OCTOBER: ["initial.csv", "20201001.csv"],
        NOVEMBER: ["20201101.csv"],
        DECEMBER: ["20201201.csv", "outcomes_20201201.csv"],
    }


def test_training_sets_use_outcomes_from_the_month_after_their_delivery_on(outcomes_warehouse):
    paths, facts = outcomes_warehouse
    months = facts["months"]
    with connect(paths.warehouse, read_only=True) as connection:
        sets = {month: training_rows(connection, month) for month in (DECEMBER, JANUARY, FEBRUARY)}
    trained_on = {month: set(frame["sk_id_curr"]) for month, frame in sets.items()}
    # December's model, trained when November was published, knows no monitored month's outcome: October's
    # arrive with December. January's knows October's; February's also November's (delivered with January).
    assert not trained_on[DECEMBER] & (ids(months[OCTOBER]) | ids(months[NOVEMBER]))
    assert ids(months[OCTOBER]) <= trained_on[JANUARY] and not trained_on[JANUARY] & ids(months[NOVEMBER])
    assert ids(months[OCTOBER]) | ids(months[NOVEMBER]) <= trained_on[FEBRUARY]
    assert not trained_on[FEBRUARY] & ids(months[DECEMBER]), "December has no outcomes yet"
    january = sets[JANUARY].set_index("sk_id_curr")
    expected = months[OCTOBER].set_index("SK_ID_CURR")["TARGET"]
    assert (january.loc[expected.index, "target"] == expected).all()
    assert set(january.loc[expected.index, "label_source"]) == {"outcomes_20201201.csv"}


def test_a_corrected_label_counts_from_the_model_after_its_delivery_on(outcomes_warehouse):
    paths, facts = outcomes_warehouse
    corrected_id, corrected_label = facts["corrected"]
    with connect(paths.warehouse, read_only=True) as connection:
        before = training_rows(connection, JANUARY).set_index("sk_id_curr").loc[corrected_id, "target"]
        after = training_rows(connection, FEBRUARY).set_index("sk_id_curr").loc[corrected_id, "target"]
    assert (before, after) == (1 - corrected_label, corrected_label)
