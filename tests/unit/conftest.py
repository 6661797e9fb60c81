"""Moto in-process, as the local cloud has it: its owner, and clients that moto answers directly."""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.config import Config

from cdlab import config
from cdlab.localcloud.moto.bridge import MotoBridge, MotoRequest
from cdlab.localcloud.moto.state import MotoState

ENDPOINT = "http://127.0.0.1:4599"


@pytest.fixture
def moto() -> Iterator[MotoState]:
    """Moto's owner; its thread ends with the test."""
    state = MotoState(config.ACCOUNT_ID, config.region())
    yield state
    state.shutdown()


@pytest.fixture
def moto_client(moto: MotoState) -> Callable[[str], Any]:
    """``moto_client("logs")``: a boto3 client whose requests moto answers in-process, through
    the bridge on moto's thread, as the gateway has it answer them (no server, no sockets)."""
    bridge = MotoBridge(moto)

    def client(service: str) -> Any:
        # a session of its own: boto3's default one keeps the config file it first read
        made = boto3.Session().client(
            service,
            region_name=config.region(),
            endpoint_url=ENDPOINT,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(s3={"addressing_style": "path"}),
        )
        made.meta.events.register("before-send", functools.partial(_answer, bridge))
        return made

    return client


class _Body(io.BytesIO):
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.read()


def _answer(bridge: MotoBridge, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
    url = urlsplit(request.url)
    body = request.body or b""
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode()
    headers = [(k, v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()]
    raw_path = f"{url.path}?{url.query}" if url.query else url.path
    sent = MotoRequest(request.method, raw_path, (*headers, ("Host", url.netloc)), body)
    status, answer_headers, payload = bridge.call(sent)
    return AWSResponse(request.url, status, dict(answer_headers), _Body(payload))
