"""Monitoring marts built by dbt after scoring: drift, fairness, realised performance, and their warnings.

Two months run through Dagster, the second one drifted by `credit generate --drift`'s
rule and carrying a value never seen before in each categorical column of the contract (one
column per application). Every figure the SQL computes is recomputed here in Python
(sklearn, numpy) on the same rows: the marts must agree, the drifted month alone must raise
drift warnings, and each new value must be scored and named.
"""

from __future__ import annotations

import json
from datetime import date

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from assets.month_runs import run_month
from assets.resources import WarehouseResource, default_resources
from ml.evaluation import ks
from ml.model_store import CARD_FILE, latest_card, model_dir, read_card
from ml.score_baseline import bin_index
from tests.conftest import run_dbt
from tests.system.conftest import NOVEMBER, OCTOBER, copy_of, quick_model
from warehouse.database import connect
from warehouse.dbt_vars import DRIFT_PSI_WARNING_VAR, dbt_var
from warehouse.ingestion.contract import COLUMN_TYPES, TEXT
from warehouse.model_definitions import forget_definitions
from warehouse.paths import DataPaths
from warehouse.publishing.notifications import read_notifications
from warehouse.publishing.predictions_table import scored_with_labels
from warehouse.sample_data.drift_drill import drift_rows

# What the drill changes, and what is computed from it (dbt's derived features).
DRIFTED = {
    "amt_income_total",
    "name_housing_type",
    "ext_source_2",
    "ext_source_3",
    "ext_source_mean",
    "credit_to_income_ratio",
    "annuity_to_income_ratio",
    "income_per_family_member",
    "score",
}


# Every text column of the raw-file contract but the drill's own new housing type; each gets a
# value never seen before on NEW_VALUE_ROWS applications of November, one column per application.
NEW_VALUE_COLUMNS = [name for name, kind in COLUMN_TYPES.items() if kind == TEXT and name != "NAME_HOUSING_TYPE"]
NEW_VALUE_ROWS = 4


def with_new_values(month_file: pd.DataFrame) -> pd.DataFrame:
    changed = month_file.copy()
    for number, column in enumerate(NEW_VALUE_COLUMNS):
        changed.loc[changed.index[number * NEW_VALUE_ROWS : (number + 1) * NEW_VALUE_ROWS], column] = f"New {column}"
    return changed


@pytest.fixture(scope="module")
def monitored(october_run, deliveries_dir, tmp_path_factory) -> DataPaths:
    """October as generated, then November drifted and with new values, each run through Dagster."""
    paths = copy_of(october_run.paths, tmp_path_factory.mktemp("monitoring") / "data")
    november = pd.read_csv(deliveries_dir / "20201101.csv")
    with_new_values(drift_rows(november, seed=1)).to_csv(paths.inbox / "20201101.csv", index=False)
    assert run_month(NOVEMBER, paths, quick_model()).success
    return paths


def _query(paths: DataPaths, sql: str, parameters: list | None = None) -> pd.DataFrame:
    with connect(paths.warehouse, read_only=True) as connection:
        return connection.execute(sql, parameters or []).df()


