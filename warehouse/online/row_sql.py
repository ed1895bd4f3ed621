"""dbt's compiled SELECT statements, evaluated row by row in NumPy instead of by a database.

Why: DuckDB's cost for the feature mart's SQL is fixed, not per row. Parsing, binding and
optimising its 264 output expressions, and setting up their execution, take about 30 ms
whether the query reads one application or 300 (a PREPAREd statement still pays the
set-up). An online request holds a handful of rows, so that fixed cost is all it pays.

The staging and mart SQL are projections of one row into one row: CASE, comparisons, IN
lists, IS NULL, NULLIF, COALESCE and arithmetic over the columns of the row before. Such a
query is compiled here, once, from dbt's own compiled code (parsed by sqlglot) into NumPy
operations on whole columns, with SQL's rules for NULL (three-valued logic, NULL in, NULL
out, DuckDB's IEEE division). Nothing is written twice: the SQL is the definition, and
anything this evaluator does not know (a join, an aggregate, a function it lacks) raises
`UnsupportedSql` when the query is compiled, and the caller runs the SQL on DuckDB instead.
`warehouse.online.features` also checks the compiled query against DuckDB on probe rows
before it is used.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sqlglot
from sqlglot import exp

NUMBER, TEXT, BOOLEAN, OTHER = "number", "text", "boolean", "other"
NULL = "null"  # the NULL literal: no kind of its own, it takes its neighbours'


class UnsupportedSql(ValueError):
    """A construct this evaluator does not implement: run the query on a database instead."""


@dataclass(frozen=True)
class Column:
    """One column over the rows: its values and where they are NULL (values there are meaningless)."""

    kind: str
    values: np.ndarray
    null: np.ndarray


Columns = dict[str, Column]
Compiled = Callable[[Columns, int], Column]


@functools.lru_cache(maxsize=4096)
def _constant(kind: str, value, rows: int, null: bool = False) -> Column:
    """A literal over the rows; shared between calls, so read-only."""
    dtype = {NUMBER: np.float64, BOOLEAN: bool}.get(kind, object)
    values, nulls = np.full(rows, value, dtype=dtype), np.full(rows, null, dtype=bool)
    values.flags.writeable = nulls.flags.writeable = False
    return Column(kind, values, nulls)


def _all_null(rows: int) -> Column:
    return _constant(NULL, None, rows, True)


def _kind_of(*columns: Column) -> str:
    kinds = {column.kind for column in columns} - {NULL}
    if len(kinds) > 1:
        raise UnsupportedSql(f"values of different kinds in one expression: {sorted(kinds)}")
    return kinds.pop() if kinds else NULL


def _align(kind: str, column: Column) -> Column:
    """A NULL literal takes the kind of the values beside it."""
    if column.kind == kind or kind == NULL:
        return column
    if column.kind == NULL:
        return _constant(kind, {NUMBER: 0.0, BOOLEAN: False, TEXT: "", OTHER: None}[kind], len(column.null), True)
    raise UnsupportedSql(f"a {column.kind} value where a {kind} is expected")


def _compare(left: Column, right: Column, operator: Callable) -> Column:
    kind = _kind_of(left, right)
    if kind not in (NUMBER, TEXT, BOOLEAN):
        raise UnsupportedSql(f"comparison of {kind} values")
    left, right = _align(kind, left), _align(kind, right)
    null = left.null | right.null
    values = np.zeros(len(null), dtype=bool)
    present = ~null
    values[present] = operator(left.values[present], right.values[present])
    return Column(BOOLEAN, values, null)


def _arithmetic(left: Column, right: Column, operator: str) -> Column:
    for side in (left, right):
        if side.kind not in (NUMBER, NULL):
            raise UnsupportedSql(f"arithmetic on {side.kind} values")
    a, b = _align(NUMBER, left).values, _align(NUMBER, right).values
    null = left.null | right.null
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if operator == "+":
            values = a + b
        elif operator == "-":
            values = a - b
        elif operator == "*":
            values = a * b
        else:
            # DuckDB's `/` divides in DOUBLE, by IEEE 754 (`ieee_floating_point_ops`, on by default):
            # x / 0 is infinite, 0 / 0 NaN. The probe rows divide by zero, so a change is caught.
            values = a / b
    return Column(NUMBER, values, null)


def _and(left: Column, right: Column) -> Column:
    """Kleene AND: false if either is false; else NULL if either is NULL; else true."""
    false_left, false_right = ~left.null & ~left.values, ~right.null & ~right.values
    false = false_left | false_right
    null = ~false & (left.null | right.null)
    return Column(BOOLEAN, ~false & ~null, null)


def _or(left: Column, right: Column) -> Column:
    true = (~left.null & left.values) | (~right.null & right.values)
    null = ~true & (left.null | right.null)
    return Column(BOOLEAN, true, null)


def _boolean(column: Column) -> Column:
    if column.kind not in (BOOLEAN, NULL):
        raise UnsupportedSql(f"a {column.kind} value used as a condition")
    return _align(BOOLEAN, column)


def _literal_value(node: exp.Expression):
    if isinstance(node, exp.Literal):
        return (TEXT, node.this) if node.is_string else (NUMBER, float(node.this))
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        return NUMBER, -float(node.this.this)
    if isinstance(node, exp.Boolean):
        return BOOLEAN, bool(node.this)
    raise UnsupportedSql(f"not a literal: {node.sql()}")


def compile_expression(node: exp.Expression) -> Compiled:
    """A function of (columns, rows) giving the expression's column."""
    if isinstance(node, exp.Paren | exp.Alias):
        return compile_expression(node.this)
    if isinstance(node, exp.Column):
        if node.table:
            raise UnsupportedSql(f"a qualified column: {node.sql()}")
        name = node.name

        def column(columns: Columns, rows: int) -> Column:
            if name not in columns:
                raise UnsupportedSql(f"no column {name!r} in the rows before")
            return columns[name]

        return column
    if isinstance(node, exp.Null):
        return lambda columns, rows: _all_null(rows)
    if isinstance(node, exp.Literal | exp.Boolean) or (
        isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal)
    ):
        kind, value = _literal_value(node)
        return lambda columns, rows: _constant(kind, value, rows)
    binary = {
        exp.EQ: lambda a, b: a == b,
        exp.NEQ: lambda a, b: a != b,
        exp.LT: lambda a, b: a < b,
        exp.LTE: lambda a, b: a <= b,
        exp.GT: lambda a, b: a > b,
        exp.GTE: lambda a, b: a >= b,
    }
    for node_type, operator in binary.items():
        if type(node) is node_type:
            left, right = compile_expression(node.this), compile_expression(node.expression)
            return lambda columns, rows, op=operator: _compare(left(columns, rows), right(columns, rows), op)
    arithmetic = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/"}
    if type(node) in arithmetic:
        if isinstance(node, exp.Div) and (node.args.get("typed") or node.args.get("safe")):
            raise UnsupportedSql(f"integer or safe division: {node.sql()}")
        left, right = compile_expression(node.this), compile_expression(node.expression)
        operator = arithmetic[type(node)]
        return lambda columns, rows: _arithmetic(left(columns, rows), right(columns, rows), operator)
    if isinstance(node, exp.And | exp.Or):
        left, right = compile_expression(node.this), compile_expression(node.expression)
        combine = _and if isinstance(node, exp.And) else _or
        return lambda columns, rows: combine(_boolean(left(columns, rows)), _boolean(right(columns, rows)))
    if isinstance(node, exp.Not):
        inner = compile_expression(node.this)

        def negate(columns: Columns, rows: int) -> Column:
            value = _boolean(inner(columns, rows))
            return Column(BOOLEAN, ~value.values & ~value.null, value.null)

        return negate
    if isinstance(node, exp.Is):
        if not isinstance(node.expression, exp.Null):
            raise UnsupportedSql(f"IS other than IS NULL: {node.sql()}")
        inner = compile_expression(node.this)
        return lambda columns, rows: Column(BOOLEAN, inner(columns, rows).null, _constant(BOOLEAN, False, rows).values)
    if isinstance(node, exp.In):
        if node.args.get("query") or node.args.get("unnest") or node.args.get("field"):
            raise UnsupportedSql(f"IN other than a list of literals: {node.sql()}")
        listed = [_literal_value(item) for item in node.expressions]
        kinds = {kind for kind, _ in listed}
        if len(kinds) != 1:
            raise UnsupportedSql(f"an IN list of mixed kinds: {node.sql()}")
        [list_kind], values = kinds, [value for _, value in listed]
        inner = compile_expression(node.this)

        def within(columns: Columns, rows: int) -> Column:
            value = _align(list_kind, inner(columns, rows))
            if value.kind != list_kind:
                raise UnsupportedSql(f"{value.kind} values against an IN list of {list_kind}")
            found = np.isin(value.values, np.array(values, dtype=value.values.dtype)) & ~value.null
            return Column(BOOLEAN, found, value.null)

        return within
    if isinstance(node, exp.Case):
        # `CASE x WHEN v THEN ...` is `CASE WHEN x = v THEN ...`, as SQL defines it.
        branches = [
            (
                compile_expression(
                    branch.this if node.this is None else exp.EQ(this=node.this, expression=branch.this)
                ),
                compile_expression(branch.args["true"]),
            )
            for branch in node.args["ifs"]
        ]
        default = compile_expression(node.args["default"]) if node.args.get("default") else None
        return lambda columns, rows: _case(branches, default, columns, rows)
    if isinstance(node, exp.Nullif):
        value, other = compile_expression(node.this), compile_expression(node.expression)

        def nullif(columns: Columns, rows: int) -> Column:
            a, b = value(columns, rows), other(columns, rows)
            equal = _compare(a, b, lambda x, y: x == y)
            return Column(a.kind, a.values, a.null | (equal.values & ~equal.null))

        return nullif
    if isinstance(node, exp.Coalesce):
        parts = [compile_expression(node.this), *(compile_expression(item) for item in node.expressions)]
        return lambda columns, rows: _coalesce([part(columns, rows) for part in parts], rows)
    raise UnsupportedSql(f"{type(node).__name__} is not evaluated row by row here: {node.sql()[:80]}")


