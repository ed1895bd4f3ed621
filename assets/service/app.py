"""The web service: online scoring (`POST /v1/score`), health, readiness and metrics.

It reads only published, read-only files (the registry's Parquet copy, the model store) and
its own compile of the feature SQL, so it never takes the warehouse's lock.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from concurrent.futures import Future
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from assets.service.metrics import ServiceMetrics
from assets.service.online_scoring import OnlineScorer, parse_json
from warehouse.online.applications import FieldProblem, InvalidApplications

TOKEN_COOKIE = "credit_token"
# Routes counted under their own name; anything else (a probe of a path that does not exist) as "other".
KNOWN_ROUTES = ("/v1/score", "/healthz", "/readyz", "/metrics", "/", "/upload", "/login", "/months")
MAX_SCORE_BODY_BYTES = 16 * 1024 * 1024  # 1,000 applications of 122 fields fit in well under 2 MB
CHECK_IN_LOOP_BYTES = 64 * 1024  # a few applications: checked on the event loop, faster than a thread hand-off


@dataclass(frozen=True)
class Access:
    """The bearer token that upload, scoring and run endpoints require; None: none, and localhost only."""

    token: str | None

    def allows(self, request: Request) -> bool:
        """A bearer token in the header, or the cookie the delivery page's sign-in sets."""
        if self.token is None:
            return True
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given:
            given = request.cookies.get(TOKEN_COOKIE, "")
        return self.allows_token(given)

    def allows_token(self, given: str) -> bool:
        return self.token is None or (bool(given) and hmac.compare_digest(given.encode(), self.token.encode()))


def _unauthorised() -> JSONResponse:
    return JSONResponse(
        {"detail": "a bearer token is required (Authorization: Bearer <token>)"},
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


def create_app(scorer: OnlineScorer, access: Access, metrics: ServiceMetrics | None = None) -> FastAPI:
    """The scoring API, health, readiness and metrics; `assets.service.delivery_page` adds the page."""
    metrics = metrics or ServiceMetrics()
    app = FastAPI(title="credit-default online scoring", docs_url="/docs", redoc_url=None)
    app.add_middleware(CountRequests, metrics=metrics)
    app.state.scorer, app.state.access, app.state.metrics = scorer, access, metrics

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> Response:
        models = scorer.watcher.models
        if models is None:
            return JSONResponse({"ready": False, "problem": scorer.watcher.problem}, status_code=503)
        return JSONResponse(
            {
                "ready": True,
                "model_version": models.champion.version,
                "challenger_version": models.challenger.version if models.challenger else None,
                "policy": {
                    "review_from": models.policy.review_from,
                    "decline_from": models.policy.decline_from,
                    "reasons": models.reasons,
                },
                "features": "row by row" if scorer.row_features else "duckdb",
            }
        )

    @app.get("/metrics")
    def prometheus_metrics() -> Response:
        models = scorer.watcher.models
        if models is not None:
            challenger = models.challenger.version if models.challenger else ""
            metrics.model.info({"version": models.champion.version, "challenger": challenger})
        return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/v1/score")
    async def score(request: Request) -> Response:
        if not access.allows(request):
            return _unauthorised()
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            # JSON only: a browser cannot send it from another site without this service's consent (CORS).
            return JSONResponse({"detail": "send the applications as application/json"}, status_code=415)
        too_large = JSONResponse({"detail": f"a request of at most {MAX_SCORE_BODY_BYTES:,} bytes"}, status_code=413)
        declared = request.headers.get("content-length", "0")
        if not declared.isdigit() or int(declared) > MAX_SCORE_BODY_BYTES:
            return too_large
        body = await request.body()
        if len(body) > MAX_SCORE_BODY_BYTES:
            return too_large
        if not scorer.ready:
            return JSONResponse({"detail": scorer.watcher.problem}, status_code=503)
        try:
            if len(body) > CHECK_IN_LOOP_BYTES:
                # A batch's parse and check take tens of milliseconds: off the event loop, which keeps answering.
                queued = await run_in_threadpool(_parse_and_submit, scorer, body)
            else:
                queued = _parse_and_submit(scorer, body)
        except ValueError as error:
            problems = error.problems if isinstance(error, InvalidApplications) else [_not_json(error)]
            return JSONResponse({"detail": [problem.as_dict() for problem in problems]}, status_code=422)
        # Scored on the scoring workers, and awaited without holding a thread.
        answer = await asyncio.wrap_future(queued)
        for result in answer.results:
            metrics.scores.observe(result["default_probability"])
            metrics.decisions.labels(result["decision"]).inc()
        received = request.scope.get("state", {}).get("received")
        inside = f", app;dur={(time.perf_counter() - received) * 1000:.3f}" if received else ""
        return JSONResponse(
            {"model_version": answer.model_version, "results": answer.results},
            headers={"Server-Timing": answer.timings.header() + inside},
        )

    return app


def _parse_and_submit(scorer: OnlineScorer, body: bytes) -> Future:
    return scorer.submit(body, parse_json(body))


def _not_json(error: ValueError) -> FieldProblem:
    return FieldProblem(None, None, str(error))


class CountRequests:
    """Requests by route and status, and their latency; plain ASGI (Starlette's BaseHTTPMiddleware costs more)."""

    def __init__(self, app, metrics: ServiceMetrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status = time.perf_counter(), [500]
        scope.setdefault("state", {})["received"] = started  # the endpoint reports its time from here

        async def sending(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            path = scope["path"]
            path = "/months" if path.startswith("/months/") else path
            route = path if path in KNOWN_ROUTES else "other"
            self.metrics.requests.labels(route, str(status[0])).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - started)
