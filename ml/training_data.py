"""A training set as LightGBM needs it: the few columns that place each row, and the features read in pieces.

At ten times Home Credit's size a training set is 3 million rows of 265 columns. Read
whole into pandas it held 6 GB, its float32 matrix 3 GB more, and each fit's rows a copy
of that again. Here only the identifying columns (id, month, label) are read whole; the
features stay in the Parquet file and reach LightGBM through `lgb.Sequence`, one row
group at a time, as float32: a fit holds LightGBM's binned rows (one byte a value) and one
row group, not the matrix.

The values are those `ml.prediction.feature_matrix` gives, so the bins, and the model, are
the same as from the in-memory frame, byte for byte (`TrainingData.from_frame`, which
notebooks use, keeps that path).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ml.dataset import NON_FEATURE_COLUMNS
from ml.prediction import feature_matrix

# LightGBM pushes a Sequence's rows to its bins in batches of this many.
BATCH_ROWS = 16_384


class FeatureSource:
    """Feature values of chosen rows (positions in the training set), as a float32 matrix in `features` order."""

    def matrix(self, positions: np.ndarray, features: list[str]) -> np.ndarray:
        raise NotImplementedError

    def lightgbm_rows(self, positions: np.ndarray, features: list[str]):
        """What `lgb.Dataset` takes for these rows."""
        raise NotImplementedError

    def column(self, name: str) -> np.ndarray:
        """One feature over every row, as float64 (its values exactly, unlike the float32 matrix), NaN where missing."""
        raise NotImplementedError


class FrameFeatures(FeatureSource):
    """A training set already in memory: one float32 matrix per feature list, rows picked from it."""

    def __init__(self, frame: pd.DataFrame):
        self._frame = frame
        self._matrices: dict[tuple[str, ...], np.ndarray] = {}

    def _all(self, features: list[str]) -> np.ndarray:
        key = tuple(features)
        if key not in self._matrices:
            self._matrices = {key: feature_matrix(self._frame, features)}
        return self._matrices[key]

    def matrix(self, positions: np.ndarray, features: list[str]) -> np.ndarray:
        return self._all(features)[positions]

    def lightgbm_rows(self, positions: np.ndarray, features: list[str]):
        return self._all(features)[positions]

    def column(self, name: str) -> np.ndarray:
        return pd.to_numeric(self._frame[name]).to_numpy(dtype=np.float64, na_value=np.nan)


def _float32_block(table: pa.Table, features: list[str]) -> np.ndarray:
    """As `feature_matrix` converts a frame: each column as float32, missing as NaN.

    Through float64, which holds every whole number below 2^53 exactly, so the one rounding
    to float32 is the one pandas makes.
    """
    block = np.empty((table.num_rows, len(features)), dtype=np.float32)  # row-major, as LightGBM reads rows
    for index, name in enumerate(features):
        column = pc.cast(table.column(name), pa.float64())
        block[:, index] = column.fill_null(np.nan).to_numpy()
    return block


class ParquetFeatures(FeatureSource):
    """A training set in its Parquet file, read a row group at a time; the last group read is kept."""

    def __init__(self, parquet: pq.ParquetFile):
        self._file = parquet
        metadata = self._file.metadata
        sizes = [metadata.row_group(index).num_rows for index in range(metadata.num_row_groups)]
        self._starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self._kept: tuple[tuple[int, tuple[str, ...]], np.ndarray] | None = None

    def _group(self, group: int, features: list[str]) -> np.ndarray:
        key = (group, tuple(features))
        if self._kept is None or self._kept[0] != key:
            self._kept = None  # freed before the next group is read
            self._kept = (key, _float32_block(self._file.read_row_group(group, columns=features), features))
        return self._kept[1]

    def row(self, position: int, features: list[str]) -> np.ndarray:
        group = int(np.searchsorted(self._starts, position, side="right")) - 1
        return self._group(group, features)[position - self._starts[group]]

    def matrix(self, positions: np.ndarray, features: list[str]) -> np.ndarray:
        """Rows at `positions` (ascending), in that order."""
        positions = np.asarray(positions, dtype=np.int64)
        result = np.empty((len(positions), len(features)), dtype=np.float32)
        groups = np.searchsorted(self._starts, positions, side="right") - 1
        for group in np.unique(groups):
            chosen = np.flatnonzero(groups == group)
            result[chosen] = self._group(int(group), features)[positions[chosen] - self._starts[group]]
        return result

    def lightgbm_rows(self, positions: np.ndarray, features: list[str]):
        return _ParquetRows(self, np.asarray(positions, dtype=np.int64), features)

    def column(self, name: str) -> np.ndarray:
        values = pc.cast(self._file.read(columns=[name]).column(0), pa.float64())
        return values.fill_null(np.nan).to_numpy()


class _ParquetRows(lgb.Sequence):
    """Chosen rows of a Parquet training set as LightGBM reads them: one by one to sample bins, then in batches."""

    batch_size = BATCH_ROWS

    def __init__(self, source: ParquetFeatures, positions: np.ndarray, features: list[str]):
        self._source = source
        self._positions = positions
        self._features = features

    def __len__(self) -> int:
        return len(self._positions)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self._source.matrix(self._positions[index], self._features)
        if isinstance(index, list):
            return self._source.matrix(self._positions[index], self._features)
        # One row is a bin-sampling read, and LightGBM samples in float64 (as it widens a float32 matrix's).
        return self._source.row(int(self._positions[index]), self._features).astype(np.float64)


def _positions(mask_or_positions: np.ndarray) -> np.ndarray:
    array = np.asarray(mask_or_positions)
    return np.flatnonzero(array) if array.dtype == bool else array


@dataclass
class TrainingData:
    """The rows' placing columns (`NON_FEATURE_COLUMNS`, in file order), the candidate features, and their values."""

    rows: pd.DataFrame
    feature_names: list[str]
    source: FeatureSource
    parquet: pq.ParquetFile | None = None  # the open file it reads, when read from one

    def __len__(self) -> int:
        return len(self.rows)

    def matrix(self, rows: np.ndarray, features: list[str]) -> np.ndarray:
        """Feature values of the rows picked by a boolean mask or ascending positions."""
        return self.source.matrix(_positions(rows), features)

    def lightgbm_rows(self, rows: np.ndarray, features: list[str]):
        return self.source.lightgbm_rows(_positions(rows), features)

    def column(self, name: str) -> np.ndarray:
        return self.source.column(name)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> TrainingData:
        placing = [column for column in frame.columns if column in NON_FEATURE_COLUMNS]
        features = [column for column in frame.columns if column not in NON_FEATURE_COLUMNS]
        return cls(frame[placing].reset_index(drop=True), features, FrameFeatures(frame))

    @classmethod
    def from_parquet(cls, source: Path | pq.ParquetFile) -> TrainingData:
        """Read through one open file: its fingerprint and rows are of the version trained on, even if replaced."""
        parquet = source if isinstance(source, pq.ParquetFile) else pq.ParquetFile(source)
        names = parquet.schema_arrow.names
        placing = [name for name in names if name in NON_FEATURE_COLUMNS]
        features = [name for name in names if name not in NON_FEATURE_COLUMNS]
        rows = parquet.read(columns=placing).to_pandas(date_as_object=False)
        return cls(rows, features, ParquetFeatures(parquet), parquet)
