"""The windows of a month's training: in time order, figures only on rows no choice saw."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from ml.dataset import training_rows
from ml.windows import figures_untouched_by_choices, plan_windows, training_windows
from warehouse.database import connect


def test_the_windows_run_in_time_order_and_figures_sit_on_rows_no_choice_saw(built_warehouse):
    with connect(built_warehouse.warehouse, read_only=True) as connection:
        january, october = training_rows(connection, date(2021, 1, 1)), training_rows(connection, date(2020, 10, 1))
    plan = plan_windows(january)
    months = pd.to_datetime(january["application_month"]).dt.date
    assert set(months[plan.validation]) == {date(2020, 12, 1)} and set(months[plan.tuning]) == {date(2020, 11, 1)}
    assert not (plan.before_validation & plan.validation).any() and (plan.before_validation >= plan.tuning).all()
    assert set(months[plan.before_tuning].dropna()) == {date(2020, 10, 1)}
    # Before any month: the latest tenth of the history validates, the tenth before it tunes.
    history = plan_windows(october)
    ids = october["sk_id_curr"]
    assert ids[history.validation].min() > ids[history.tuning].max() > ids[history.before_tuning].max()
    assert history.validation.sum() == pytest.approx(0.1 * len(october), abs=1)
    windows = training_windows(january, plan)
    assert [w.name for w in windows] == ["tuning_fit", "tuning", "validation_fit", "validation", "deployed_fit"]
    assert figures_untouched_by_choices(windows)
    tuning, validation = windows[1], windows[3]
    assert not validation.overlaps(tuning) and validation.overlaps(windows[4])
