"""This process's peak memory (resident set), step by step: what a month's steps need of the machine.

Linux keeps the process's high-water mark (`VmHWM`) and lets the process reset it
(`/proc/self/clear_refs`), so each step of an in-process run gets its own peak. Elsewhere
there is no figure, and the step lines leave it out.
"""

from __future__ import annotations

import re
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")
_HIGH_WATER = re.compile(r"^VmHWM:\s+(\d+) kB$", re.MULTILINE)
_RESET_PEAK = "5"  # proc(5): resets the peak resident set size to the current one


def peak_bytes() -> int | None:
    try:
        found = _HIGH_WATER.search(_STATUS.read_text())
    except OSError:
        return None
    return int(found[1]) * 1024 if found else None


def reset_peak() -> bool:
    try:
        _CLEAR_REFS.write_text(_RESET_PEAK)
    except OSError:
        return False
    return True


def describe(size: int) -> str:
    return f"{size / 2**30:.2f} GB" if size >= 2**30 else f"{size / 2**20:.0f} MB"
