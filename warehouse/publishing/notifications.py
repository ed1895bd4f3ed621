"""Tell people what happened: always a line in the data directory's notifications log, and a webhook when configured.

The log (`notifications.log`, one JSON object per line) is the record: it is written even
when the webhook is down, and says whether the webhook took the message. The webhook gets
a JSON POST with a `text` field (what Slack and Teams incoming webhooks read) plus the same
fields as the log line, so a receiver can route on `event` and `month`.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlparse

from warehouse.paths import DataPaths

WEBHOOK_URL_VARIABLE = "CREDIT_WEBHOOK_URL"
WEBHOOK_TIMEOUT_SECONDS = 10

RUN_SUCCEEDED = "run_succeeded"
RUN_FAILED = "run_failed"
DELIVERY_REJECTED = "delivery_rejected"
DELIVERY_ACCEPTED = "delivery_accepted"


@dataclass(frozen=True)
class Notification:
    event: str
    text: str  # one line a person reads first
    month: str | None = None  # YYYY-MM
    run_id: str | None = None
    details: dict = field(default_factory=dict)


def webhook_url_from_env() -> str | None:
    """The configured webhook, checked: only http(s) URLs with a host are accepted."""
    url = os.environ.get(WEBHOOK_URL_VARIABLE, "").strip()
    if not url:
        return None
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"{WEBHOOK_URL_VARIABLE} must be an http(s) URL, got {url!r}")
    return url


def _post(url: str, payload: dict) -> str:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
            return f"delivered (HTTP {response.status})"
    except (urllib.error.URLError, OSError) as error:
        # A notification must never fail the run it reports on; the log keeps the message either way.
        return f"failed: {error}"


def notify(paths: DataPaths, notification: Notification, webhook_url: str | None = None) -> dict:
    """Send to the webhook (if any), then append to the log; returns the logged record."""
    record = {"time": datetime.now(UTC).isoformat(timespec="seconds"), **asdict(notification)}
    if webhook_url:
        record["webhook"] = _post(webhook_url, record)
    paths.root.mkdir(parents=True, exist_ok=True)
    # One write of one line in append mode: lines from concurrent writers never interleave.
    with open(paths.notifications, "a", encoding="utf-8") as log:
        log.write(json.dumps(record, default=str) + "\n")
    return record


def read_notifications(paths: DataPaths) -> list[dict]:
    if not paths.notifications.exists():
        return []
    lines = paths.notifications.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]
