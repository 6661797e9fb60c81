"""Moto's state has one owner: every read and write runs on moto's own thread, one at a time."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from moto.cloudwatch.models import CloudWatchBackend
from moto.logs.models import LogsBackend
from moto.s3.models import S3Backend

from cdlab.localcloud.moto.state import MotoState

TOUCHED = (
    (S3Backend, "create_bucket"), (S3Backend, "put_object"), (S3Backend, "get_object"),
    (S3Backend, "list_objects"), (LogsBackend, "create_log_group"),
    (CloudWatchBackend, "put_metric_data"),
)  # fmt: skip


@pytest.fixture
def touched(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The thread of every call into the backends' methods in TOUCHED."""
    threads: list[int] = []
    for backend, name in TOUCHED:
        original = getattr(backend, name)

        def recorded(*args: Any, _original: Callable[..., Any] = original, **kwargs: Any) -> Any:
            threads.append(threading.get_ident())
            return _original(*args, **kwargs)

        monkeypatch.setattr(backend, name, recorded)
    yield threads


def test_callers_on_many_threads_and_the_loop_all_reach_moto_on_its_thread(
    moto: MotoState, moto_client: Callable[[str], Any], touched: list[int]
) -> None:
    bucket = f"owner-{uuid.uuid4().hex[:12]}"
    moto.s3_create_bucket(bucket, moto.region)

    def worker(n: int) -> bytes | None:
        key = f"k{n}"
        assert moto.s3_put(bucket, key, str(n).encode())
        moto.put_log_events(f"/test/owner-{bucket}", f"s{n}", [])
        moto.put_metric_data({"Test/Owner": [{"MetricName": "m", "Value": float(n)}]})
        return moto.s3_get(bucket, key)

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(worker, range(32))) == [str(n).encode() for n in range(32)]

    async def from_the_loop() -> list[str] | None:
        await moto.run(moto.s3_put, bucket, "loop", b"")
        return await moto.run(moto.s3_keys, bucket, "")

    assert len(asyncio.run(from_the_loop()) or []) == 33
    moto_client("s3").put_object(Bucket=bucket, Key="wire", Body=b"")  # through the bridge

    moto_thread = moto.call(threading.get_ident)
    assert len(touched) > 32 * 3  # a put, a get and metric data per worker call, and more
    assert set(touched) == {moto_thread}


def test_a_blocking_call_on_motos_own_thread_runs_inline(moto: MotoState) -> None:
    def nested() -> list[str] | None:
        assert moto.on_thread()
        return moto.s3_keys(f"missing-{uuid.uuid4().hex[:12]}", "")  # blocking, from moto's

    assert moto.submit(nested).result(timeout=10) is None


def test_a_blocking_call_on_the_event_loop_is_refused(moto: MotoState) -> None:
    async def blocking() -> None:
        moto.s3_get("any", "key")

    with pytest.raises(RuntimeError, match="would block the event loop"):
        asyncio.run(blocking())
