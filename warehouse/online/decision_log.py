"""The decision log: every online decision as a JSON line, fsynced before the answer leaves, one file a day.

    <data directory>/decisions/decisions-YYYY-MM-DD.jsonl

Each line is one application's decision: the request's sha256, the application as sent, the
model version, probability, grade, decision, reasons and the time; and, when a challenger
scored in shadow, its answer. The next month's run loads every file into
`raw.online_decisions` (`load_decision_logs`), each file replacing its earlier load, so a
file still being written today is loaded again, whole, next time. A line cut short by a
crash is not a decision that was answered (its fsync had not returned): it is skipped.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import threading
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from warehouse.database import has_table, transaction
from warehouse.online import DecisionLogBusy

logger = logging.getLogger(__name__)
_LOG_FILE = re.compile(r"^decisions-(\d{4}-\d{2}-\d{2})\.jsonl$")

ONLINE_DECISIONS_DDL = """
create table if not exists raw.online_decisions (
    log_file varchar not null,
    line bigint not null,
    request_sha256 varchar not null,
    decided_at timestamp not null,
    sk_id_curr bigint not null,
    model_version varchar not null,
    default_probability double not null,
    risk_grade varchar not null,
    decision varchar not null,
    reason_codes varchar[] not null,
    reasons varchar[] not null,
    application json not null,
    shadow json,
    review_from double,
    decline_from double,
    feature_sql_sha256 varchar
)
"""


_ROW_SCHEMA = pa.schema(
    [
        ("log_file", pa.string()),
        ("line", pa.int64()),
        ("request_sha256", pa.string()),
        ("decided_at", pa.timestamp("us")),
        ("sk_id_curr", pa.int64()),
        ("model_version", pa.string()),
        ("default_probability", pa.float64()),
        ("risk_grade", pa.string()),
        ("decision", pa.string()),
        ("reason_codes", pa.list_(pa.string())),
        ("reasons", pa.list_(pa.string())),
        ("application", pa.string()),
        ("shadow", pa.string()),
        ("review_from", pa.float64()),
        ("decline_from", pa.float64()),
        ("feature_sql_sha256", pa.string()),
    ]
)


def log_file_name(day: date) -> str:
    return f"decisions-{day:%Y-%m-%d}.jsonl"


class DecisionLog:
    """Appends decisions; `append` returns once they are on disk (written and fsynced)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._day: date | None = None
        self._handle = None

    def open_today(self, now: datetime | None = None) -> None:
        """Open (and lock) today's file now: a second service on the data directory fails at its start."""
        with self._lock:
            self._today((now or datetime.now(UTC)).date())

    def _today(self, day: date) -> None:
        if self._day != day:
            self._close()
            self._handle = _open_for_appending(self.folder / log_file_name(day))
            self._day = day

    def append(self, records: list[dict], now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        data = "".join(json.dumps(record, separators=(",", ":"), default=str) + "\n" for record in records).encode()
        with self._lock:
            self._today(now.date())
            self._handle.write(data)
            self._handle.flush()
            os.fsync(self._handle.fileno())

    def _close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def close(self) -> None:
        with self._lock:
            self._close()


def _open_for_appending(path: Path):
    """The day's file, opened to append, by this process alone, readable by its owner only.

    A line cut short by a crash (its fsync never returned, so it was never answered) is cut off
    first, so the next decision starts a line of its own. A new file's folder entry is fsynced too.
    """
    created = not path.exists()
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as error:
        os.close(descriptor)
        raise DecisionLogBusy(f"{path} is being written by another process: one service per data directory") from error
    os.fchmod(descriptor, 0o600)  # a file an older version created readable by others too
    size = os.lseek(descriptor, 0, os.SEEK_END)
    if size and os.pread(descriptor, 1, size - 1) != b"\n":
        start = max(0, size - (1 << 20))
        while True:  # back from the end to the last newline, a megabyte at a time
            tail = os.pread(descriptor, size - start, start)
            newline = tail.rfind(b"\n")
            if newline >= 0 or start == 0:
                os.ftruncate(descriptor, start + newline + 1)
                break
            start = max(0, start - (1 << 20))
    if created:
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    return os.fdopen(descriptor, "ab")


def _records(path: Path) -> list[dict]:
    rows = []
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.endswith(b"\n"):
                break  # cut short by a crash before its fsync: never answered
            try:
                rows.append(_row(path, number, json.loads(line)))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
                logger.warning("%s line %s is not a decision (%r): skipped", path.name, number, error)
    return rows


def _row(path: Path, number: int, record: dict) -> dict:
    return {
        "log_file": path.name,
        "line": number,
        "request_sha256": record["request_sha256"],
        "decided_at": datetime.fromisoformat(record["decided_at"]).replace(tzinfo=None),
        "sk_id_curr": record["sk_id_curr"],
        "model_version": record["model_version"],
        "default_probability": record["default_probability"],
        "risk_grade": record["risk_grade"],
        "decision": record["decision"],
        "reason_codes": record["reason_codes"],
        "reasons": record["reasons"],
        "application": json.dumps(record["application"]),
        "shadow": json.dumps(record["shadow"]) if record.get("shadow") else None,
        "review_from": record.get("review_from"),
        "decline_from": record.get("decline_from"),
        "feature_sql_sha256": record.get("feature_sql_sha256"),
    }


def log_files(folder: Path) -> list[Path]:
    """The decision log files in a folder, by day; other names are never read."""
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if _LOG_FILE.match(path.name) and path.is_file())


def load_decision_logs(connection: duckdb.DuckDBPyConnection, folder: Path) -> int:
    """Load every log file into raw.online_decisions, each replacing its earlier load; returns the rows loaded."""
    connection.execute(ONLINE_DECISIONS_DDL)
    total = 0
    for path in log_files(folder):
        rows = _records(path)
        with transaction(connection):
            connection.execute("delete from raw.online_decisions where log_file = ?", [path.name])
            if rows:
                table = pa.Table.from_pylist(rows, schema=_ROW_SCHEMA)
                connection.register("decision_rows", table)
                try:
                    connection.execute("insert into raw.online_decisions by name select * from decision_rows")
                finally:
                    connection.unregister("decision_rows")
        total += len(rows)
    return total


def online_decisions(connection: duckdb.DuckDBPyConnection, sk_id_curr: int) -> list[dict]:
    """The online decisions of one application loaded so far, oldest first ([] before any was loaded)."""
    if not has_table(connection, "raw", "online_decisions"):
        return []
    cursor = connection.execute(
        "select * exclude (application, shadow) from raw.online_decisions"
        " where sk_id_curr = ? order by decided_at, line",
        [sk_id_curr],
    )
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
