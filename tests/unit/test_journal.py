"""Which requests to moto the journal keeps (the operation, read off each wire protocol), and the
kit's own changes it keeps and replays with them."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import threading
import uuid
from pathlib import Path

import boto3
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from cdlab.localcloud.cloudformation.engine.restart import lost
from cdlab.localcloud.cloudformation.resources import iam
from cdlab.localcloud.moto.bridge import MotoBridge, MotoRequest
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.server import Gateway
from cdlab.localcloud.state.journal import KIND, Journal, changes_state, operation
from cdlab.localcloud.state.store import StateNotSaved, Store

FORM = ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")


def request(method: str, path: str, body: bytes = b"", *headers: tuple[str, str]) -> MotoRequest:
    return MotoRequest(method, path, tuple(headers), body)


@pytest.mark.parametrize(
    ("sent", "name", "kept"),
    [
        (request("POST", "/", b"{}", ("X-Amz-Target", "AnyScaleFrontendService.PutScalingPolicy")),
         "PutScalingPolicy", True),
        (request("POST", "/", b"{}", ("X-Amz-Target", "AWSGlue.GetTables")), "GetTables", False),
        (request("POST", "/", b"Action=CreateRole&RoleName=r", FORM), "CreateRole", True),
        (request("POST", "/", b"Action=ListRoles", FORM), "ListRoles", False),
        (request("GET", "/?Action=DeleteAlarms&AlarmNames.member.1=a"), "DeleteAlarms", True),
        (request("POST", "/service/GraniteServiceVersion20100801/operation/PutMetricAlarm"),
         "PutMetricAlarm", True),
        (request("POST", "/service/GraniteServiceVersion20100801/operation/PutMetricData"),
         "PutMetricData", False),
        (request("POST", "/", b"{}", ("X-Amz-Target", "Logs_20140328.PutLogEvents")),
         "PutLogEvents", False),
        (request("POST", "/", b"{}", ("X-Amz-Target", "Logs_20140328.DescribeLogGroups")),
         "DescribeLogGroups", False),
        (request("PUT", "/2015-03-31/functions/f/concurrency"), None, True),
        (request("GET", "/2015-03-31/functions/"), None, False),
    ],
)  # fmt: skip
def test_state_changing_operations_are_kept(
    sent: MotoRequest, name: str | None, kept: bool
) -> None:
    assert operation(sent) == name
    assert changes_state(sent) is kept


def test_requests_round_trip_through_the_store_format() -> None:
    sent = request("POST", "/?a=1", b"\x00\xff binary", ("X-Amz-Target", "A.B"), ("Host", "h:1"))
    assert MotoRequest.from_doc(sent.to_doc()) == sent
    assert sent.header("host") == "h:1" and sent.header("Missing") == ""


def test_the_kits_own_changes_are_replayed_in_order_with_the_ids_they_made(tmp_path) -> None:
    """A handler's changes in moto are journaled as calls and replayed among the requests; one
    that failed is not kept, and one not registered as replayable is refused."""
    journal = Journal(Store(tmp_path / "state.db"))
    moto = MotoState("111111111111", "us-east-1")  # an account of its own: backends are global
    name = f"journaled-{uuid.uuid4().hex[:8]}"
    create = {"RoleName": name, "AssumeRolePolicyDocument": "{}"}
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
    document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    policy = {"PolicyName": "p", "PolicyDocument": document}
    try:
        role_id = moto.call(journal.call, moto, iam._make, (create, None), {})
        with pytest.raises(Exception, match="Role missing not found"):
            moto.call(journal.call, moto, iam._change, ("missing", "PutRolePolicy", policy), {})
        moto.call(journal.call, moto, iam._change, (name, "PutRolePolicy", policy), {})
        with pytest.raises(TypeError, match="not a replayable change"):
            moto.call(journal.call, moto, iam._exists, (name,), {})
        assert [doc["call"].rsplit(".", 1)[1] for doc in journal.store.all(KIND)] == [
            "_make", "_change",
        ]  # fmt: skip

        backend = moto.iam_backend()
        moto.call(backend.delete_role_policy, name, "p")
        moto.call(backend.delete_role, name)  # what a restart loses
        assert journal.replay(MotoBridge(moto)) == 2
        role = moto.call(backend.get_role, name)
        assert (role.id, list(role.policies)) == (role_id, ["p"])
    finally:
        moto.shutdown()


def test_a_clients_change_is_journaled_in_the_order_moto_makes_it(tmp_path: Path) -> None:
    """A client's change waiting behind the kit's own change to the same role (moto's thread is
    busy) is journaled after it, as moto makes it: journaled on arrival, it would replay first,
    on a role not yet made, and the restart would lose it."""
    asyncio.run(_change_behind_the_kits_own(tmp_path))


async def _change_behind_the_kits_own(home: Path) -> None:
    gateway = Gateway(home, 0)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", gateway.moto_and_mirror)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    client = boto3.Session(
        aws_access_key_id="AKIAJOURNALTEST00000",
        aws_secret_access_key="secret",
        region_name="us-east-1",
    ).client("iam", endpoint_url=str(server.make_url("/")))
    name = f"ordered-{uuid.uuid4().hex[:8]}"
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
    document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    moto, busy = gateway.moto, threading.Event()
    loop = asyncio.get_running_loop()
    try:
        moto.submit(busy.wait)
        made = asyncio.wrap_future(
            moto.submit(
                gateway.journal.call,
                moto,
                iam._make,
                ({"RoleName": name, "AssumeRolePolicyDocument": "{}"}, None),
                {},
            )
        )
        put = loop.run_in_executor(
            None,
            functools.partial(
                client.put_role_policy, RoleName=name, PolicyName="p", PolicyDocument=document
            ),
        )
        with pytest.raises(TimeoutError):  # it waits for moto's thread, whatever it has done
            await asyncio.wait_for(asyncio.shield(put), 1)
        busy.set()
        await made
        await put
        journaled = [
            doc.get("call", "request").rsplit(".", 1)[-1] for doc in gateway.store.all(KIND)
        ]
        assert journaled == ["_make", "request"]

        backend = moto.iam_backend()
        await moto.run(backend.delete_role_policy, name, "p")
        await moto.run(backend.delete_role, name)  # what a restart loses
        assert await loop.run_in_executor(None, gateway.journal.replay, gateway.bridge) == 2
        role = await moto.run(backend.get_role, name)
        assert list(role.policies) == ["p"]
    finally:
        busy.set()
        await server.close()
        await moto.run(_remove_role, moto, name)
        moto.shutdown()
        gateway.store.close()


def _remove_role(moto: MotoState, name: str) -> None:
    """On moto's thread: the role and its policy, as far as the test made them (moto's backends
    outlive the test)."""
    backend = moto.iam_backend()
    with contextlib.suppress(Exception):
        backend.delete_role_policy(name, "p")
    with contextlib.suppress(Exception):
        backend.delete_role(name)


@pytest.mark.parametrize(
    ("entry", "put_back"),
    [
        ({"ResourceType": "AWS::IAM::Role", "_Journaled": True}, False),
        ({"ResourceType": "AWS::IAM::Role"}, True),  # recorded by an older kit
        ({"ResourceType": "AWS::S3::Bucket", "_Journaled": True}, True),  # S3 is not journaled
        ({"ResourceType": "AWS::SageMaker::Model"}, False),  # not moto's
    ],
)
def test_what_the_journal_does_not_bring_back_is_put_back_from_the_stack(
    entry: dict, put_back: bool
) -> None:
    assert lost({**entry, "ResourceStatus": "UPDATE_COMPLETE"}) is put_back
    assert lost({**entry, "ResourceStatus": "DELETE_COMPLETE"}) is False


def test_a_change_that_cannot_take_the_last_ones_place_leaves_it(tmp_path: Path) -> None:
    """A change journaled ``replacing`` the last one under its key, which the state dir cannot
    keep, is refused before it is made, and that last one stays for a restart to bring back."""
    store = Store(tmp_path / "state.db")
    journal = Journal(store)
    moto = MotoState("111111111112", "us-east-1")  # an account of its own: backends are global
    try:
        change = functools.partial(moto.call, journal.call, moto, MotoState.set_alarm_state)
        change(("gone", "kept", "{}", "OK"), {}, "alarm-state")
        pages = store._db.execute("PRAGMA page_count").fetchone()[0]
        store._db.execute(f"PRAGMA max_page_count = {pages}")  # a full disk, as SQLite sees one
        with pytest.raises(StateNotSaved, match="database or disk is full"):
            change(("gone", "x" * 100_000, "{}", "ALARM"), {}, "alarm-state")
        assert [doc["args"][1] for doc in store.all(KIND)] == ["kept"]
    finally:
        moto.shutdown()
