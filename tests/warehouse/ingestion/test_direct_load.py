"""The premise of the one-pass load: DuckDB's CSV reader never takes a number the contract refuses.

The one-pass load (`direct_load`) trusts the reader's number parsing, and the staged check
is the contract. If a DuckDB release made the reader more lenient than the contract, a bad
value would load silently; these tests would catch it on upgrade.
"""

from __future__ import annotations

import csv
import random

import duckdb

from warehouse.ingestion.contract import FLOAT
from warehouse.ingestion.contract_checks import invalid_sql, typed_sql
from warehouse.ingestion.direct_load import scan_file

_ALPHABET = list("0123456789") * 3 + list(".eE+-_ \t,xXabfinINFtyo") + ["nan", "inf", "Infinity", "1e400", "\u00a0"]


def _fields(count: int, seed: int) -> list[str]:
    generator = random.Random(seed)
    return ["".join(generator.choice(_ALPHABET) for _ in range(generator.randint(0, 6))) for _ in range(count)]


def test_every_number_the_reader_takes_is_one_the_contract_takes_with_the_same_value(tmp_path):
    fields = _fields(4000, seed=17) + ["1_000", "  ", "-0", "+.5", "5.", "1e-400", "0x10", "1,5"]
    path = tmp_path / "numbers.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["value"])
        writer.writerows([field] for field in fields)
    connection = duckdb.connect()
    read = connection.execute(
        """
        select row_number() over () as record, c1 from read_csv(
            ?, columns = {'c1': 'DOUBLE'}, header = true, auto_detect = false,
            delim = ',', quote = '"', escape = '"', store_rejects = true)
        """,
        [str(path)],
    ).fetchall()
    rejected_lines = {line for (line,) in connection.execute("select line from reject_errors").fetchall()}
    accepted = iter(read)
    checked = 0
    for line, field in enumerate(fields, start=2):
        if line in rejected_lines:
            continue
        _, value = next(accepted)
        invalid, contract_value = connection.execute(
            f"select {invalid_sql('c1', FLOAT)}, {typed_sql('c1', FLOAT)} from (select ?::VARCHAR as c1)", [field]
        ).fetchone()
        if invalid:
            # What the one-pass load still refuses: grouping it sees in the bytes, or a value that is not finite.
            underscore_by_digit = any(
                ch == "_" and ((i and field[i - 1].isdigit()) or field[i + 1 : i + 2].isdigit())
                for i, ch in enumerate(field)
            )
            assert underscore_by_digit or value != value or abs(value) == float("inf"), field
        else:
            assert value == contract_value or (value is None and contract_value is None), field
            checked += 1
    assert checked > 500


def test_the_scan_flags_an_underscore_by_a_digit_in_the_body_only(tmp_path):
    clean = tmp_path / "clean.csv"
    clean.write_bytes(b"SK_ID_CURR,FLAG_DOCUMENT_2,NAME_TYPE_SUITE\n1,0,Other_A\n2,1,Other_B\n")
    grouped = tmp_path / "grouped.csv"
    grouped.write_bytes(b"SK_ID_CURR,AMT_CREDIT\n1,250_000\n")
    across_blocks = tmp_path / "across.csv"
    across_blocks.write_bytes(b"A,B\n" + b"x" * ((1 << 20) - 5) + b"1_0\n")
    assert not scan_file(clean).digit_underscore
    assert scan_file(grouped).digit_underscore
    assert scan_file(across_blocks).digit_underscore