def test_only_the_drifted_month_warns_and_only_on_what_was_drifted(monitored):
    drift = _query(monitored, "select application_month, subject, psi from monitoring.drift")
    october = drift[drift["application_month"] == pd.Timestamp(OCTOBER)]
    november = drift[drift["application_month"] == pd.Timestamp(NOVEMBER)]
    assert len(october) == len(november) > 100, "every feature and the score, each month"
    psi_line = dbt_var(DRIFT_PSI_WARNING_VAR)
    assert october["psi"].max() < psi_line
    warned = set(november.loc[november["psi"] > psi_line, "subject"])
    assert {"amt_income_total", "name_housing_type", "ext_source_2"} <= warned
    # The score shifts too, measured against the model's out-of-sample scores: worth watching (PSI above 0.1).
    score_psi = drift.set_index(["application_month", "subject"])["psi"]
    assert score_psi[(pd.Timestamp(OCTOBER), "score")] < 0.1 < score_psi[(pd.Timestamp(NOVEMBER), "score")]
    assert warned <= DRIFTED, f"untouched features must not warn: {warned - DRIFTED}"
    drift_warnings = _query(
        monitored, "select application_month, subject from monitoring.monitoring_warnings where warning_kind = 'drift'"
    )
    assert set(drift_warnings["application_month"]) == {pd.Timestamp(NOVEMBER)}
    assert set(drift_warnings["subject"]) == warned, "the warnings model warns on what crosses the line, and only that"

    notifications = {n["month"]: n for n in read_notifications(monitored) if n["event"] == "run_succeeded"}
    assert "check_warnings" not in notifications["2020-10"]["details"]
    [warning] = [w for w in notifications["2020-11"]["details"]["check_warnings"] if w.startswith("monitoring/drift")]
    assert warning.startswith("monitoring/drift / drift_warnings (WARN)") and "amt_income_total" in warning
    assert (monitored.outbox / "pred_20201101.csv").exists(), "a warning never holds back the outbox"


def test_a_new_value_in_any_categorical_column_is_scored_warned_and_named(monitored, monkeypatch, capsys):
    from assets.command_line.main import main

    november = pd.read_csv(monitored.inbox / "20201101.csv")
    with connect(monitored.warehouse, read_only=True) as connection:
        scored = connection.execute("select * from scoring.predictions where application_month = ?", [NOVEMBER]).df()
    assert len(scored) == len(november), "the month with new values is scored whole"
    published = pd.read_csv(monitored.outbox / "pred_20201101.csv")
    assert len(published) == len(november)

    [notification] = [
        n for n in read_notifications(monitored) if n["event"] == "run_succeeded" and n["month"] == "2020-11"
    ]
    [warning] = [w for w in notification["details"]["check_warnings"] if "unseen_level_warnings" in w]
    monkeypatch.setenv("CREDIT_DATA_DIR", str(monitored.root))
    capsys.readouterr()
    assert main(["status"]) == 0
    status = capsys.readouterr().out
    for column in NEW_VALUE_COLUMNS:
        named = f"{column.lower()} 'New {column}' never seen before ({NEW_VALUE_ROWS} applications)"
        assert named in warning and f"new value: {named}" in status, column

    # A reason caused by a new value says so, with the value (tests/test_ml.py makes sure such reasons occur).
    ids = {
        column: november["SK_ID_CURR"].iloc[n * NEW_VALUE_ROWS : (n + 1) * NEW_VALUE_ROWS]
        for n, column in enumerate(NEW_VALUE_COLUMNS)
    }
    for column, applications in ids.items():
        rows = scored[scored["sk_id_curr"].isin(applications)]
        for slot in range(1, 5):
            for code, text in zip(rows[f"reason_code_{slot}"], rows[f"reason_{slot}"], strict=True):
                if code == column.lower():
                    assert text.endswith(f": a value never seen before (New {column})"), text


def test_score_psi_uses_the_models_training_window_bins(monitored):
    card = latest_card(monitored.models, NOVEMBER)
    scores = _query(
        monitored, "select default_probability from scoring.predictions where application_month = ?", [NOVEMBER]
    )
    probabilities = scores["default_probability"].to_numpy()
    actual = np.bincount(
        bin_index(np.array(card.score_baseline["cuts"]), probabilities), minlength=len(card.score_baseline["shares"])
    )
    actual = np.maximum(actual / len(probabilities), 1e-4)
    expected = np.maximum(np.array(card.score_baseline["shares"]), 1e-4)
    [[psi]] = _query(
        monitored, "select psi from monitoring.drift where application_month = ? and subject = 'score'", [NOVEMBER]
    ).to_numpy()
    assert psi == pytest.approx(float(((actual - expected) * np.log(actual / expected)).sum()), abs=1e-5)
    assert sum(card.score_baseline["shares"]) == pytest.approx(1.0)
    assert len(card.score_baseline["cuts"]) == 9, "deciles of the out-of-sample validation scores"


