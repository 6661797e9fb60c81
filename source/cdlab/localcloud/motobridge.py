"""Moto's server app, called in-process: every AWS service the kit does not emulate itself.

Moto is a WSGI application; each request runs it in a worker thread so the event loop (and the
InvokeEndpoint hot path) never waits for it.
"""

from __future__ import annotations

import asyncio
import io
import sys
from typing import Any
from urllib.parse import unquote_to_bytes

from aiohttp import web
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from cdlab import config


class MotoBridge:
    def __init__(self) -> None:
        self.app = DomainDispatcherApplication(create_backend_app)

    def _environ(self, request: web.Request, body: bytes) -> dict[str, Any]:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(request.raw_path.split("?", 1)[0]).decode("latin-1"),
            "QUERY_STRING": request.query_string,
            "SERVER_NAME": config.LOOPBACK,
            "SERVER_PORT": str(request.url.port or config.port()),
            "SERVER_PROTOCOL": f"HTTP/{request.version.major}.{request.version.minor}",
            "REMOTE_ADDR": request.remote or config.LOOPBACK,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "CONTENT_LENGTH": str(len(body)),
        }
        for name, value in request.headers.items():
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = value
            elif key != "CONTENT_LENGTH":
                existing = environ.get(f"HTTP_{key}")
                environ[f"HTTP_{key}"] = f"{existing},{value}" if existing else value
        return environ

    def _call(self, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
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

    async def handle(self, request: web.Request, body: bytes) -> web.Response:
        environ = self._environ(request, body)
        status, headers, payload = await asyncio.get_running_loop().run_in_executor(
            None, self._call, environ
        )
        response = web.Response(status=status, body=payload)
        for name, value in headers:
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                response.headers.add(name, value)
            elif name.lower() == "content-length" and request.method == "HEAD":
                response.headers[name] = value  # a HEAD answer states the size of what GET sends
        return response
