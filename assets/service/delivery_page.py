"""The delivery page at `/`: months and their status, upload of a month's file, downloads of scores and reports.

Server-rendered HTML (Jinja2, escaped), no JavaScript. What it shows comes from the same
places as `credit status`, read without the warehouse: the Dagster instance's run records,
the published registry and monitoring warnings (Parquet), the outbox and the reports folder.
An upload is checked with the raw-file contract (`warehouse.ingestion.loader.check_file`, an
in-memory DuckDB) before it reaches the inbox, where the sensor starts its month; a bad file
never reaches it, and the page lists its problems with their line and column.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import duckdb
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUpload

from assets.run_records import month_states
from assets.service.app import TOKEN_COOKIE, Access
from assets.service.models import ModelWatcher
from warehouse.ingestion.check_report import DeliveryReport
from warehouse.ingestion.delivery_names import DeliveryNameError, parse_delivery_name, parse_month
from warehouse.ingestion.loader import check_file
from warehouse.paths import DataPaths
from warehouse.publishing.bi_copy import PARQUET_FOLDER
from warehouse.publishing.outbox_csv import outbox_file_name

UPLOAD_LIMIT_VARIABLE = "CREDIT_UPLOAD_LIMIT_MB"
DEFAULT_UPLOAD_LIMIT_MB = 500  # a 10x month of 100,000 rows is about 45 MB; the full history 160 MB
CHUNK = 1 << 20

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 64rem; color: #1b1f24; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: .35rem .6rem; }
tr:nth-child(even) { background: #f3f5f7; } th { border-bottom: 2px solid #c9d1d9; }
.state { font-weight: 600; } .published { color: #1a7f37; } .failed, .stale { color: #cf222e; }
.running, .training { color: #9a6700; } .note { color: #57606a; }
.accepted { border-left: 4px solid #1a7f37; padding: .5rem 1rem; background: #dafbe1; }
.rejected { border-left: 4px solid #cf222e; padding: .5rem 1rem; background: #ffebe9; }
form { margin: 1rem 0; } input[type=submit] { padding: .35rem 1rem; }
"""

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title><style>{{ style }}</style></head>
<body>
<h1>Credit default scoring: deliveries and scores</h1>
{% if message %}{{ message | safe }}{% endif %}
{% if login %}
<h2>Sign in</h2>
<form method="post" action="/login">
  <label>Access token <input type="password" name="token" autocomplete="current-password"></label>
  <input type="submit" value="Sign in">
</form>
{% else %}
<h2>Deliver a month's file</h2>
<form method="post" action="/upload" enctype="multipart/form-data">
  <input type="file" name="file" accept=".csv" required>
  <input type="submit" value="Upload and check">
  <span class="note">initial.csv, YYYYMM01.csv or outcomes_YYYYMM01.csv, at most {{ limit_mb }} MB;
  checked against the raw-file contract before it reaches the inbox.</span>
