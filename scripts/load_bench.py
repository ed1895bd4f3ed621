"""Load test of `credit serve` on localhost, bounded: latency and throughput, and where a request's time goes.

    python scripts/load_bench.py --data-dir DATA --applications FILE.csv [--json OUT]

Starts `credit serve` over the data directory (a month must be published: the champion), then:

1. single-application requests from 1, 8 and 32 clients, each sending its next request when the
   last is answered (closed loop): p50 and p99 latency, requests a second, errors;
2. single-application requests at a fixed 50 a second (open loop; latency counted from the
   moment each request was due, so a queue shows): p50 and p99 against the 25 ms target;
3. batches of 1,000 applications from one client;
4. the split of a single request: the SQL's parse and bind (once, at start, for the row-by-row
   evaluator; per query on DuckDB), its execution, the model, the reasons, and HTTP (the
   client's latency less the server's own time, from the Server-Timing header).

Zero errors are required: any non-200 answer is counted and printed. The clients run in this
process (threads over keep-alive connections), on the same two cores as the service.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
TARGET_P99_MS, TARGET_RATE = 25.0, 50.0


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)  # seconds
    errors: int = 0
    server: list[dict] = field(default_factory=list)  # Server-Timing of each answer, in ms
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, status: int, latency: float, timing: dict) -> None:
        with self.lock:
            if status == 200:
                self.latencies.append(latency)
                self.server.append(timing)
            else:
                self.errors += 1

    def row(self, name: str, requests_per_answer: int = 1) -> dict:
        ordered = sorted(self.latencies)
        return {
            "scenario": name,
            "requests": len(ordered) + self.errors,
            "errors": self.errors,
            "p50_ms": 1000 * statistics.median(ordered),
            "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
            "per_second": len(ordered) / self.seconds,
            "applications_per_second": len(ordered) * requests_per_answer / self.seconds,
        }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _applications(path: Path, count: int) -> list[dict]:
    import pandas as pd

    from warehouse.ingestion.contract import COLUMN_TYPES, INTEGER, LABEL, TEXT

    frame = pd.read_csv(path, dtype=str, keep_default_na=False, nrows=count).drop(columns=[LABEL], errors="ignore")
    sent = []
    for row in frame.to_dict("records"):
        application = {}
        for name, value in row.items():
            kind = COLUMN_TYPES[name]
            application[name] = (
                None
                if value == ""
                else value
                if kind == TEXT
                else int(float(value))
                if kind == INTEGER
                else float(value)
            )
        sent.append(application)
    return sent


class Client:
    """One keep-alive connection; `post` returns (status, seconds, server timings)."""

    def __init__(self, port: int):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def post(self, body: bytes) -> tuple[int, float, dict]:
        started = time.perf_counter()
        self.connection.request("POST", "/v1/score", body, {"Content-Type": "application/json"})
        response = self.connection.getresponse()
        response.read()
        elapsed = time.perf_counter() - started
        timing = {}
        for part in (response.getheader("Server-Timing") or "").split(","):
            if ";dur=" in part:
                name, duration = part.strip().split(";dur=")
                timing[name] = float(duration)
        return response.status, elapsed, timing


def _closed_loop(port: int, bodies: list[bytes], clients: int, per_client: int) -> Outcome:
    outcome = Outcome()

    def work(offset: int) -> None:
        client = Client(port)
        for i in range(per_client):
            outcome.record(*client.post(bodies[(offset * per_client + i) % len(bodies)]))

    started = time.perf_counter()
    _run_all([threading.Thread(target=work, args=(n,)) for n in range(clients)])
    outcome.seconds = time.perf_counter() - started
    return outcome


def _run_all(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _open_loop(port: int, bodies: list[bytes], rate: float, seconds: float, workers: int = 4) -> Outcome:
    """Requests due at a fixed rate; each latency counts from when it was due, so waiting in a queue shows."""
    outcome, lock = Outcome(), threading.Lock()  # the lock hands out request numbers
    total = int(rate * seconds)
    start = time.perf_counter() + 0.2
    next_request = iter(range(total))

    def work() -> None:
        client = Client(port)
        while True:
            with lock:
                n = next(next_request, None)
            if n is None:
                return
            due = start + n / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            status, _, timing = client.post(bodies[n % len(bodies)])
            outcome.record(status, time.perf_counter() - due, timing)

    _run_all([threading.Thread(target=work) for _ in range(workers)])
    outcome.seconds = time.perf_counter() - start
    return outcome


def _sql_split(data_dir: Path, applications: list[dict]) -> dict:
    """The feature SQL for one application: DuckDB's parse and bind against its execution; the evaluator's."""
    from assets.service.feature_sql import compile_feature_sql
    from warehouse.online.applications import checked_applications
    from warehouse.online.features import DuckDbFeatures, RowFeatures
    from warehouse.paths import dbt_executable

    sql = compile_feature_sql(dbt_executable(), data_dir / "dbt_target" / "online_bench")
    reference = DuckDbFeatures(sql)
    started = time.perf_counter()
    rows = RowFeatures(sql)
    compile_ms = 1000 * (time.perf_counter() - started)
    now = datetime.now()
    one = checked_applications({"applications": applications[:1]}, date(now.year, now.month, 1), now)

    def median_ms(function, repeat=30) -> float:
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            function()
            times.append(time.perf_counter() - started)
        return 1000 * statistics.median(times)

    connection = reference._connection
    duckdb_total = median_ms(lambda: reference.frame(one))
    mart = sql.mart
    duckdb_bind = median_ms(lambda: connection.execute("explain " + mart).fetchall())
    return {
        "duckdb_query_ms": duckdb_total,
        "duckdb_parse_bind_optimise_ms": duckdb_bind,
        "row_evaluator_compile_once_ms": compile_ms,
        "row_evaluator_execution_ms": median_ms(lambda: rows.frame(one)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="a data directory with a published month")
    parser.add_argument("--applications", required=True, help="a delivery file whose rows are sent")
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the 50-a-second run")
    args = parser.parse_args()
    data_dir = Path(args.data_dir).resolve()
    applications = _applications(Path(args.applications), 2_000)
    singles = [json.dumps({"applications": [a]}).encode() for a in applications]
    if len(applications) < 1_000:
        raise SystemExit(f"{args.applications} has {len(applications)} rows: the batch scenario needs 1,000")
    batches = [
        json.dumps({"applications": applications[i : i + 1_000]}).encode()
        for i in range(0, len(applications) - 999, 1_000)
    ]

    port = _free_port()
    env = {**os.environ, "CREDIT_DATA_DIR": str(data_dir), "PYTHONPATH": str(PROJECT)}
    env.pop("CREDIT_API_TOKEN", None)
    credit = shutil.which("credit", path=os.path.dirname(sys.executable)) or "credit"
    server = subprocess.Popen(
        [credit, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        for line in server.stdout:
            print(f"  serve: {line.rstrip()}")
            if "listening on http" in line:
                break
        for _ in range(600):
            try:
                Client(port).connection.request("GET", "/readyz")
                break
            except OSError:
                time.sleep(0.1)
        _closed_loop(port, singles, 2, 50)  # warm up: imports, first LightGBM calls, file handles
        rows = []
        for clients in (1, 8, 32):
            per_client = max(20, 400 // clients)
            rows.append(_closed_loop(port, singles, clients, per_client).row(f"1 application, {clients} clients"))
        steady = _open_loop(port, singles, TARGET_RATE, args.seconds)
        rows.append(steady.row(f"1 application at {TARGET_RATE:.0f}/s"))
        rows.append(_closed_loop(port, batches, 1, 6).row("1,000 applications, 1 client", 1_000))
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"\nonline scoring on localhost ({os.cpu_count()} cores, {date.today():%Y-%m-%d}), clients in one process:")
    print(f"  {'scenario':<32} {'requests':>8} {'errors':>6} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>7} {'apps/s':>8}")
    for row in rows:
        print(
            f"  {row['scenario']:<32} {row['requests']:>8} {row['errors']:>6} {row['p50_ms']:>8.1f}"
            f" {row['p99_ms']:>8.1f} {row['per_second']:>7.1f} {row['applications_per_second']:>8.0f}"
        )
    target = rows[3]
    verdict = "met" if target["p99_ms"] <= TARGET_P99_MS and target["errors"] == 0 else "NOT met"
    print(f"  target: p99 <= {TARGET_P99_MS:.0f} ms at {TARGET_RATE:.0f} requests a second, no errors: {verdict}")

    # Server-Timing: each part of the scoring, and `app`, the server's own time from request to answer.
    split = {name: statistics.median(t.get(name, 0.0) for t in steady.server) for name in steady.server[0]}
    server_ms = split.pop("app")
    server_totals = sorted(t["app"] for t in steady.server)
    server_p99 = server_totals[min(len(server_totals) - 1, int(0.99 * len(server_totals)))]
    http_ms = 1000 * statistics.median(steady.latencies) - server_ms
    sql = _sql_split(data_dir, applications)
    print("\nwhere one application's time goes (medians at 50/s; ms):")
    print(
        f"  feature SQL, parse and bind: {sql['row_evaluator_compile_once_ms']:.0f} once at start "
        f"(on DuckDB: {sql['duckdb_parse_bind_optimise_ms']:.1f} every query)"
    )
    print(
        f"  feature SQL, execution: {split.get('features', 0):.2f} "
        f"(alone: {sql['row_evaluator_execution_ms']:.2f}; the same SQL on DuckDB: {sql['duckdb_query_ms']:.1f})"
    )
    print(f"  contract check: {split.get('check', 0):.2f}")
    print(f"  model: {split.get('model', 0):.2f}")
    print(f"  reasons: {split.get('reasons', 0):.2f} (+ answer {split.get('answer', 0):.2f})")
    print(f"  decision log (write and fsync): {split.get('log', 0):.2f}")
    print(f"  in the app, outside these parts (JSON, routing, hand-offs): {server_ms - sum(split.values()):.2f}")
    print(f"  HTTP (client latency less the server's own time): {http_ms:.2f}")
    print(f"  the server's own time, request in to answer out: median {server_ms:.2f}, p99 {server_p99:.2f}")
    tails = {name: sorted(t.get(name, 0.0) for t in steady.server)[int(0.99 * len(steady.server))] for name in split}
    print("  p99 of each part: " + ", ".join(f"{name} {value:.2f}" for name, value in tails.items()))
    if args.json:
        Path(args.json).write_text(json.dumps({"scenarios": rows, "split_ms": {**split, "http": http_ms}, "sql": sql}))
    return 0 if all(row["errors"] == 0 for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
