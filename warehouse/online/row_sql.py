"""dbt's compiled SELECT statements, evaluated one row at a time in Python instead of by a database.

Why: DuckDB's cost for the feature mart's SQL is fixed, not per row. Parsing, binding and
optimising its 264 output expressions, and setting up their execution, take about 30 ms
whether the query reads one application or 300 (a PREPAREd statement still pays the
set-up). An online request holds one or a few rows, so that fixed cost is all it pays; and
NumPy, column by column, still paid a microsecond or more for each of some 2,000 operations.

The staging and mart SQL are projections of one row into one row: CASE, comparisons, IN
lists, IS NULL, NULLIF, COALESCE and arithmetic over the columns of the row before. Such a
query is translated here, once, from dbt's own compiled code (parsed by sqlglot) into the
source of one Python function of a row, with SQL's rules for NULL (`None`; three-valued
logic; NULL in, NULL out) and DuckDB's IEEE division. The function is compiled by Python
and runs in tens of microseconds a row. Nothing is written twice: the SQL is the
definition; anything this translator does not know (a join, an aggregate, a function it
lacks) raises `UnsupportedSql` when the query is compiled, and the caller runs the SQL on
DuckDB instead. `warehouse.online.features.verify` also checks the result against DuckDB on
probe rows before it is used.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp


class UnsupportedSql(ValueError):
    """A construct this evaluator does not implement: run the query on a database instead."""


def _divide(a, b):
    """DuckDB's `/` on numbers: division in DOUBLE by IEEE 754 (x / 0 infinite, 0 / 0 NaN)."""
    a, b = float(a), float(b)
    if b == 0.0:
        if a == 0.0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


_COMPARISONS = {exp.EQ: "==", exp.NEQ: "!=", exp.LT: "<", exp.LTE: "<=", exp.GT: ">", exp.GTE: ">="}
_ARITHMETIC = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*"}


@dataclass
class _Source:
    """The Python source of one row function, built statement by statement."""

    lines: list[str] = field(default_factory=list)
    constants: dict[str, object] = field(default_factory=dict)
    count: int = 0
    _named: dict[tuple, str] = field(default_factory=dict)

    def temp(self, expression: str) -> str:
        self.count += 1
        name = f"t{self.count}"
        self.lines.append(f"    {name} = {expression}")
        return name

    def constant(self, value: object) -> str:
        key = (type(value), value)
        if key not in self._named:
            self._named[key] = f"k{len(self.constants)}"
            self.constants[self._named[key]] = value
        return self._named[key]


def _literal(node: exp.Expression) -> object:
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        text = node.this
        return int(text) if text.lstrip("-").isdigit() else float(text)
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        return -_literal(node.this)
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    raise UnsupportedSql(f"not a literal: {node.sql()}")


