"""dbt run in this process by dbt's programmatic runner, behind the interface dagster-dbt drives.

A dbt subprocess pays Python's and dbt's start-up (≈ 2.5 s) at every step, twice a month run.
`dbtRunner` pays it once per process. dagster-dbt reads a dbt process through a few parts of
`subprocess.Popen` (its JSON log lines on stdout, its exit code, an interrupt), so
`DbtInThisProcess` offers those parts; dagster-dbt then makes the same materialisations and
asset checks of dbt's events as from the CLI. dbt runs in a thread so the events stream while
it builds, as they do from a subprocess. A build starts from a parse kept before, in this process
or another (assets/dbt_kept_parse.py), when there is one.
"""

from __future__ import annotations

import ctypes
import json
import queue
import subprocess
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from assets.dbt_kept_parse import KeptManifest, keep, kept_file, kept_manifest, parse_key
from warehouse.java_objects import release_finished_queries

# What `dbt --log-format json` prints at its default level: dagster-dbt reads these lines.
PRINTED_LEVELS = {"info", "warn", "error"}
# dbt's stdout stays silent (its events reach dagster-dbt through the callback); its log file
# keeps everything, SQL and stack traces included, as the CLI's does.
LOGGING_FLAGS = ["--log-level", "none", "--log-level-file", "debug", "--no-send-anonymous-usage-stats"]
_FINISHED = None
# dbt's flags, event manager and adapters are global to the process: one invocation at a time.
_ONE_AT_A_TIME = threading.Lock()
# Commands that take dbt's parsed manifest, and so may be given one parsed before in this process.
TAKES_A_MANIFEST = {"build", "run", "test", "compile", "seed"}


@dataclass(frozen=True)
class ParseFlags:
    """What dbt's parse of the project depends on, as flags: the project, the profile and target, `--vars`.

    `where` are the flags that only say where dbt writes (target and log folder): a parse made for
    one data directory's folder serves another's.
    """

    what: tuple[str, ...]
    where: tuple[str, ...] = ()

    @property
    def target_path(self) -> Path:
        return Path(self.where[self.where.index("--target-path") + 1])


class DbtInThisProcess:
    """The parts of `subprocess.Popen` dagster-dbt's `DbtCliInvocation` uses, served by `dbtRunner` in a thread."""

    def __init__(self, arguments: Sequence[str], parse: ParseFlags | None = None, kept_in: Path | None = None):
        """`parse`: the flags of the parse the command needs, to reuse a manifest parsed before in this process,
        or by another process into the folder `kept_in`."""
        arguments = [*arguments, *LOGGING_FLAGS]
        self._parse = parse
        self._kept_in = kept_in
        self.args = ["dbt", *arguments]  # how dagster-dbt names the command in its logs and errors
        self.returncode: int | None = None
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self._reported_an_error = False
        self._dbt_running = False  # an interrupt is raised in dbt's code, never in the cleanup after it
        self.stdout = _Lines(self._lines)
        self._thread = threading.Thread(target=self._invoke, args=(arguments,), name="dbt", daemon=True)
        _ONE_AT_A_TIME.acquire()  # released by the thread when dbt has finished
        try:
            self._thread.start()
        except BaseException:
            _ONE_AT_A_TIME.release()
            raise

    def _invoke(self, arguments: list[str]) -> None:
        try:
            self.returncode = self._run_dbt(arguments)
        except BaseException as error:  # dbt reports its own failures in its result; this is one it could not
            self._put_error(f"dbt failed in this process: {error!r}")
            self.returncode = 2
        finally:
            try:
                _release_the_warehouse()
            except Exception as error:
                self._put_error(f"dbt could not close the warehouse: {error!r}")
                self.returncode = self.returncode or 2
            finally:
                try:
                    release_finished_queries()  # on Spark: what dbt-spark's queries held in the JVM
                finally:
                    self._lines.put(_FINISHED)
                    _ONE_AT_A_TIME.release()

    def _run_dbt(self, arguments: list[str]) -> int:
        from dbt.cli.main import dbtRunner  # dbt's import is the start-up paid once here
        from dbt.deprecations import reset_deprecations
        from dbt_common.events.functions import msg_to_json
        from dbt_common.exceptions.base import env_secrets, scrub_secrets

        def forward(message) -> None:
            if message.info.level in PRINTED_LEVELS:
                # Scrubbed as dbt's own JSON logger scrubs what it prints: no DBT_ENV_SECRET_ value leaves.
                self._lines.put(scrub_secrets(msg_to_json(message), env_secrets()).encode())
                self._reported_an_error |= message.info.level == "error"

        reset_deprecations()  # each command warns of what it uses, as a fresh dbt process does
        self._dbt_running = True
        try:
            manifest = self._parsed_manifest(forward) if self._parse is not None else None
            if manifest is _PARSE_FAILED:
                return 2
            result = dbtRunner(manifest=manifest, callbacks=[forward]).invoke(arguments)
        finally:
            self._dbt_running = False
        if result.exception is not None and not self._reported_an_error:
            # A usage error (a misspelt flag) fails before dbt logs anything.
            self._put_error(f"dbt: {result.exception}")
        # dbt's exit codes: 0 success, 1 a model or test failed, 2 dbt itself failed.
        return 0 if result.success else 2 if result.exception is not None else 1

    def _parsed_manifest(self, forward):
        """The manifest for this command's parse: a copy of one parsed before (here or in another process), or a parse.

        A build changes the manifest it is given (compiled SQL, injected CTEs), so each build gets
        a copy of the parse, never what another build on another warehouse left in it.
        """
        from dbt.cli.main import dbtRunner

        key = parse_key(self._parse.what)
        file = kept_file(self._kept_in, key)
        manifest = kept_manifest(key, file)
        if manifest is not None:
            # dbt writes manifest.json when the build ends: one that does not end must leave none
            # from another build behind, which the step would take for what this build parsed.
            written = self._parse.target_path / "manifest.json"
            written.unlink(missing_ok=True)
            return manifest

        def problems_only(message) -> None:
            # The parse's own progress is not the build's: dagster-dbt reads the build's events.
            if message.info.level in ("warn", "error"):
                forward(message)

        parse = ["parse", *self._parse.what, *self._parse.where, *LOGGING_FLAGS]
        parsed = dbtRunner(callbacks=[problems_only]).invoke(parse)
        if not parsed.success:
            if not self._reported_an_error:
                self._put_error(f"dbt could not parse the project: {parsed.exception}")
            return _PARSE_FAILED
        return keep(key, KeptManifest.of(parsed.result), file).manifest()

    def _put_error(self, text: str) -> None:
        """An error as dbt's JSON log prints one, so dagster-dbt puts it into the step's error."""
        line = {"info": {"level": "error", "name": "MainEncounteredError", "msg": text}, "data": {}}
        self._lines.put(json.dumps(line).encode())
        self._reported_an_error = True

    def wait(self, timeout: float | None = None) -> int | None:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise subprocess.TimeoutExpired(self.args, timeout)
        return self.returncode

    def send_signal(self, _signal: int) -> None:
        """dagster-dbt's interrupt (the run was terminated): stop dbt as Ctrl-C stops it.

        Its running queries are cancelled, and a KeyboardInterrupt raised in its thread makes dbt
        stop scheduling nodes, write its results and return, as it does on Ctrl-C.
        """
        from dbt.adapters.factory import FACTORY

        for adapter in list(FACTORY.adapters.values()):
            try:
                adapter.cancel_open_connections()
            except Exception:  # a connection closing as it is cancelled; the interrupt below still stops dbt
                pass
        if self._dbt_running and self._thread.ident is not None:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(self._thread.ident), ctypes.py_object(KeyboardInterrupt)
            )


