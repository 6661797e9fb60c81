"""The console's routes under ``/_cdlab/console/``: the page, its static assets, its JSON.

It runs before the gateway's SigV4 guard (a browser signs nothing), with the guard's own Host
check first: a foreign Host is refused (the DNS-rebinding guard every route has). A request must
also carry the console's token, written to ``<home>/console-token`` (readable by the user only)
at the cloud's first start and kept until ``cdlab local reset`` deletes it, so a page left open
across ``cdlab local down`` and ``up`` carries on; ``cdlab console`` puts it in the URL it
prints, like JupyterLab's: as ``?token=`` (the answer then sets it as a cookie, so the page's
own requests need not repeat it) or as that cookie. Only GET and HEAD are served: the console
shows, it never changes anything.

Two addresses a person types are helped on: ``/_cdlab/console`` (no slash) is redirected to
``/_cdlab/console/`` with its query, and a browser's unsigned ``GET /`` (its Accept names
text/html, its Host the loopback) gets a short page naming ``cdlab console``. Every other
request to ``/``, S3's ListBuckets and any signed or presigned one, goes on to the guard.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import os
import re
import secrets
import stat
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web

from cdlab import config
from cdlab.localcloud.console.charts import Charts
from cdlab.localcloud.console.views import Views
from cdlab.localcloud.protocols import auth

PREFIX = "/_cdlab/console/"
BARE = PREFIX.rstrip("/")  # redirected to PREFIX
COOKIE = "cdlab-console"
READ_METHODS = ("GET", "HEAD")
STATIC = resources.files("cdlab.localcloud.console") / "static"
TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
PAGES = {"": "index.html"}  # the page itself; static/<file> for its assets
HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the token is in the page's URL
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'",
}


def token_file(home: Path) -> Path:
    return home / "console-token"


TOKEN = re.compile(r"[A-Za-z0-9_-]{32,}")  # what secrets.token_urlsafe(24) makes
ROOT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CD Lab local cloud</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 42em; margin: 2em auto">
<h1>CD Lab local cloud</h1>
<p>This address serves the AWS APIs to AWS clients (boto3, the AWS CLI, the SageMaker SDK)
that <code>cdlab local env</code> points at it; they sign their requests, a browser does not.</p>
<p>To watch the cloud in a browser, run <code>cdlab console</code>: it prints the address of
the local console, with its token, and opens it.</p>
</body></html>
"""


def make_token(home: Path) -> str:
    """The console's token for ``home``: the one its file keeps (written at an earlier start,
    the user's own and readable by the user only), else a new one, written for ``cdlab console``
    to read. ``cdlab local reset`` deletes the file, so the next start makes another."""
    path = token_file(home)
    with contextlib.suppress(OSError, UnicodeDecodeError):
        kept = path.lstat()
        if (stat.S_ISREG(kept.st_mode) and stat.S_IMODE(kept.st_mode) == 0o600
                and kept.st_uid == os.getuid()):  # fmt: skip
            token = path.read_text().strip()
            if TOKEN.fullmatch(token):
                return token
    token = secrets.token_urlsafe(24)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token)
    return token


def url(port: int, token: str) -> str:
    return f"http://{config.LOOPBACK}:{port}{PREFIX}?token={token}"


def browsing(request: web.Request) -> bool:
    """A browser's GET, which the guard would refuse as unsigned: it asks for HTML, carries no
    signature (header or presigned query) and names the loopback as its Host."""
    return (
        request.method == "GET"
        and "text/html" in request.headers.get("Accept", "").lower()
        and auth.parse(request) is None
        and auth.host_allowed(request)
    )


class Console:
    def __init__(self, token: str) -> None:
        self.token = token
        self.views: Views | None = None
        self.charts: Charts | None = None

    def _presented(self, request: web.Request) -> str | None:
        """The token the request carries: in the query, else in the cookie."""
        return request.query.get("token") or request.cookies.get(COOKIE)

    def _allowed(self, request: web.Request) -> bool:
        presented = self._presented(request)
        return presented is not None and hmac.compare_digest(presented, self.token)

    def middleware(self) -> auth.Middleware:
        """Serve the console's routes (their own checks) and hand every other to the guard."""

        @web.middleware
        async def console(request: web.Request, handler: auth.Handler) -> web.StreamResponse:
            if not request.path.startswith(PREFIX) and request.path != BARE:
                if request.path == "/" and browsing(request):
                    return web.Response(text=ROOT_PAGE, content_type="text/html", headers=HEADERS)
                return await handler(request)
            if not auth.host_allowed(request):
                host = request.headers.get("Host", "")
                return web.Response(
                    status=403,
                    text=f"The local console answers only 127.0.0.1, localhost or [::1] on its "
                    f"own port, not Host {host!r} (a guard against DNS rebinding).",
                )
            return await self.handle(request)

        return console

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.method not in READ_METHODS:
            return web.Response(
                status=405,
                text="The local console is read-only: it answers GET only.",
                headers={"Allow": ", ".join(READ_METHODS)},
            )
        if request.path == BARE:  # the page's relative URLs need the slash
            query = request.rel_url.raw_query_string
            location = PREFIX + (f"?{query}" if query else "")
            return web.Response(status=302, headers={**HEADERS, "Location": location})
        if not self._allowed(request):
            return web.Response(
                status=403,
                text="The local console needs its token: open the URL `cdlab console` prints.",
            )
        response = await self._answer(request.path.removeprefix(PREFIX))
        if "token" in request.query:
            response.set_cookie(COOKIE, self.token, path=PREFIX, httponly=True, samesite="Strict")
        response.headers.update(HEADERS)
        return response

    async def _answer(self, path: str) -> web.Response:
        if path == "api/state":
            return web.Response(text=json.dumps(await self.state(), default=str),
                                content_type="application/json")  # fmt: skip
        name = PAGES.get(path) or path.removeprefix("static/")
        if path not in PAGES and not path.startswith("static/"):
            return web.Response(status=404, text="No such console page.")
        asset = STATIC / name
        if "/" in name or not asset.is_file():
            return web.Response(status=404, text="No such console page.")
        content_type = TYPES.get(Path(name).suffix, "text/plain")
        return web.Response(body=asset.read_bytes(), content_type=content_type)

    async def state(self) -> dict[str, Any]:
        """Everything the page shows, at once."""
        views, charts = self.views, self.charts
        if views is None or charts is None:
            return {"starting": True}
        endpoints = await views.endpoints()
        variants = {
            e["EndpointName"]: sorted(
                {v["VariantName"] for v in e.get("ProductionVariants", [])}
                | {s["VariantName"] for s in e["Serving"]}
            )
            for e in endpoints
        }
        return {
            "time_scale": config.time_scale(),
            "endpoints": endpoints,
            "charts": await charts.of(variants),
            "scaling_activities": await views.scaling_activities(),
            "alarms": await views.alarms(),
            "training_jobs": await views.training_jobs(),
            "stacks": await views.stacks(),
        }
