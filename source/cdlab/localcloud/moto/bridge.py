"""Moto's server app, called in-process: every AWS service the kit does not emulate itself.

Moto is a WSGI application, not written for concurrent requests: they run one at a time on moto's
own thread (:mod:`thread`), so the event loop (and the InvokeEndpoint hot path) never waits for
them.
A request can be given a seed for moto's random identifiers (the uuid in a scaling policy's
ARN, a role's id), so that replaying it after a restart makes the same ones. A FilterLogEvents
is narrowed first to the streams its ``logStreamNamePrefix`` names, and asks for interleaved
events, as AWS answers it (:mod:`logfilter`); a bucket's notification configuration is answered
with its EventBridge setting (:mod:`s3notification`); DescribeAlarms, DescribeScalableTargets and
DescribeScalingPolicies are answered a page at a time, as AWS pages and filters them, from moto's
whole listing (:mod:`listings`).
"""

from __future__ import annotations

import base64
import io
import sys
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

from aiohttp import web
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from cdlab import config
from cdlab.localcloud.moto import listings, logfilter, s3notification
from cdlab.localcloud.moto.replayable import seeded
from cdlab.localcloud.moto.state import MotoState

Answer = tuple[int, list[tuple[str, str]], bytes]  # status, headers, body


@dataclass(frozen=True)
class MotoRequest:
    """What moto needs of an HTTP request; plain data, so it can be kept and replayed."""

    method: str
    raw_path: str  # as sent, query string included
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @classmethod
    def of(cls, request: web.Request, body: bytes) -> MotoRequest:
        return cls(request.method, request.raw_path, tuple(request.headers.items()), body)

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers if k.lower() == name.lower()), "")

    def to_doc(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "raw_path": self.raw_path,
            "headers": [list(h) for h in self.headers],
            "body": base64.b64encode(self.body).decode("ascii"),
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> MotoRequest:
        headers = tuple((k, v) for k, v in doc["headers"])
        return cls(doc["method"], doc["raw_path"], headers, base64.b64decode(doc["body"]))


class MotoBridge:
    def __init__(self, moto: MotoState) -> None:
        self.app = DomainDispatcherApplication(create_backend_app)
        self.moto = moto

    def _environ(self, request: MotoRequest) -> dict[str, Any]:
        path, _, query = request.raw_path.partition("?")
        port = request.header("Host").rpartition(":")[2]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": query,
            "SERVER_NAME": config.LOOPBACK,
            "SERVER_PORT": port if port.isdigit() else str(config.port()),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": config.LOOPBACK,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(request.body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "CONTENT_LENGTH": str(len(request.body)),
        }
        for name, value in request.headers:
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = value
            elif key != "CONTENT_LENGTH":
                existing = environ.get(f"HTTP_{key}")
                environ[f"HTTP_{key}"] = f"{existing},{value}" if existing else value
        return environ

    def call(
        self, request: MotoRequest, seed: int | None = None, at: float | None = None
    ) -> Answer:
        """Moto's answer to ``request``: status, headers and body (blocking, see
        :meth:`MotoThread.call`). With ``seed``, the identifiers moto draws while answering come
        from it; with ``at``, the time the request was journaled, a session it makes expires
        counted from then (:func:`replayable.seeded`)."""
        return self.moto.call(self._answer, request, seed, at)

    def _answer(self, request: MotoRequest, seed: int | None, at: float | None) -> Answer:
        paged = listings.paged(request, lambda whole: self._call(self._environ(whole)))
        if paged is not None:
            return paged
        narrowed = logfilter.narrowed(self.moto, request)
        if not isinstance(narrowed, MotoRequest):
            return narrowed
        with seeded(seed, at):
            return s3notification.completed(
                self.moto, narrowed, self._call(self._environ(narrowed))
            )

    def _call(self, environ: dict[str, Any]) -> Answer:
        started: dict[str, Any] = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            started["status"] = int(status.split(" ", 1)[0])
            started["headers"] = headers
            return lambda _data: None

        chunks = self.app(environ, start_response)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        return started["status"], started["headers"], body

    async def handle(self, request: web.Request, moto_request: MotoRequest) -> web.Response:
        return web_response(request, await self.moto.run(self._answer, moto_request, None, None))


def web_response(request: web.Request, answer: Answer) -> web.Response:
    """Moto's ``answer`` to ``request``, as the gateway sends it."""
    status, headers, payload = answer
    response = web.Response(status=status, body=payload)
    for name, value in headers:
        if name.lower() not in ("content-length", "transfer-encoding", "connection"):
            response.headers.add(name, value)
        elif name.lower() == "content-length" and request.method == "HEAD":
            response.headers[name] = value  # a HEAD answer states the size of what GET sends
    return response
