"""Letting the JVM free what a finished Spark query held.

py4j, through which PySpark drives the JVM, caches each method it calls on a Java object in that
object, and the method refers back to it: every Java object Python has called a method on (a
Dataset PySpark or dbt-spark ran, with its plan, its broadcast hash tables and its metrics) sits
in a reference cycle, which only Python's cyclic garbage collector frees, and until then the JVM
keeps the object too. Python collects old cycles rarely: drift builds run one after another in a
session kept 300 MB of driver heap each after a full collection in the JVM, the heap was near
full after four, and each build then took several times as long: with a larger lender's months,
a driver short of memory.
"""

from __future__ import annotations

import functools
import gc
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def release_finished_queries() -> None:
    """Collect Python's reference cycles when this process drives a Spark JVM: py4j's finalizer thread then
    tells the JVM, within a second, that it may free the Java objects they held.

    0.1 to 0.2 s in a month's process, whose long-lived objects are frozen as the definitions load (0.3 to 0.5 s
    if not): called once a step or a dbt command has finished, not per query.
    """
    # Read, never imported: a process on DuckDB alone loads no PySpark for this.
    context = getattr(getattr(sys.modules.get("pyspark"), "SparkContext", None), "_active_spark_context", None)
    if context is not None:
        gc.collect()


def releasing_finished_queries(method: Callable[P, R]) -> Callable[P, R]:
    """`method`, then `release_finished_queries`, however it ended."""

    @functools.wraps(method)
    def released(*arguments: P.args, **keywords: P.kwargs) -> R:
        try:
            return method(*arguments, **keywords)
        finally:
            release_finished_queries()

    return released
