"""`credit serve` as deployed: a real uvicorn process over a data directory, driven over HTTP.

The data directory is the shared fixture's where October is scored (its champion) and November's
model is registered and rejected. Online answers must equal October's batch row for row; a bad
field gets 422 naming it; a champion swapped in the published registry mid-stream fails no
request; a pending challenger answers only in the decision log; the log reaches the warehouse.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from datetime import date

import duckdb
import pandas as pd
import pytest

from assets.command_line.main import main as credit
from assets.service.models import registry_file
from tests.system.conftest import OCTOBER, TOKEN, copy_of
from warehouse.atomic_files import atomic_write, atomic_write_text
from warehouse.database import connect
from warehouse.ingestion.contract import COLUMN_TYPES, INTEGER, LABEL, TEXT
from warehouse.online.decision_log import load_decision_logs, log_files, online_decisions
from warehouse.paths import DataPaths
from warehouse.publishing.decision_policy import POLICY_FILE


def as_sent(frame: pd.DataFrame) -> list[dict]:
    """Rows of a delivery file as a lender's system would send them: JSON numbers, text, null for missing."""
    applications = []
    for row in frame.drop(columns=[LABEL]).to_dict("records"):
        application = {}
        for name, value in row.items():
            if value == "":
                application[name] = None
            elif COLUMN_TYPES[name] == TEXT:
                application[name] = value
            elif COLUMN_TYPES[name] == INTEGER:
                application[name] = int(float(value))
            else:
                application[name] = float(value)
        applications.append(application)
    return applications


@pytest.fixture(scope="module")
def october_applications(deliveries_dir) -> list[dict]:
    return as_sent(pd.read_csv(deliveries_dir / "20201001.csv", dtype=str, keep_default_na=False))


def _scored_in_batch(paths: DataPaths, month: date) -> pd.DataFrame:
    with duckdb.connect(str(paths.warehouse), read_only=True) as connection:
        return connection.execute(
            "select * from scoring.predictions where application_month = ? order by sk_id_curr", [month]
        ).df()


def test_online_answers_equal_the_batch_for_every_application_of_a_month(online_service, october_applications):
    results, versions = [], set()
    for start in range(0, len(october_applications), 1_000):
        status, answer = online_service.post("/v1/score", {"applications": october_applications[start : start + 1_000]})
        assert status == 200, answer
        versions.add(answer["model_version"])
        results += answer["results"]
    # Single requests take the row-by-row path, batches DuckDB's: both must give the batch's answer.
    for application in october_applications[:25]:
        status, answer = online_service.post("/v1/score", {"applications": [application]})
        assert status == 200, answer
        results.append(answer["results"][0])
    batch = _scored_in_batch(online_service.paths, OCTOBER).set_index("sk_id_curr")
    assert [r["sk_id_curr"] for r in results[: len(october_applications)]] == [
        a["SK_ID_CURR"] for a in october_applications
    ], "answers come in the request's order"
    assert versions == set(batch["model_version"])
    for result in results:
        row = batch.loc[result["sk_id_curr"]]
        assert abs(result["default_probability"] - row["default_probability"]) <= 1e-9
        assert (result["risk_grade"], result["decision"]) == (row["risk_grade"], row["decision"])
        slots = range(1, 5)
        assert result["reason_codes"] == [row[f"reason_code_{i}"] for i in slots if row[f"reason_code_{i}"] is not None]
        assert result["reasons"] == [row[f"reason_{i}"] for i in slots if row[f"reason_{i}"] is not None]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("DAYS_BIRTH", "not a number"),
        ("CNT_CHILDREN", 1.5),
        ("AMT_CREDIT", True),
        ("NAME_CONTRACT_TYPE", 3),
        ("TARGET", 1),
        ("AMT_CREDITT", 10.0),
        ("SK_ID_CURR", None),
    ],
)
def test_a_bad_field_gets_422_naming_it_and_nothing_is_scored(online_service, october_applications, field, value):
    logged = _logged_lines(online_service.paths)
    bad = {**october_applications[1], field: value}
    status, answer = online_service.post("/v1/score", {"applications": [october_applications[0], bad]})
    assert status == 422
    assert [(problem["application"], problem["field"]) for problem in answer["detail"]] == [(1, field)]
    assert _logged_lines(online_service.paths) == logged, "nothing scored, nothing logged"