def _psi(counts: np.ndarray, expected_shares: list[float]) -> float:
    actual = np.maximum(counts / counts.sum(), 1e-4)
    expected = np.maximum(np.array(expected_shares), 1e-4)
    return float(((actual - expected) * np.log(actual / expected)).sum())


def test_feature_psi_recounts_from_the_bins_of_the_scoring_models_training_set(monitored):
    """Each month against the development sample of the model that scored it: its bins, fixed when it was trained."""
    [[version]] = _query(
        monitored, "select distinct model_version from scoring.predictions where application_month = ?", [NOVEMBER]
    ).to_numpy()
    card = read_card(monitored.models, version)
    baselines = {baseline["feature"]: baseline for baseline in card.feature_baseline}
    drift = _query(monitored, "select * from monitoring.drift where application_month = ?", [NOVEMBER])
    drift = drift.set_index("subject")
    assert set(drift.index) == set(baselines) | {"score"}, "every mart feature, binned at training"
    assert (drift["model_version"] == version).all()
    month = _query(monitored, "select * from marts.fct_application_features where application_month = ?", [NOVEMBER])

    income = baselines["amt_income_total"]
    values = month["amt_income_total"].astype(float).to_numpy()
    known = ~np.isnan(values)
    counts = np.bincount(bin_index(np.array(income["cuts"]), values[known]), minlength=len(income["cuts"]) + 1)
    income_counts = np.append(counts, (~known).sum())
    assert drift.loc["amt_income_total", "psi"] == pytest.approx(_psi(income_counts, income["shares"]), abs=1e-5)
    assert drift.loc["amt_income_total", "window_rows"] == income["rows"] == card.metrics["train_rows"]
    assert drift.loc["amt_income_total", "month_rows"] == len(month)

    housing = baselines["name_housing_type"]
    levels = np.array([month[f"name_housing_type__{level}"].sum() for level in housing["bins"][:-1]])
    assert levels[housing["bins"].index("unseen")] > 0, "the drill's new housing type is counted as unseen"
    housing_counts = np.append(levels, len(month) - levels.sum())
    assert drift.loc["name_housing_type", "psi"] == pytest.approx(_psi(housing_counts, housing["shares"]), abs=1e-5)
    assert drift.loc["name_housing_type", "bins"] == len(housing["bins"])


def test_fairness_covers_each_protected_attribute_and_age_band_and_matches_a_recount(monitored):
    fairness = _query(monitored, "select * from monitoring.fairness where application_month = ?", [NOVEMBER])
    assert set(fairness["group_column"]) == {"code_gender", "name_family_status", "age_band"}
    rows = _query(
        monitored,
        "select p.default_probability, p.decision, coalesce(a.code_gender, 'unknown') as gender, a.days_birth"
        " from scoring.predictions p join staging.stg_home_credit__applications a using (sk_id_curr)"
        " where p.application_month = ?",
        [NOVEMBER],
    )
    rows["approved"] = rows["decision"] == "approve"
    age = np.floor(-rows["days_birth"] / 365.25)
    rows["age_band"] = pd.cut(
        age, [-np.inf, 25, 35, 50, 62, np.inf], right=False, labels=["<25", "25-34", "35-49", "50-61", "62+"]
    ).astype(str)
    for column, recount_column in (("code_gender", "gender"), ("age_band", "age_band")):
        groups = fairness[fairness["group_column"] == column].set_index("group_value")
        counts = rows.groupby(recount_column).size()
        approval = rows.groupby(recount_column)["approved"].mean()
        assert groups["applications"].to_dict() == counts.to_dict()
        assert groups["approval_rate"].to_dict() == pytest.approx(approval.to_dict(), abs=1e-6)
        judged = counts[counts >= 100].index
        assert set(groups.index[groups["judged"]]) == set(judged)
        reference = approval[judged].idxmax()
        assert set(groups["reference_group"]) == {reference}, "the most approved group large enough to judge"
        assert groups["approval_rate_ratio"].to_dict() == pytest.approx(
            (approval / approval[reference]).to_dict(), abs=1e-6
        )
    # November's new gender value: 4 applications, reported, never judged, never the reference.
    tiny = fairness[(fairness["group_column"] == "code_gender") & (fairness["group_value"] == "New CODE_GENDER")]
    assert len(tiny) == 1 and not tiny["judged"].iloc[0] and tiny["applications"].iloc[0] == NEW_VALUE_ROWS
    assert (fairness["reference_group"] != "New CODE_GENDER").all()