_PARSE_FAILED = object()


def parse_flags(arguments: Sequence[str]) -> ParseFlags | None:
    """The parse a dbt command line needs, if its command takes a manifest; None if not (or if unsure).

    The flags a parse depends on are kept in `what`; the target and log folders in `where`. A
    command line with a flag this does not know is never given a kept manifest.
    """
    takes_value = {"--project-dir", "--profiles-dir", "--profile", "--target", "--vars"}
    where_flags = {"--target-path", "--log-path"}
    ignored_values = {
        "--select",
        "--exclude",
        "--selector",
        "--resource-type",
        "--exclude-resource-type",
        "--indirect-selection",
    }
    ignored_switches = {"--full-refresh", "--fail-fast"}
    command = next((argument for argument in arguments if not argument.startswith("-")), None)
    if command not in TAKES_A_MANIFEST or arguments[0] != command:
        return None
    what: list[str] = []
    where: list[str] = []
    position = 1
    while position < len(arguments):
        flag = arguments[position]
        if flag in what or flag in where:
            return None  # given twice: which one dbt takes is dbt's business
        if flag in takes_value | where_flags and position + 1 < len(arguments):
            (where if flag in where_flags else what).extend(arguments[position : position + 2])
            position += 2
        elif flag in ignored_values:
            position += 1
            while position < len(arguments) and not arguments[position].startswith("-"):
                position += 1
        elif flag in ignored_switches:
            position += 1
        else:
            return None
    if "--project-dir" not in what or "--target-path" not in where:
        return None
    for flag in ("--project-dir", "--profiles-dir"):  # the key holds where they are, not how they were written
        if flag in what:
            position = what.index(flag) + 1
            what[position] = str(Path(what[position]).resolve())
    return ParseFlags(tuple(what), tuple(where))


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
    """Make sure dbt-duckdb's database is closed when dbt has finished.

    dbt-duckdb closes it when its last connection closes, unless a profile sets `keep_open`; this
    holds either way, so this process never keeps the warehouse's lock after dbt, and every other
    process (a load, `credit status`, the next run) can have it.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    environment = getattr(DuckDBConnectionManager, "_ENV", None)
    if environment is not None:
        environment.close()
    DuckDBConnectionManager.close_all_connections()