def test_without_the_token_scoring_is_refused_and_health_is_not(online_service, october_applications):
    body = {"applications": october_applications[:1]}
    assert online_service.post("/v1/score", body, token=None)[0] == 401
    assert online_service.post("/v1/score", body, token="a guess")[0] == 401
    assert online_service.get("/healthz")[0] == 200
    # A form post, as another site's page could make from a browser, is not JSON: refused.
    plain = urllib.request.Request(
        online_service.url + "/v1/score",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "text/plain", "Authorization": f"Bearer {TOKEN}"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(plain, timeout=60)
    assert refused.value.code == 415


def _publish_registry(paths: DataPaths, statuses: dict[str, str]) -> None:
    """What a month's run or a model trained ahead does: the registry's Parquet copy replaced whole."""
    registry = registry_file(paths.serving)
    with duckdb.connect() as connection:
        connection.execute("create table registry as select * from read_parquet(?)", [str(registry)])
        for version, status in statuses.items():
            connection.execute("update registry set status = ? where version = ?", [status, version])
        with atomic_write(registry) as temporary:
            connection.execute("copy registry to ? (format parquet)", [str(temporary)])


def _versions(paths: DataPaths) -> dict[date, str]:
    with duckdb.connect() as connection:
        rows = connection.execute(
            "select training_month, version from read_parquet(?)", [str(registry_file(paths.serving))]
        ).fetchall()
    return {month: version for month, version in rows}


def test_a_champion_swapped_mid_stream_fails_no_request_and_a_challenger_answers_only_in_the_log(
    online_service, october_applications
):
    versions = _versions(online_service.paths)
    october_model, november_model = versions[OCTOBER], versions[date(2020, 11, 1)]
    answers: list[tuple[int, str | None]] = []
    swapped, stop = threading.Event(), threading.Event()

    def stream():
        position = 0
        while not stop.is_set():
            application = october_applications[position % len(october_applications)]
            status, answer = online_service.post("/v1/score", {"applications": [application]})
            answers.append((status, answer.get("model_version")))
            if answer.get("model_version") == november_model:
                swapped.set()
            position += 1

    client = threading.Thread(target=stream)
    client.start()
    try:
        while len(answers) < 5:  # the stream is under way before the swap
            threading.Event().wait(0.05)
        _publish_registry(online_service.paths, {november_model: "champion", october_model: "retired"})
        assert swapped.wait(120), "the service never answered with the new champion"
        served_before_stop = len(answers)
        while len(answers) < served_before_stop + 5:  # and it keeps answering after the swap
            threading.Event().wait(0.05)
    finally:
        stop.set()
        client.join(timeout=120)
    assert {status for status, _ in answers} == {200}, "no request failed during the swap"
    order = [version for _, version in answers]
    first_new = order.index(november_model)
    assert set(order[:first_new]) == {october_model} and set(order[first_new:]) == {november_model}

    _publish_registry(online_service.paths, {october_model: "pending"})
    lines_before = _logged_lines(online_service.paths)
    _wait_for_readiness(online_service, lambda ready: ready["challenger_version"] == october_model)
    status, answer = online_service.post("/v1/score", {"applications": october_applications[:3]})
    assert status == 200 and answer["model_version"] == november_model
    assert "shadow" not in json.dumps(answer)
    new_lines = _logged_lines(online_service.paths)[len(lines_before) :]
    assert [line["shadow"]["model_version"] for line in new_lines] == [october_model] * 3
    assert [line["model_version"] for line in new_lines] == [november_model] * 3


def _wait_for_readiness(service, condition) -> dict:
    """The watcher looks twice a second: wait (bounded) until /readyz shows what was published."""
    for _ in range(600):
        ready = json.loads(service.get("/readyz")[1])
        if condition(ready):
            return ready
        threading.Event().wait(0.1)
    pytest.fail(f"the service never showed what was published: {ready}")


def test_a_challenger_that_cannot_be_loaded_never_stops_the_champion(online_service, october_applications):
    versions = _versions(online_service.paths)
    october_model, november_model = versions[OCTOBER], versions[date(2020, 11, 1)]
    model_file = online_service.paths.models / october_model / "model.txt"
    original = model_file.read_bytes()
    model_file.write_bytes(original.replace(b"tree", b"TREE", 1))  # no longer the file its card hashed
    try:
        _publish_registry(online_service.paths, {november_model: "champion", october_model: "pending"})
        ready = _wait_for_readiness(online_service, lambda r: r["challenger_version"] is None)
        assert ready["model_version"] == november_model
        status, answer = online_service.post("/v1/score", {"applications": october_applications[:1]})
        assert status == 200 and answer["model_version"] == november_model
    finally:
        model_file.write_bytes(original)


def test_online_decisions_follow_the_policy_the_batch_published(online_service, october_applications):
    policy_file = online_service.paths.serving / POLICY_FILE
    published = policy_file.read_text()
    strict = {**json.loads(published), "review_from": 0.0001, "decline_from": 0.0002, "reasons": 2}
    try:
        atomic_write_text(policy_file, json.dumps(strict))
        _wait_for_readiness(online_service, lambda r: r["policy"]["reasons"] == 2)
        status, answer = online_service.post("/v1/score", {"applications": october_applications[:20]})
        assert status == 200
        assert {result["decision"] for result in answer["results"]} == {"decline"}
        assert max(len(result["reasons"]) for result in answer["results"]) == 2
        assert [line["decline_from"] for line in _logged_lines(online_service.paths)[-20:]] == [0.0002] * 20
    finally:
        atomic_write_text(policy_file, published)
        _wait_for_readiness(online_service, lambda r: r["policy"]["reasons"] != 2)


def _logged_lines(paths: DataPaths) -> list[dict]:
    return [json.loads(line) for path in log_files(paths.decisions) for line in path.read_text().splitlines()]


def test_every_decision_is_logged_and_reaches_the_warehouse_and_credit_explain(
    online_service, october_applications, tmp_path, monkeypatch, capsys
):
    new_application = {**october_applications[0], "SK_ID_CURR": 9_999_001}
    status, answer = online_service.post("/v1/score", {"applications": [new_application]})
    assert status == 200
    [logged] = [line for line in _logged_lines(online_service.paths) if line["sk_id_curr"] == 9_999_001]
    assert logged["application"] == new_application and len(logged["request_sha256"]) == 64
    assert {key: logged[key] for key in answer["results"][0]} == answer["results"][0]

    # What the next month's run does first (raw_deliveries), on a copy: the service keeps its directory.
    copy = copy_of(online_service.paths, tmp_path / "data")
    with connect(copy.warehouse) as connection:
        assert load_decision_logs(connection, copy.decisions) == len(_logged_lines(online_service.paths))
        assert load_decision_logs(connection, copy.decisions) == len(_logged_lines(online_service.paths)), "idempotent"
        [decision] = online_decisions(connection, 9_999_001)
    assert decision["default_probability"] == answer["results"][0]["default_probability"]
    monkeypatch.setenv("CREDIT_DATA_DIR", str(copy.root))
    assert credit(["explain", "9999001"]) == 0
    printed = capsys.readouterr().out
    assert "decided online" in printed and answer["model_version"] in printed
    assert answer["results"][0]["reasons"][0] in printed


def test_metrics_count_requests_and_show_the_model(online_service):
    status, text = online_service.get("/metrics")
    assert status == 200
    assert 'credit_requests_total{route="/v1/score",status="200"}' in text
    assert 'credit_requests_total{route="/v1/score",status="422"}' in text
    assert "credit_request_seconds_bucket" in text and "credit_default_probability_bucket" in text
    assert "credit_model_info{challenger=" in text
