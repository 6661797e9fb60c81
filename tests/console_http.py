"""Plain HTTP to a local cloud's console, as a browser or another page would send it."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cdlab.localcloud import control
from cdlab.localcloud.console import web

ROUTES = ("", "static/console.js", "static/uPlot.iife.min.js", "api/state")


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class ConsoleHttp:
    port: int
    token: str

    @classmethod
    def of(cls, cloud: control.Cloud) -> ConsoleHttp:
        return cls(cloud.port, web.token_file(Path(cloud.home)).read_text().strip())

    def request(
        self,
        route: str,
        method: str = "GET",
        token: str | None = "",
        headers: dict[str, str] | None = None,
    ) -> Answer:
        """``route`` under the console's prefix; ``token`` None sends none, "" the right one."""
        query = "" if token is None else f"?token={token or self.token}"
        return self.send(f"{web.PREFIX}{route}{query}", method, headers)

    def send(
        self, target: str, method: str = "GET", headers: dict[str, str] | None = None
    ) -> Answer:
        """``method`` ``target`` (a path and its query) to the cloud's port, as it is."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, target, headers=headers or {})
            response = connection.getresponse()
            return Answer(response.status, dict(response.getheaders()), response.read())
        finally:
            connection.close()

    def state(self) -> dict[str, Any]:
        answer = self.request("api/state")
        assert answer.status == 200, answer
        return json.loads(answer.body)