def _emit(node: exp.Expression, names: dict[str, str], source: _Source) -> str:
    """A Python expression (a variable, or a literal) holding the node's value for the row."""
    if isinstance(node, exp.Paren | exp.Alias):
        return _emit(node.this, names, source)
    if isinstance(node, exp.Column):
        if node.table:
            raise UnsupportedSql(f"a qualified column: {node.sql()}")
        if node.name not in names:
            raise UnsupportedSql(f"no column {node.name!r} in the rows before")
        return names[node.name]
    if isinstance(node, exp.Null):
        return "None"
    if isinstance(node, exp.Literal | exp.Boolean) or (
        isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal)
    ):
        return source.constant(_literal(node))  # a name, so `is None` is never written of a literal
    if type(node) in _COMPARISONS:
        a, b = _emit(node.this, names, source), _emit(node.expression, names, source)
        return source.temp(f"None if {a} is None or {b} is None else {a} {_COMPARISONS[type(node)]} {b}")
    if type(node) in _ARITHMETIC:
        a, b = _emit(node.this, names, source), _emit(node.expression, names, source)
        return source.temp(f"None if {a} is None or {b} is None else {a} {_ARITHMETIC[type(node)]} {b}")
    if isinstance(node, exp.Div):
        if node.args.get("typed") or node.args.get("safe"):
            raise UnsupportedSql(f"integer or safe division: {node.sql()}")
        a, b = _emit(node.this, names, source), _emit(node.expression, names, source)
        return source.temp(f"None if {a} is None or {b} is None else _divide({a}, {b})")
    if isinstance(node, exp.And):
        a, b = _emit(node.this, names, source), _emit(node.expression, names, source)
        return source.temp(
            f"False if ({a} is False or {b} is False) else (None if ({a} is None or {b} is None) else True)"
        )
    if isinstance(node, exp.Or):
        a, b = _emit(node.this, names, source), _emit(node.expression, names, source)
        return source.temp(
            f"True if ({a} is True or {b} is True) else (None if ({a} is None or {b} is None) else False)"
        )
    if isinstance(node, exp.Not):
        a = _emit(node.this, names, source)
        return source.temp(f"None if {a} is None else not {a}")
    if isinstance(node, exp.Is):
        if not isinstance(node.expression, exp.Null):
            raise UnsupportedSql(f"IS other than IS NULL: {node.sql()}")
        return source.temp(f"{_emit(node.this, names, source)} is None")
    if isinstance(node, exp.In):
        if node.args.get("query") or node.args.get("unnest") or node.args.get("field"):
            raise UnsupportedSql(f"IN other than a list of literals: {node.sql()}")
        values = frozenset(_literal(item) for item in node.expressions)
        if None in values:
            raise UnsupportedSql(f"NULL in an IN list: {node.sql()}")
        a, listed = _emit(node.this, names, source), source.constant(values)
        return source.temp(f"None if {a} is None else {a} in {listed}")
    if isinstance(node, exp.Case):
        # Every branch is evaluated (none has side effects); the first condition that is true decides.
        # `CASE x WHEN v THEN ...` is `CASE WHEN x = v THEN ...`, as SQL defines it.
        branches = []
        for branch in node.args["ifs"]:
            condition = branch.this if node.this is None else exp.EQ(this=node.this, expression=branch.this)
            branches.append((_emit(condition, names, source), _emit(branch.args["true"], names, source)))
        result = _emit(node.args["default"], names, source) if node.args.get("default") else "None"
        for condition, value in reversed(branches):
            result = f"({value} if {condition} is True else {result})"
        return source.temp(result)
    if isinstance(node, exp.Nullif):
        a, b = _emit(node.this, names, source), _emit(node.expression, names, source)
        return source.temp(f"None if ({a} is not None and {b} is not None and {a} == {b}) else {a}")
    if isinstance(node, exp.Coalesce):
        parts = [_emit(node.this, names, source), *(_emit(item, names, source) for item in node.expressions)]
        result = "None"
        for part in reversed(parts):
            result = f"({part} if {part} is not None else {result})"
        return source.temp(result)
    raise UnsupportedSql(f"{type(node).__name__} is not evaluated row by row here: {node.sql()[:80]}")


@dataclass(frozen=True)
class Projection:
    """`select <expressions> from <source>`: each output's name and expression (None: `*`, the columns before)."""

    source: str
    outputs: tuple[tuple[str, exp.Expression | None], ...]


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
    if not select.args.get("from_"):
        raise UnsupportedSql("a SELECT without FROM")
    outputs: list[tuple[str, exp.Expression | None]] = []
    for expression in select.expressions:
        if isinstance(expression, exp.Star):
            if any(expression.args.get(modifier) for modifier in ("except_", "except", "replace", "rename")):
                raise UnsupportedSql(f"a * with modifiers: {expression.sql()}")
            outputs.append(("*", None))
            continue
        if not isinstance(expression, exp.Alias | exp.Column) or not expression.alias_or_name:
            raise UnsupportedSql(f"an output without a name: {expression.sql()[:80]}")
        outputs.append((expression.alias_or_name, expression))
    return Projection(_table_name(select.args["from_"].this), tuple(outputs))


@dataclass(frozen=True)
class RowQuery:
    """A compiled query: the table it reads, its projections in order, and the Python function of a row."""

    reads: str
    steps: tuple[Projection, ...]

    def function(self, inputs: tuple[str, ...]) -> RowFunction:
        """The query as a function of a row holding `inputs` (column names, in order)."""
        return RowFunction.build(self.steps, inputs)


@dataclass(frozen=True)
class RowFunction:
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    source: str
    call: Callable[[tuple], tuple]

    @classmethod
    def build(cls, steps: Iterable[Projection], inputs: tuple[str, ...]) -> RowFunction:
        source = _Source()
        names = {name: f"c{index}" for index, name in enumerate(inputs)}
        source.lines.append(f"    ({', '.join(names.values())}{',' if len(names) == 1 else ''}) = row")
        for step in steps:
            produced: dict[str, str] = {}
            for name, expression in step.outputs:
                if expression is None:
                    produced.update(names)
                else:
                    produced[name] = _emit(expression, names, source)
            names = produced
        outputs = tuple(names)
        body = "\n".join(source.lines)
        text = f"def row_function(row):\n{body}\n    return ({', '.join(names.values())},)\n"
        scope = {"_divide": _divide, **source.constants}
        exec(compile(text, "<feature sql>", "exec"), scope)  # noqa: S102 (our own translation of dbt's SQL)
        return cls(tuple(inputs), outputs, text, scope["row_function"])

    def evaluate(self, rows: Iterable[tuple]) -> list[tuple]:
        call = self.call
        return [call(row) for row in rows]


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