def _case(branches, default, columns: Columns, rows: int) -> Column:
    conditions = [_boolean(condition(columns, rows)) for condition, _ in branches]
    results = [result(columns, rows) for _, result in branches]
    otherwise = default(columns, rows) if default else _all_null(rows)
    kind = _kind_of(*results, otherwise)
    results, otherwise = [_align(kind, result) for result in results], _align(kind, otherwise)
    values, null = otherwise.values.copy(), otherwise.null.copy()
    decided = np.zeros(rows, dtype=bool)
    for condition, result in zip(conditions, results, strict=True):
        taken = condition.values & ~condition.null & ~decided
        values[taken], null[taken] = result.values[taken], result.null[taken]
        decided |= taken
    return Column(kind, values, null)


def _coalesce(parts: list[Column], rows: int) -> Column:
    kind = _kind_of(*parts)
    parts = [_align(kind, part) for part in parts]
    values, null = parts[0].values.copy(), parts[0].null.copy()
    for part in parts[1:]:
        fill = null & ~part.null
        values[fill], null[fill] = part.values[fill], False
    return Column(kind, values, null)


@dataclass(frozen=True)
class Projection:
    """`select <expressions> from <source>`: output names in order, each with its compiled expression."""

    source: str
    outputs: tuple[tuple[str, Compiled | None], ...]  # None: a column passed through by `*`

    def evaluate(self, columns: Columns, rows: int) -> Columns:
        result: Columns = {}
        for name, compiled in self.outputs:
            if compiled is None:
                result.update(columns)
            else:
                result[name] = compiled(columns, rows)
        return result


