"""dbt run in this process by dbt's programmatic runner, behind the interface dagster-dbt drives.

A dbt subprocess pays Python's and dbt's start-up (≈ 2.5 s) at every step, twice a month run.
`dbtRunner` pays it once per process. dagster-dbt reads a dbt process through a few parts of
`subprocess.Popen` (its JSON log lines on stdout, its exit code, an interrupt), so
`DbtInThisProcess` offers those parts; dagster-dbt then makes the same materialisations and
asset checks of dbt's events as from the CLI. dbt runs in a thread so the events stream while
it builds, as they do from a subprocess.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import queue
import subprocess
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version
from pathlib import Path

from warehouse.atomic_files import atomic_write
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
# Folders of a dbt project that hold no source: dbt's own output and logs.
NOT_SOURCE = {"target", "logs", "__pycache__"}
KEPT_MANIFESTS = 4
# The packages whose code a parse holds (dbt's parser, the adapters' macros): a new version parses again.
PARSING_PACKAGES = ("dbt-core", "dbt-adapters", "dbt-duckdb", "dbt-spark")
KEPT_FILE_SUFFIX = ".manifest"
KEPT_FILES = 8  # in a folder of kept manifests: each edit of the project writes a new one (~1 MB)


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


@dataclass(frozen=True)
class KeptManifest:
    """A parsed manifest, packed as dbt packs its own parse cache, and the environment it was parsed in.

    A build changes the manifest it is given (compiled SQL, injected CTEs), so each build
    unpacks its own. dbt's `Manifest.deepcopy` cannot copy a project with a disabled model.
    """

    packed: bytes
    environment: dict[str, str]

    @classmethod
    def of(cls, manifest) -> KeptManifest:
        from dbt.parser.manifest import extended_mashumaro_encoder

        return cls(manifest.to_msgpack(extended_mashumaro_encoder), dict(manifest.env_vars))

    def manifest(self):
        from dbt.contracts.graph.manifest import Manifest
        from dbt.parser.manifest import extended_mashumuro_decoder

        manifest = Manifest.from_msgpack(self.packed, decoder=extended_mashumuro_decoder)
        manifest.build_flat_graph()  # as dbt does after a parse
        return manifest

    def write(self, path: Path) -> None:
        """Into `path`, whole or not at all: a line of the environment as JSON, then the packed manifest."""
        with atomic_write(path) as temporary:
            temporary.write_bytes(json.dumps(self.environment, sort_keys=True).encode() + b"\n" + self.packed)

    @classmethod
    def read(cls, path: Path) -> KeptManifest:
        environment, packed = path.read_bytes().split(b"\n", 1)
        return cls(packed, json.loads(environment))


# The manifests dbt parsed in this process, by what they were parsed from (`_parse_key`).
#
# dbt's own parse cache (partial_parse.msgpack) is valid for one warehouse path: profiles.yml
# names the data directory's file, and dbt re-parses the whole project (3 to 5 s of CPU) for
# every new data directory and for each set of `--vars`, even though neither changes a parsed
# node (the database is the file's name, `warehouse`, in every data directory). A process that
# builds several months or data directories (`credit demo`, the tests) parses once per set of
# vars instead, and hands dbt the manifest as dbt's programmatic API offers
# (`dbtRunner(manifest=...)`). An edit to the project changes the key, so it is parsed again.
#
# Each new process would still parse once (3 s of CPU; a Dagster run is a process of its own, and
# a month's run parses twice, with and without `--vars`): so a parse is also kept in a folder
# beside the project's manifest (`kept_in`), named by its key, and unpacked there in 0.2 s.
_MANIFESTS: dict[tuple, KeptManifest] = {}


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

        key = _parse_key(self._parse)
        kept_file = self._kept_file(key)
        manifest = _kept_manifest(key, kept_file)
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
        kept = _keep(key, KeptManifest.of(parsed.result))
        if kept_file is not None:
            _write_kept(kept, kept_file)
        return kept.manifest()

    def _kept_file(self, key: tuple) -> Path | None:
        """Where processes keep this parse; none without a folder, or without a target on the command line.

        Without `--target`, profiles.yml chooses it from the environment, which the key does not hold.
        """
        if self._kept_in is None or "--target" not in self._parse.what:
            return None
        return self._kept_in / (hashlib.sha256(repr(key).encode()).hexdigest() + KEPT_FILE_SUFFIX)

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


def _parse_key(parse: ParseFlags) -> tuple:
    """What a parse was made from: its flags, each project and profile file as it is now, dbt's settings.

    The profile's text is part of it, not the values it renders from the environment: those name
    the data directory's warehouse file, which no parsed node holds.
    """
    files = []
    for flag in ("--project-dir", "--profiles-dir"):
        if flag not in parse.what:
            continue
        top = Path(parse.what[parse.what.index(flag) + 1])
        for folder, subfolders, names in os.walk(top):
            subfolders[:] = sorted(name for name in subfolders if name not in NOT_SOURCE and not name.startswith("."))
            for name in sorted(names):
                path = os.path.join(folder, name)
                status = os.stat(path)
                files.append((path, status.st_size, status.st_mtime_ns))
    # dbt's own settings from the environment (DBT_TARGET, DBT_PROFILES_DIR ...) choose what it parses too.
    settings = tuple(sorted((name, value) for name, value in os.environ.items() if name.startswith("DBT_")))
    return parse.what, tuple(files), settings, _parsing_packages()


def _parsing_packages() -> tuple[tuple[str, str], ...]:
    versions = []
    for package in PARSING_PACKAGES:
        try:
            versions.append((package, installed_version(package)))
        except PackageNotFoundError:
            versions.append((package, "absent"))
    return tuple(versions)


def _kept_manifest(key: tuple, kept_file: Path | None):
    """A copy of the parse kept in this process, else of one another process kept in `kept_file`.

    None if neither holds one parsed in this environment (`_same_environment`).
    """
    kept = _MANIFESTS.get(key)
    if kept is not None:
        return kept.manifest() if _same_environment(kept.environment) else None
    if kept_file is None:
        return None
    try:
        kept = KeptManifest.read(kept_file)
        if not _same_environment(kept.environment):
            return None
        manifest = kept.manifest()
    except Exception:  # none kept, or one that does not read or unpack (damaged, hand-edited): parsed again
        return None
    _keep(key, kept)
    return manifest


def _keep(key: tuple, kept: KeptManifest) -> KeptManifest:
    if len(_MANIFESTS) >= KEPT_MANIFESTS:
        _MANIFESTS.clear()
    _MANIFESTS[key] = kept
    return kept


def _write_kept(kept: KeptManifest, path: Path) -> None:
    """Keep a parse for other processes, and only the newest few; a folder that cannot be written keeps none."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        kept.write(path)
        older = sorted(path.parent.glob(f"*{KEPT_FILE_SUFFIX}"), key=_modified, reverse=True)[KEPT_FILES:]
        for each in older:
            each.unlink(missing_ok=True)
    except OSError:  # a read-only checkout: each process parses for itself, as dbt would
        pass


def _modified(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:  # removed by another process keeping its own
        return 0.0


def _same_environment(recorded: dict[str, str]) -> bool:
    """Whether each environment variable the project's SQL and YAML read (`env_var`) has the value it was parsed with.

    dbt records them in the manifest, and re-parses itself when one changes; so does this.
    """
    from dbt.constants import DEFAULT_ENV_PLACEHOLDER

    return all(os.environ.get(name, DEFAULT_ENV_PLACEHOLDER) == value for name, value in recorded.items())


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