def scored_with_labels_frame(paths: DataPaths, month: date) -> pd.DataFrame:
    with connect(paths.warehouse, read_only=True) as connection:
        return scored_with_labels(connection, month)


def test_fairness_auc_per_group_matches_sklearn(monitored):
    frame = (
        _query(
            monitored,
            "select p.sk_id_curr, p.default_probability, coalesce(a.code_gender, 'unknown') as gender"
            " from scoring.predictions p join staging.stg_home_credit__applications a using (sk_id_curr)"
            " where p.application_month = ? order by p.sk_id_curr",
            [OCTOBER],
        )
        .merge(scored_with_labels_frame(monitored, OCTOBER)[["sk_id_curr", "target"]], on="sk_id_curr")
        .dropna(subset=["target"])
    )
    fairness = _query(
        monitored,
        "select group_value, auc from monitoring.fairness where application_month = ? and group_column = 'code_gender'",
        [OCTOBER],
    )
    for group, auc in fairness.itertuples(index=False):
        rows = frame[frame["gender"] == group]
        if rows["target"].nunique() == 2:
            assert auc == pytest.approx(roc_auc_score(rows["target"], rows["default_probability"]), abs=1e-6)


def test_realised_performance_matches_sklearn_and_the_registry(monitored):
    labelled = scored_with_labels_frame(monitored, NOVEMBER).dropna(subset=["target"])
    [row] = _query(monitored, "select * from monitoring.performance where application_month = ?", [NOVEMBER]).to_dict(
        "records"
    )
    assert row["labelled"] == len(labelled) > 0
    assert row["auc"] == pytest.approx(roc_auc_score(labelled["target"], labelled["default_probability"]), abs=1e-6)
    assert row["ks"] == pytest.approx(ks(labelled["target"], labelled["default_probability"].to_numpy()), abs=1e-6)
    assert row["validation_auc"] == pytest.approx(latest_card(monitored.models, NOVEMBER).metrics["validation_auc"])
    grades = _query(monitored, "select * from monitoring.performance_by_grade where application_month = ?", [NOVEMBER])
    assert grades["applications"].sum() == row["applications"] and grades["defaults"].sum() == labelled["target"].sum()


def test_a_second_monitoring_build_changes_nothing(monitored, tmp_path):
    before = _query(monitored, "select * from monitoring.drift order by all")
    result = run_dbt(["build", "--select", "tag:monitoring"], monitored.root, tmp_path / "target")
    assert result.returncode == 0, result.stdout[-3000:]
    pd.testing.assert_frame_equal(_query(monitored, "select * from monitoring.drift order by all"), before)


def test_credit_report_draws_the_month_and_refuses_a_month_never_scored(monitored, monkeypatch, capsys):
    from assets.command_line.main import main

    monkeypatch.setenv("CREDIT_DATA_DIR", str(monitored.root))
    assert main(["report", "2020-11"]) == 0
    page = (monitored.root / "reports" / "2020-11.html").read_text()
    for section in ("Scores", "Drift", "Values never seen before", "Fairness", "Realised performance", "Model"):
        assert f"<h2>{section}</h2>" in page
    assert "amt_income_total" in page and page.count("data:image/png;base64,") >= 3
    assert "New NAME_CONTRACT_TYPE" in page and "age_band" in page
    assert main(["report", "2020-12"]) == 2
    assert "2020-12 has no scores" in capsys.readouterr().err


