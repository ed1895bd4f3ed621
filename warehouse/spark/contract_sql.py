"""The raw-file contract as Spark SQL text: what `delivery_load` asks of a delivery read by Spark.

The same rules as `warehouse.ingestion.contract_checks` on DuckDB, in Spark's functions. Built
as text and sent as one statement: the same checks built as PySpark columns took 33,000 calls
to the JVM for one month's file, 10 s of a 12 s check. Column names come from the contract and
are checked before they reach the text; every value (the file's name, its month, the load's
time) and every character set is a bound parameter (`PARAMETERS` and the caller's own).
"""

from __future__ import annotations

from warehouse.database import quote_identifier
from warehouse.ingestion.contract import INTEGER, TEXT

CORRUPT = "_malformed_record"
UNDECODABLE = "_undecodable"
NUMBER_SUFFIX = "__number_text"
# The characters of a number as DuckDB's DOUBLE cast reads one, once trimmed (no `_` digit grouping).
NUMBER_CHARACTERS = "0123456789.eE+-"
# Unicode's space separators (category Zs: U+0020, a no-break space, U+2000 to U+200A ...), which DuckDB's
# `trim` strips; trimmed as a set of characters, cheaper than a regular expression on 122 fields a record.
SPACE_SEPARATORS = " \u00a0\u1680" + "".join(chr(code) for code in range(0x2000, 0x200B)) + "\u202f\u205f\u3000"
NUMBER_PADDING = "\t\n\x0b\f\r"
# What an undecodable byte becomes in Spark's reader: refused in any column, as DuckDB refuses the byte.
REPLACEMENT_CHARACTER = "\ufffd"
LARGEST_WHOLE_NUMBER = 9e15  # as on DuckDB: past it a double no longer holds every whole number
PARAMETERS = {
    "space_separators": SPACE_SEPARATORS,
    "number_padding": NUMBER_PADDING,
    "number_characters": NUMBER_CHARACTERS,
    "replacement_character": REPLACEMENT_CHARACTER,
    "largest_whole_number": LARGEST_WHOLE_NUMBER,
}


def column(name: str) -> str:
    """A column's name in Spark SQL: a plain name, checked, in backticks."""
    return f"`{quote_identifier(name)[1:-1]}`"


def text(name: str) -> str:
    """A contract field as text, blank meaning missing: trimmed once, as the file is read (`read_columns`)."""
    return column(name)


def _number_text(name: str) -> str:
    """The text of a number field as DuckDB's DOUBLE cast reads it (`read_columns`)."""
    return column(name + NUMBER_SUFFIX)


def invalid(name: str, sql_type: str) -> str:
    """True where a field holds text that is not a value of `sql_type` (`contract_checks.invalid_sql`)."""
    if sql_type == TEXT:
        return f"contains({text(name)}, :replacement_character)"
    number_text = _number_text(name)
    number = f"cast({number_text} as double)"
    # Java's parser, under Spark's cast, also reads `1.5d`, `0x1p3` and `Infinity`: those letters
    # never pass, and what is left to it is a plain decimal, as DuckDB reads it.
    not_a_number = [
        f"{number} is null",
        f"translate({number_text}, :number_characters, '') <> ''",
        f"isnan({number})",
        f"abs({number}) = cast('Infinity' as double)",
    ]
    if sql_type == INTEGER:
        not_a_number += [f"{number} <> floor({number})", f"abs({number}) >= :largest_whole_number"]
    return f"({text(name)} is not null and ({' or '.join(not_a_number)}))"


def typed(name: str, sql_type: str) -> str:
    """The typed value of a field that passed `invalid`."""
    if sql_type == TEXT:
        return text(name)
    number = f"cast({_number_text(name)} as double)"
    return f"cast({number} as bigint)" if sql_type == INTEGER else number


def valid(name: str, sql_type: str) -> str:
    """The typed value where the field is valid, else null."""
    return f"case when not {invalid(name, sql_type)} then {typed(name, sql_type)} end"


def read_columns(header: list[str], contract: dict[str, str]) -> list[str]:
    """The select list over Spark's CSV read (fields `c1`, `c2` ... by position, and `_malformed_record`).

    The contract columns by name, each as text, and each number's text once more as DuckDB's
    cast reads it; `_undecodable` is true where any field, in the contract or not, held a byte
    that is not UTF-8.
    """
    positions = [column(f"c{index}") for index in range(1, len(header) + 1)]
    expressions = []
    for name, sql_type in contract.items():
        if name not in header:
            continue
        # As `contract_checks.text_sql`: DuckDB's `trim` strips Unicode space separators (a no-break
        # space too), where Spark's `trim` strips only U+0020; blank is missing.
        field = f"nullif(trim(both :space_separators from {positions[header.index(name)]}), '')"
        expressions.append(f"{field} as {column(name)}")
        if sql_type != TEXT:
            # DuckDB's DOUBLE cast also skips a tab, carriage return or form feed at either end.
            expressions.append(f"trim(both :number_padding from {field}) as {_number_text(name)}")
    undecodable = " or ".join(f"coalesce(contains({field}, :replacement_character), false)" for field in positions)
    return [*expressions, column(CORRUPT), f"({undecodable}) as {column(UNDECODABLE)}"]
