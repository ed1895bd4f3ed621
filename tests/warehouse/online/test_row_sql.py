"""The row-by-row evaluator gives DuckDB's answer, NULLs included, and refuses what it cannot evaluate."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from warehouse.online.row_sql import UnsupportedSql, compile_query

ROWS = pd.DataFrame(
    {
        "a": [1.0, None, 0.0, -4.0, 7.5, None],
        "b": [2.0, 3.0, 0.0, None, 0.0, None],
        "s": ["x", None, "y", "z", "O'Brien", None],
    }
)


def _both(select_list: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    sql = f"with rows_before as (select * from source_rows) select {select_list} from rows_before"
    with duckdb.connect() as connection:
        connection.register("source_rows", ROWS)
        cursor = connection.execute(sql)
        names = [column[0] for column in cursor.description]
        # fetchall, not a DataFrame: it tells NULL (None) from NaN.
        expected = pd.DataFrame(cursor.fetchall(), columns=names, dtype=object)
    query = compile_query(sql)
    assert query.reads == "source_rows"
    function = query.function(tuple(ROWS.columns))
    rows = [tuple(None if pd.isna(value) else value for value in row) for row in ROWS.itertuples(index=False)]
    actual = pd.DataFrame(function.evaluate(rows), columns=list(function.outputs), dtype=object)
    return expected, actual[list(expected.columns)]


def _assert_same(expected: pd.DataFrame, actual: pd.DataFrame) -> None:
    for name in expected.columns:
        for want, got in zip(expected[name], actual[name], strict=True):
            if want is None:
                assert got is None, f"{name}: NULL expected, got {got!r}"
            elif isinstance(want, float) and np.isnan(want):
                assert isinstance(got, float) and np.isnan(got), f"{name}: NaN expected, got {got!r}"
            else:
                assert got is not None and (float(want) == float(got) if not isinstance(want, str) else want == got), (
                    f"{name}: {want!r} expected, got {got!r}"
                )


@pytest.mark.parametrize(
    "expression",
    [
        "a / b as ratio",  # NULL in, NULL out; x / 0 is infinite and 0 / 0 NaN (IEEE, DuckDB's default)
        "a / nullif(b, 0) as guarded",
        "(coalesce(a, 0) + coalesce(b, 0)) / nullif(case when a is null then 0 else 1 end + 1, 0) as mean",
        "case when a > 0 and b > 0 then 1 when a is null or b is null then 2 else 0 end as kleene",
        "case when not (a > 0) then 1 else 0 end as negated_null",
        "case when s not in ('x', 'y') then 1 else 0 end as not_in_null",
        "case when s is not null and s not in ('x', 'y') then 1 else 0 end as unseen",
        "case s when 'x' then 1 when 'O''Brien' then 2 end as simple_case",
        "case when s = 'z' then 'zed' end as text_result",
        "nullif(s, 'y') as nulled",
        "a is null as flag",
        "a * -2 - b as arithmetic",
    ],
)
def test_each_construct_gives_duckdbs_answer_nulls_included(expression):
    _assert_same(*_both(expression))


def test_a_wrong_answer_would_be_seen():
    expected, actual = _both("a / nullif(b, 0) as guarded")
    actual.loc[0, "guarded"] = 0.25  # what a slip in the evaluator would give
    with pytest.raises(AssertionError):
        _assert_same(expected, actual)


@pytest.mark.parametrize(
    "sql",
    [
        "select a from t join u on t.id = u.id",
        "select sum(a) as total from t",
        "select a from t where b > 0",
        "select distinct a from t",
        "select upper(s) as loud from t",
        "select a from t order by a",
    ],
)
def test_what_is_not_a_row_by_row_projection_is_refused(sql):
    with pytest.raises(UnsupportedSql):
        compile_query(sql).function(("a", "b", "s", "id"))