def test_credit_status_shows_months_champion_and_warnings_then_a_stale_month(monitored, monkeypatch, capsys, tmp_path):
    from assets.command_line.main import main

    monkeypatch.setenv("CREDIT_DATA_DIR", str(monitored.root))
    capsys.readouterr()
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "2020-10  published" in out and "2020-11  published" in out
    assert (
        f"champion model: {latest_card(monitored.models, NOVEMBER).version}" in out or "champion model: 2020-10." in out
    )
    assert "drift: amt_income_total PSI" in out and "warnings of 2020-11:" in out

    corrected = tmp_path / "20201001.csv"
    pd.read_csv(monitored.inbox / "20201001.csv").iloc[:-3].to_csv(corrected, index=False)
    assert main(["load", str(corrected)]) == 0
    capsys.readouterr()
    assert main(["status"]) == 0
    assert "2020-10  stale" in capsys.readouterr().out


def test_a_model_registered_before_feature_baselines_gets_them_or_its_month_says_it_has_none(monitored, tmp_path):
    from assets.dbt_models import DRIFT_MODEL, credit_dbt_monitoring
    from assets.monitoring_checks import drift_warnings

    paths = copy_of(monitored, tmp_path / "data")
    month_drift = "select subject, psi from monitoring.drift where application_month = ? order by subject"
    published = _query(paths, month_drift, [NOVEMBER])
    [[version]] = _query(
        paths, "select distinct model_version from scoring.predictions where application_month = ?", [NOVEMBER]
    ).to_numpy()
    # As a model registered before 2026-12, in a warehouse upgraded since: no baseline on its card or in the
    # warehouse, and drift's definition changed (its next build is whole).
    card_file = model_dir(paths.models, version) / CARD_FILE
    card = json.loads(card_file.read_text())
    card.pop("feature_baseline")
    card_file.write_text(json.dumps(card))
    with connect(paths.warehouse) as connection:
        connection.execute("delete from scoring.feature_baselines")
        forget_definitions(connection, [DRIFT_MODEL])
    training_set = paths.training_sets / f"{card['month']}.parquet"
    training_set.rename(tmp_path / "away.parquet")

    def monitor() -> dg.AssetCheckEvaluation:
        resources = {**default_resources(), "warehouse": WarehouseResource(data_dir=str(paths.root))}
        result = dg.materialize(
            [credit_dbt_monitoring, drift_warnings], partition_key="2020-11-01", resources=resources
        )
        [check] = [each for each in result.get_asset_check_evaluations() if each.check_name == "drift_warnings"]
        return check

    # Its training set gone: the score's PSI alone, and the month's warnings say the features were not measured.
    check = monitor()
    assert list(_query(paths, month_drift, [NOVEMBER])["subject"]) == ["score"]
    unmeasured = f"features not measured: the scoring model {version} has no feature baseline"
    assert not check.passed and unmeasured in check.description, check.description
    warnings = _query(
        paths, "select message from monitoring.monitoring_warnings where application_month = ?", [NOVEMBER]
    )
    assert unmeasured in set(warnings["message"]), "in the table `credit status` and the report read too"

    # The file back, as it was trained on: binned from it, and every month it scored measured again, as published.
    (tmp_path / "away.parquet").rename(training_set)
    check = monitor()
    pd.testing.assert_frame_equal(_query(paths, month_drift, [NOVEMBER]), published)
    assert unmeasured not in check.description

    # A feature the mart holds now as one kind and the model's sample had as another (a column whose type
    # changed since) is not compared: its bins mean nothing for the other kind. The rest are as published.
    with connect(paths.warehouse) as connection:
        connection.execute(
            "update scoring.feature_baselines set feature_kind = 'numeric' where feature = 'name_housing_type'"
        )
        forget_definitions(connection, [DRIFT_MODEL])
    monitor()
    without = published[published["subject"] != "name_housing_type"].reset_index(drop=True)
    assert len(without) == len(published) - 1
    pd.testing.assert_frame_equal(_query(paths, month_drift, [NOVEMBER]), without)
