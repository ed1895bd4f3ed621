"""Files that readers see whole or not at all, even across a crash.

A file is written under a temporary name beside its final one, flushed to disk, renamed
into place (atomic on one file system) and its folder flushed too, so after a power cut
the final name holds the old file or the new one, never part of one. The temporary name
starts with a dot and ends in `.partial`, so readers' patterns (`pred_*.csv`, `*.parquet`)
never match an unfinished file; it is unique per write, so two writers of one file never
write into each other's temporary file.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_write(final: Path) -> Iterator[Path]:
    """Yield a temporary path beside `final` to write by path; when the block ends cleanly it becomes `final`.

    For writers that take a path (DuckDB's COPY, LightGBM, pandas, Parquet, matplotlib). If the
    block raises, `final` is left as it was and the temporary file is removed.
    """
    final = Path(final)
    temporary = final.with_name(f".{final.name}.{uuid.uuid4().hex}.partial")
    try:
        yield temporary
        _flush_to_disk(temporary)
        os.replace(temporary, final)
        _flush_to_disk(final.parent)
    finally:
        temporary.unlink(missing_ok=True)


def atomic_write_text(final: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write `text` to `final` whole or not at all; returns `final`."""
    with atomic_write(final) as temporary:
        temporary.write_text(text, encoding=encoding)
    return Path(final)


def _flush_to_disk(path: Path) -> None:
    # Opened read-only: fsync flushes a file's (or a folder's entries') data whoever wrote it.
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
