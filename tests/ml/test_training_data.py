"""Training from the Parquet file, its features read a row group at a time, gives the frame's model byte for byte."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ml import training
from ml.dataset import (
    ID_COLUMN,
    file_fingerprint,
    fingerprint,
    read_training_rows,
    read_training_set,
    write_training_set,
)
from ml.prediction import feature_matrix
from ml.training import train_model
from ml.training_data import TrainingData
from tests.ml.conftest import QUICK
from warehouse.database import connect


@pytest.fixture(scope="module")
def small_row_groups(built_warehouse, tmp_path_factory) -> tuple:
    """October's training set as the model step writes it, and again in row groups of 2,500 rows."""
    folder = tmp_path_factory.mktemp("training_sets")
    with connect(built_warehouse.warehouse, read_only=True) as connection:
        summary = write_training_set(connection, date(2020, 10, 1), folder / "2020-10.parquet")
    split = folder / "2020-10.split.parquet"
    pq.write_table(pq.read_table(summary.path), split, row_group_size=2_500)
    assert pq.ParquetFile(split).metadata.num_row_groups > 4
    return summary, split


@pytest.mark.slow  # trains two models
def test_a_model_trained_from_the_file_is_the_frame_model_byte_for_byte(
    small_row_groups, history_only_training_set, monkeypatch
):
    """With bins sampled from part of the rows, as from 200,000 rows on: the Sequence's sample must be the matrix's."""
    _, split = small_row_groups
    binning = training._binning_params
    monkeypatch.setattr(
        training, "_binning_params", lambda config: {**binning(config), "bin_construct_sample_cnt": 3_000}
    )
    config = replace(QUICK, n_trials=1, max_rounds=60)
    from_frame = train_model(history_only_training_set, config)
    from_file = train_model(TrainingData.from_parquet(split), config)
    assert from_file.booster.model_to_string() == from_frame.booster.model_to_string()
    assert from_file.metrics == from_frame.metrics
    assert from_file.feature_baseline == from_frame.feature_baseline, "the drift reference from float64 values alike"
    pd.testing.assert_frame_equal(from_file.validation, from_frame.validation)


def test_rows_read_by_position_are_the_frame_matrix_rows(small_row_groups, history_only_training_set):
    _, split = small_row_groups
    data = TrainingData.from_parquet(split)
    features = data.feature_names
    assert features == [c for c in history_only_training_set.columns if c not in data.rows.columns]
    positions = np.sort(np.random.default_rng(3).choice(len(data), size=700, replace=False))
    expected = feature_matrix(history_only_training_set, features)[positions]
    np.testing.assert_array_equal(data.matrix(positions, features), expected)
    sequence = data.lightgbm_rows(positions, features)
    np.testing.assert_array_equal(sequence[10:400], expected[10:400])
    np.testing.assert_array_equal(sequence[123], expected[123].astype(np.float64))


def test_the_file_fingerprint_is_the_whole_frame_fingerprint_with_nulls_in_some_row_groups_only(
    small_row_groups, tmp_path
):
    summary, split = small_row_groups
    # As the model step computed it before: the whole file read into pandas.
    assert summary.fingerprint == fingerprint(read_training_set(summary.path)) == file_fingerprint(split)
    # Written as DuckDB writes (no pandas metadata), and from a frame with pandas' nullable dtypes.
    plain = pa.table({"whole": pa.array([1, 2, None, 4], pa.int64()), "flag": pa.array([True, False, None, True])})
    frame = pd.DataFrame({"whole": pd.array([1, 2, None, 4], dtype="Int64"), "flag": [True, None, True, False]})
    nullable = pa.Table.from_pandas(frame, preserve_index=False)
    for name, table in (("plain", plain), ("nullable", nullable)):
        path = tmp_path / f"{name}.parquet"
        pq.write_table(table, path, row_group_size=2)
        assert file_fingerprint(path) == fingerprint(pq.read_table(path).to_pandas(date_as_object=False)), name


def test_rows_by_id_come_in_the_order_asked(small_row_groups, history_only_training_set):
    summary, _ = small_row_groups
    ids = history_only_training_set[ID_COLUMN].iloc[[40, 3, 900, 7]].to_numpy()
    rows = read_training_rows(summary.path, ids)
    assert rows[ID_COLUMN].tolist() == ids.tolist()
    # The whole file's dtypes, whichever rows were picked (days_employed has nulls, not necessarily in these).
    assert rows.dtypes.to_dict() == read_training_set(summary.path).dtypes.to_dict()
    expected = history_only_training_set.set_index(ID_COLUMN).loc[ids].reset_index()
    features = TrainingData.from_frame(expected).feature_names
    np.testing.assert_array_equal(feature_matrix(rows, features), feature_matrix(expected, features))
