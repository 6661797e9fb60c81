"""A journaled AssumeRole replays into the session it made: the same key id, secret and session
token, expiring its DurationSeconds after the time it was journaled, not after the replay."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from cdlab.localcloud.moto.bridge import MotoBridge, MotoRequest
from cdlab.localcloud.moto.records import RoleSession
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.state.journal import KIND, Journal
from cdlab.localcloud.state.store import Store

ACCOUNT = "111111111111"  # an account of its own: moto's backends outlive the test


def assume_role(role_arn: str, name: str, duration: int) -> MotoRequest:
    body = urlencode({"Action": "AssumeRole", "Version": "2011-06-15", "RoleArn": role_arn,
                      "RoleSessionName": name, "DurationSeconds": duration})  # fmt: skip
    headers = (
        ("Host", "127.0.0.1:4566"),
        ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
        ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240101/"
         "us-east-1/sts/aws4_request, SignedHeaders=host, Signature=0"),
    )  # fmt: skip
    return MotoRequest("POST", "/", headers, body.encode())


def sessions(moto: MotoState) -> list[RoleSession]:
    """On moto's thread: the sessions STS holds for the account, taken out of moto (a restart)."""
    made = moto.sts_backend().assumed_roles
    found = [moto.role_session(s.access_key_id) for s in made]
    made.clear()
    return [s for s in found if s is not None]


def test_a_replayed_assume_role_makes_the_session_a_client_was_given(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    journal, moto = Journal(store), MotoState(ACCOUNT, "us-east-1")
    bridge = MotoBridge(moto)
    role = f"arn:aws:iam::{ACCOUNT}:role/replayed-{uuid.uuid4().hex[:8]}"
    try:
        for name, duration in (("first", 900), ("second", 3600)):
            status, _, body = moto.call(journal.make, bridge, assume_role(role, name, duration))
            assert status == 200, body
        given = moto.call(sessions, moto)
        assert len({s.session_token for s in given}) == 2

        assert journal.replay(bridge) == 2
        assert moto.call(sessions, moto) == given
        assert journal.replay(bridge) == 2  # and at every start
        assert moto.call(sessions, moto) == given
        at = [datetime.fromtimestamp(doc["at"], UTC) for doc in store.all(KIND)]
        assert [s.expiration for s in given] == [
            at[0] + timedelta(seconds=900),
            at[1] + timedelta(seconds=3600),
        ]
    finally:
        moto.shutdown()
        store.close()