</form>
<h2>Months</h2>
{% if months %}
<table id="months"><tr><th>Month</th><th>Status</th><th>Run</th><th>Scores</th><th>Report</th></tr>
{% for month in months %}
<tr data-month="{{ month.label }}"><td>{{ month.label }}</td>
<td class="state {{ month.css }}">{{ month.state }}</td><td class="note">{{ month.run }}</td>
<td>{% if month.scores %}<a href="/months/{{ month.label }}/scores.csv">{{ month.scores }}</a>{% endif %}</td>
<td>{% if month.report %}<a href="/months/{{ month.label }}/report">report</a>{% endif %}</td></tr>
{% endfor %}
</table>
{% else %}<p class="note">No month has been delivered or run yet.</p>{% endif %}
<h2>Model</h2>
<p id="champion">{{ champion }}</p>
<h2>Latest warnings</h2>
{% if warnings %}<ul id="warnings">{% for warning in warnings %}<li>{{ warning }}</li>{% endfor %}</ul>
{% else %}<p class="note">{{ no_warnings }}</p>{% endif %}
{% endif %}
</body></html>
"""

_RESULT = """
{% if accepted %}
<div class="accepted" id="result"><strong>{{ name }} accepted</strong>: {{ rows }} rows passed every check of
the raw-file contract. It is in the inbox; {{ next_step }}
{% for warning in warnings %}<br>warning: {{ warning }}{% endfor %}</div>
{% else %}
<div class="rejected" id="result"><strong>{{ name }} was not accepted</strong>: {{ summary }}.
Nothing reached the inbox. Fix these and upload it again:
<table id="problems"><tr><th>Line</th><th>Column</th><th>Check</th><th>Problem</th></tr>
{% for problem in problems %}<tr><td>{{ problem.line or "" }}</td><td>{{ problem.column or "" }}</td>
<td>{{ problem.check }}</td><td>{{ problem.message }}</td></tr>{% endfor %}
</table>{% if unlisted %}<p class="note">and {{ unlisted }} more of the same kinds, not listed.</p>{% endif %}</div>
{% endif %}
"""

_templates = Environment(autoescape=True)
PAGE, RESULT = _templates.from_string(_PAGE), _templates.from_string(_RESULT)


def upload_limit_bytes() -> int:
    return int(float(os.environ.get(UPLOAD_LIMIT_VARIABLE, DEFAULT_UPLOAD_LIMIT_MB)) * 1_000_000)


@dataclass(frozen=True)
class MonthRow:
    label: str
    state: str
    css: str
    run: str
    scores: str | None
    report: bool


def _months(paths: DataPaths) -> list[MonthRow]:
    rows = []
    for state in reversed(month_states(paths)):
        month = parse_month(state.month)
        scores = paths.outbox / outbox_file_name(month)
        published = state.state in ("published", "stale")
        rows.append(
            MonthRow(
                label=f"{month:%Y-%m}",
                state=state.state,
                css=state.state.split(",")[0].split()[0],
                run=f"run {state.run_id[:8]}" if state.run_id else "",
                scores=scores.name if published and scores.is_file() else None,
                report=published and (paths.reports / f"{month:%Y-%m}.html").is_file(),
            )
        )
    return rows


def _warnings(paths: DataPaths) -> tuple[list[str], str]:
    path = paths.serving / PARQUET_FOLDER / "monitoring_warnings" / "data.parquet"
    if not path.is_file():
        return [], "Nothing monitored yet."
    with duckdb.connect() as connection:
        rows = connection.execute(
            "select application_month, warning_kind, message from read_parquet(?)"
            " where application_month = (select max(application_month) from read_parquet(?)) order by all",
            [str(path), str(path)],
        ).fetchall()
    if not rows:
        return [], "No warnings in the latest monitored month."
    return [f"{month:%Y-%m} {kind}: {message}" for month, kind, message in rows], ""


def _champion(watcher: ModelWatcher) -> str:
    models = watcher.models
    if models is None:
        return f"No model is scoring: {watcher.problem}"
    card = models.champion.card
    text = f"Champion {card.version}, trained for {card.training_month:%Y-%m}"
    if models.challenger:
        text += f"; challenger {models.challenger.version} scores in shadow"
    return text + "."


def render_page(paths: DataPaths, watcher: ModelWatcher, message: str = "", login: bool = False) -> str:
    warnings, no_warnings = ([], "") if login else _warnings(paths)
    return PAGE.render(
        title="Credit default scoring",
        style=_STYLE,
        message=message,
        login=login,
        limit_mb=upload_limit_bytes() // 1_000_000,
        months=[] if login else _months(paths),
        champion="" if login else _champion(watcher),
        warnings=warnings,
        no_warnings=no_warnings,
    )


MULTIPART_OVERHEAD = 64 * 1024  # the form's boundaries and headers around the file


def content_length(request: Request) -> int | None:
    try:
        return int(request.headers["content-length"])
    except (KeyError, ValueError):
        return None


def same_origin(request: Request) -> bool:
    """A browser names the page a form was sent from: another site's page may not upload here."""
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == request.headers.get("host")


class UploadTooLarge(ValueError):
    pass


def _save(upload: StarletteUpload, target: Path, limit: int) -> None:
    """Copy the uploaded file to `target`, at most `limit` bytes, and fsync it (run in a thread: it is disk work)."""
    written = 0
    upload.file.seek(0)
    with open(target, "wb") as handle:
        while chunk := upload.file.read(CHUNK):
            written += len(chunk)
            if written > limit:
                raise UploadTooLarge(f"the file is larger than the limit of {limit // 1_000_000:,} MB")
            handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())