def _table_name(node: exp.Expression) -> str:
    if not isinstance(node, exp.Table) or node.args.get("joins"):
        raise UnsupportedSql(f"a FROM other than one table: {node.sql()[:80]}")
    return ".".join(part for part in (node.catalog, node.db, node.name) if part)


def _projection(select: exp.Expression) -> Projection:
    if not isinstance(select, exp.Select):
        raise UnsupportedSql(f"{type(select).__name__}, not a SELECT")
    for clause in ("joins", "where", "group", "having", "order", "limit", "offset", "distinct", "qualify", "windows"):
        if select.args.get(clause):
            raise UnsupportedSql(f"a SELECT with {clause.upper()} is not a row-by-row projection")
    source = _table_name(select.args["from_"].this)
    outputs: list[tuple[str, Compiled | None]] = []
    for expression in select.expressions:
        if isinstance(expression, exp.Star):
            if any(expression.args.get(modifier) for modifier in ("except_", "except", "replace", "rename")):
                raise UnsupportedSql(f"a * with modifiers: {expression.sql()}")
            outputs.append(("*", None))
            continue
        name = expression.alias_or_name
        if not name or (not isinstance(expression, exp.Alias) and not isinstance(expression, exp.Column)):
            raise UnsupportedSql(f"an output without a name: {expression.sql()[:80]}")
        outputs.append((name, compile_expression(expression)))
    return Projection(source, tuple(outputs))


@dataclass(frozen=True)
class RowQuery:
    """A compiled query: the table it reads, and its projections from that table to the result."""

    reads: str
    steps: tuple[Projection, ...]

    def evaluate(self, columns: Columns, rows: int) -> Columns:
        for step in self.steps:
            columns = step.evaluate(columns, rows)
        return columns


def compile_query(sql: str) -> RowQuery:
    """Compile a chain of CTEs, each a projection of the one before, ending in a projection of the last."""
    tree = sqlglot.parse_one(sql, dialect="duckdb")
    ctes = {cte.alias_or_name: cte.this for cte in (tree.args.get("with_") or exp.With()).expressions}
    body = tree.copy()
    body.set("with_", None)
    steps: list[Projection] = []
    current = _projection(body)
    while True:
        steps.append(current)
        if current.source not in ctes:
            break
        current = _projection(ctes.pop(current.source))
    # CTEs the result does not read (the mart's incremental bookkeeping) are never run.
    return RowQuery(reads=current.source, steps=tuple(reversed(steps)))
