"""dbt run in this process by dbt's programmatic runner, behind the interface dagster-dbt drives.

A dbt subprocess pays Python's and dbt's start-up (≈ 2.5 s) at every step, twice a month run.
`dbtRunner` pays it once per process. dagster-dbt reads a dbt process through a few parts of
`subprocess.Popen` (its JSON log lines on stdout, its exit code, an interrupt), so
`DbtInThisProcess` offers those parts; dagster-dbt then makes the same materialisations and
asset checks of dbt's events as from the CLI. dbt runs in a thread so the events stream while
it builds, as they do from a subprocess.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator, Sequence

# What `dbt --log-format json` prints at its default level: dagster-dbt reads these lines.
PRINTED_LEVELS = {"info", "warn", "error"}
_FINISHED = None


class DbtInThisProcess:
    """The parts of `subprocess.Popen` dagster-dbt's `DbtCliInvocation` uses, served by `dbtRunner` in a thread.

    One invocation at a time per process, as runs on one warehouse are serialised (pool `warehouse`).
    """

    def __init__(self, arguments: Sequence[str]):
        self.args = ["dbt", *arguments]  # how dagster-dbt names the command in its logs and errors
        self.returncode: int | None = None
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self.stdout = _Lines(self._lines)
        self._thread = threading.Thread(
            # dbt's own stdout stays silent: its events reach dagster-dbt through the callback.
            target=self._invoke,
            args=([*arguments, "--log-level", "none"],),
            name="dbt",
            daemon=True,
        )
        self._thread.start()

    def _invoke(self, arguments: list[str]) -> None:
        from dbt.cli.main import dbtRunner  # dbt's import is the start-up paid once here
        from dbt_common.events.functions import msg_to_json

        def forward(message) -> None:
            if message.info.level in PRINTED_LEVELS:
                self._lines.put(msg_to_json(message).encode())

        try:
            result = dbtRunner(callbacks=[forward]).invoke(arguments)
            # dbt's exit codes: 0 success, 1 a model or test failed, 2 dbt itself failed.
            self.returncode = 0 if result.success else 2 if result.exception is not None else 1
        except Exception as error:  # dbt reports its own failures in the result; this is one it could not
            self._lines.put(_error_line(f"dbt failed in this process: {error!r}"))
            self.returncode = 2
        finally:
            _release_the_warehouse()
            self._lines.put(_FINISHED)

    def wait(self, timeout: float | None = None) -> int | None:
        self._thread.join(timeout)
        return self.returncode

    def poll(self) -> int | None:
        return self.returncode

    def send_signal(self, _signal: int) -> None:
        """dagster-dbt's interrupt (a run terminated): cancel dbt's running queries, as dbt does on Ctrl-C."""
        from dbt.adapters.factory import FACTORY

        for adapter in list(FACTORY.adapters.values()):
            adapter.cancel_open_connections()


def _error_line(text: str) -> bytes:
    """An error as dbt's JSON log prints one, so dagster-dbt puts it into the step's error."""
    return json.dumps({"info": {"level": "error", "name": "MainEncounteredError", "msg": text}, "data": {}}).encode()


class _Lines:
    """The stdout dagster-dbt iterates: the JSON lines of dbt's events until dbt has finished."""

    def __init__(self, lines: queue.Queue[bytes | None]):
        self._lines = lines
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        while (line := self._lines.get()) is not _FINISHED:
            yield line

    def __enter__(self) -> _Lines:
        return self

    def __exit__(self, *_exception) -> None:
        self.closed = True


def _release_the_warehouse() -> None:
    """Close dbt-duckdb's database, which it keeps open in the process between commands.

    Left open, this process would hold the warehouse's lock after dbt has finished, and every other
    process (a load, `credit status`, the next run) would wait for it.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    environment = getattr(DuckDBConnectionManager, "_ENV", None)
    if environment is not None:
        environment.close()
    DuckDBConnectionManager.close_all_connections()