def _move_into(inbox: Path, staged: Path) -> None:
    """One rename into the inbox, then the inbox's own entry fsynced: an accepted file outlives a crash."""
    inbox.mkdir(parents=True, exist_ok=True)
    os.replace(staged, inbox / staged.name)
    folder = os.open(inbox, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _result_message(name: str, report: DeliveryReport) -> str:
    if not report.rejected:
        delivery = parse_delivery_name(name)
        next_step = (
            f"the sensor starts {delivery.month:%Y-%m}'s run shortly."
            if delivery.month and not delivery.is_outcomes
            else "the next month's run loads it."
        )
        return RESULT.render(
            accepted=True, name=name, rows=f"{report.rows or 0:,}", next_step=next_step, warnings=report.warnings
        )
    listed = report.listed()
    total = sum(report.problem_counts.values())
    return RESULT.render(
        accepted=False,
        name=name,
        summary=f"{total:,} problem{'s' if total != 1 else ''} with the raw-file contract",
        problems=listed,
        unlisted=total - len(listed),
    )


def add_delivery_page(app: FastAPI, paths: DataPaths, watcher: ModelWatcher, access: Access) -> None:
    def signed_in(request: Request) -> bool:
        return access.allows(request)

    @app.get("/", response_class=HTMLResponse)
    def page(request: Request) -> str:
        return render_page(paths, watcher, login=not signed_in(request))

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = await request.form()
        token = str(form.get("token", ""))
        if access.token is None or not access.allows_token(token):
            return HTMLResponse(
                render_page(paths, watcher, '<p class="rejected">That token is not right.</p>', login=True), 401
            )
        response = RedirectResponse("/", status_code=303)
        # HttpOnly: no script reads it; SameSite=Strict: no other site's form can post with it.
        response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        return response

    @app.post("/upload", response_class=HTMLResponse)
    async def upload(request: Request) -> Response:
        # Everything about the sender is checked before a byte of the body is read.
        if not signed_in(request):
            return HTMLResponse(render_page(paths, watcher, login=True), 401)
        if not same_origin(request):
            return HTMLResponse("an upload must come from this page", 403)
        limit = upload_limit_bytes()
        declared = content_length(request)
        if declared is None or declared > limit + MULTIPART_OVERHEAD:
            message = RESULT.render(
                accepted=False,
                name="the file",
                summary=f"a file of at most {limit // 1_000_000:,} MB",
                problems=[],
                unlisted=0,
            )
            return HTMLResponse(render_page(paths, watcher, message), 413)
        async with request.form(max_files=1, max_fields=1) as form:
            file = form.get("file")
            if not isinstance(file, StarletteUpload):
                return HTMLResponse(render_page(paths, watcher, '<p class="rejected">No file was sent.</p>'), 400)
            return await _accept(file, limit)

    async def _accept(file: StarletteUpload, limit: int) -> Response:
        name = Path(file.filename or "").name
        try:
            parse_delivery_name(name)  # the inbox's own rule, before the name reaches a path
        except DeliveryNameError as error:
            message = RESULT.render(
                accepted=False, name=name or "the file", summary=str(error), problems=[], unlisted=0
            )
            return HTMLResponse(render_page(paths, watcher, message), 400)
        folder = paths.root / "uploads" / uuid.uuid4().hex  # beside the inbox: one rename moves it in
        folder.mkdir(parents=True)
        try:
            staged = folder / name
            try:
                await run_in_threadpool(_save, file, staged, limit)
            except UploadTooLarge as error:
                message = RESULT.render(accepted=False, name=name, summary=str(error), problems=[], unlisted=0)
                return HTMLResponse(render_page(paths, watcher, message), 413)
            # The contract check reads the whole file: in a thread, so scoring goes on meanwhile.
            report = await run_in_threadpool(check_file, staged)
            if not report.rejected:
                await run_in_threadpool(_move_into, paths.inbox, staged)
            status = 200 if not report.rejected else 422
            return HTMLResponse(render_page(paths, watcher, _result_message(name, report)), status)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    @app.get("/months/{month}/scores.csv")
    def scores(request: Request, month: str) -> Response:
        return _download(request, month, lambda m: paths.outbox / outbox_file_name(m), "text/csv")

    @app.get("/months/{month}/report")
    def report(request: Request, month: str) -> Response:
        return _download(request, month, lambda m: paths.reports / f"{m:%Y-%m}.html", "text/html")

    def _download(request: Request, month: str, path_of, media_type: str) -> Response:
        if not signed_in(request):
            return HTMLResponse(render_page(paths, watcher, login=True), 401)
        try:
            parsed = parse_month(month)
        except DeliveryNameError as error:
            return HTMLResponse(str(error), 404)
        path = path_of(parsed)
        if not path.is_file():
            return HTMLResponse(f"nothing published for {parsed:%Y-%m} yet", 404)
        return FileResponse(path, media_type=media_type, filename=path.name if media_type == "text/csv" else None)
