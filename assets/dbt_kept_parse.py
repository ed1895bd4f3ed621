"""dbt's parse of the project, kept for the next build: in this process, and on disk for the next process.

dbt's own parse cache (partial_parse.msgpack) is valid for one warehouse path: profiles.yml names
the data directory's file, and dbt re-parses the whole project (3 to 5 s of CPU) for every new
data directory and for each set of `--vars`, even though neither changes a parsed node (the
database is the file's name, `warehouse`, in every data directory). So a parse is kept by what it
was parsed from (`parse_key`): in this process, and in a folder (`kept_manifests_folder`) where
the next process, a Dagster run being a process of its own, unpacks it in 0.2 s instead. dbt is
handed the manifest as its programmatic API offers (`dbtRunner(manifest=...)`).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version
from pathlib import Path

from warehouse.atomic_files import atomic_write

# What dbt writes or installs at the project's top, not what its author edits.
NOT_SOURCES = {"target", "logs", "dbt_packages"}
# The packages whose code a parse holds or packs (dbt's parser, the adapters' macros, the manifest's
# format): another version parses again.
PARSING_PACKAGES = (
    "dbt-core",
    "dbt-common",
    "dbt-adapters",
    "dbt-semantic-interfaces",
    "dbt-duckdb",
    "dbt-spark",
    "mashumaro",
)
KEPT_FILE_SUFFIX = ".manifest"
PARSES_KEPT_IN_MEMORY = 4
PARSES_KEPT_ON_DISK = 8  # in the folder: each edit of the project, or new `--vars`, writes one (~1 MB)
# The folder, when not the project's own `target/kept_manifests` (the tests keep one per session).
FOLDER_VARIABLE = "CREDIT_DBT_KEPT_PARSES"


def kept_manifests_folder(project_dir: Path) -> Path:
    """Where the processes that run dbt keep its parses of the project for each other.

    In the checkout's target folder, `dagster dev`'s too: a parse does not depend on where its
    manifest is written, and each is written whole, under a name of its own.
    """
    return Path(os.environ.get(FOLDER_VARIABLE) or Path(project_dir) / "target" / "kept_manifests")


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


_IN_MEMORY: dict[tuple, KeptManifest] = {}


def parse_key(flags: tuple[str, ...]) -> tuple:
    """What a parse was made from: its flags, each project and profile file's content, dbt's settings and versions.

    The profile's text is part of it, not the values it renders from the environment: those name
    the data directory's warehouse file, which no parsed node holds. Contents, not times: a copy
    that keeps files' times (`cp -p`, an unpacked archive) may hold other contents.
    """
    files = []
    for flag in ("--project-dir", "--profiles-dir"):
        if flag not in flags:
            continue
        for path in project_sources(Path(flags[flags.index(flag) + 1])):
            try:
                with open(path, "rb") as file:
                    files.append((path, hashlib.file_digest(file, "sha256").hexdigest()))
            except OSError:  # removed since the walk listed it, or a link to nothing
                files.append((path, "missing"))
    # dbt's own settings from the environment (DBT_TARGET, DBT_PROFILES_DIR ...) choose what it parses too.
    settings = tuple(sorted((name, value) for name, value in os.environ.items() if name.startswith("DBT_")))
    return flags, tuple(files), settings, _parsing_packages()


def project_sources(project_dir: Path) -> Iterator[str]:
    """The paths of a dbt project's files as a parse reads them, in a stable order.

    Hidden names are left out (an editor's lock and swap files are not the project), and so are
    compiled Python and what dbt writes or installs at the top (`NOT_SOURCES`).
    """
    for folder, subfolders, names in os.walk(project_dir):
        top = Path(folder) == Path(project_dir)
        subfolders[:] = sorted(
            name
            for name in subfolders
            if not name.startswith(".") and name != "__pycache__" and not (top and name in NOT_SOURCES)
        )
        for name in sorted(name for name in names if not name.startswith(".")):
            yield os.path.join(folder, name)


@cache
def _parsing_packages() -> tuple:
    """Read once a process, at its first parse (dbt imported by then): the code it runs, not what is installed later."""
    versions = []
    for package in PARSING_PACKAGES:
        try:
            versions.append((package, installed_version(package)))
        except PackageNotFoundError:
            versions.append((package, "absent"))
    return (*versions, ("python", sys.version_info[:2]))


def kept_file(folder: Path | None, key: tuple) -> Path | None:
    """Where processes keep the parse of `key`: none without a folder, or unless the target and profile are named.

    Without `--target` profiles.yml chooses it from the environment, and without `--profiles-dir`
    dbt reads a profile from the working folder or the home folder: neither is in the key.
    """
    flags = key[0]
    if folder is None or "--target" not in flags or "--profiles-dir" not in flags:
        return None
    return folder / (hashlib.sha256(repr(key).encode()).hexdigest() + KEPT_FILE_SUFFIX)


def kept_manifest(key: tuple, file: Path | None):
    """A copy of the parse kept in this process, else of one another process kept in `file`.

    None if neither holds one parsed in this environment (`_same_environment`).
    """
    kept = _IN_MEMORY.get(key)
    if kept is not None:
        return kept.manifest() if _same_environment(kept.environment) else None
    if file is None:
        return None
    try:
        kept = KeptManifest.read(file)
        if not _same_environment(kept.environment):
            return None
        manifest = kept.manifest()
        os.utime(file)  # used: the folder keeps the parses used last, not the newest written
    except Exception:  # none kept, or one that does not read or unpack (damaged, hand-edited): parsed again
        return None
    _keep_in_memory(key, kept)
    return manifest


def keep(key: tuple, kept: KeptManifest, file: Path | None) -> KeptManifest:
    """Keep a parse in this process, and in `file` for the next; a folder that cannot be written keeps none."""
    _keep_in_memory(key, kept)
    if file is None:
        return kept
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        kept.write(file)
        older = sorted(file.parent.glob(f"*{KEPT_FILE_SUFFIX}"), key=_last_used, reverse=True)[PARSES_KEPT_ON_DISK:]
        for each in older:
            each.unlink(missing_ok=True)
    except OSError:  # a read-only checkout: each process parses for itself, as dbt would
        pass
    return kept


def _keep_in_memory(key: tuple, kept: KeptManifest) -> None:
    if len(_IN_MEMORY) >= PARSES_KEPT_IN_MEMORY:
        _IN_MEMORY.clear()
    _IN_MEMORY[key] = kept


def _last_used(path: Path) -> float:
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
