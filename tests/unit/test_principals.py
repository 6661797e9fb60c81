"""Keys other than the kit's: IAM users' access keys and role sessions, found in moto's stores
and kept by id; a session's token and expiry checked; the kit's own key never asks moto."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.error import HTTPError
from urllib.request import urlopen

import boto3
import pytest
from aiohttp import web
from botocore.config import Config
from botocore.exceptions import ClientError

from cdlab import config
from cdlab.localcloud import control
from cdlab.localcloud.context import Principal, SessionPolicy
from cdlab.localcloud.iam.principals import AccessKey, Principals
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.protocols import auth
from cdlab.localcloud.protocols.auth import CONTEXT
from tests.aws_errors import refused

ACCOUNT = config.ACCOUNT_ID
KIT_KEY, KIT_SECRET = control.LOCAL_KEY_PREFIX + "UNITTEST", "kit-secret"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def user_key(iam: Any) -> tuple[str, dict[str, str]]:
    """A new IAM user and its access key."""
    name = f"unit-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    return name, iam.create_access_key(UserName=name)["AccessKey"]


def role_session(iam: Any, sts: Any) -> tuple[str, dict[str, Any]]:
    """A new role's ARN and the credentials of a session that assumed it."""
    name = f"unit-{uuid.uuid4().hex[:8]}"
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    return arn, sts.assume_role(RoleArn=arn, RoleSessionName="unit-session")["Credentials"]


@pytest.fixture
def submitted(moto: MotoState, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of everything queued on moto's thread from now on."""
    names: list[str] = []
    submit = moto.submit

    def recorded(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        names.append(getattr(fn, "__name__", repr(fn)))
        return submit(fn, *args, **kwargs)

    monkeypatch.setattr(moto, "submit", recorded)
    return names


# ---- the rules of a key ----------------------------------------------------------------------


def test_a_long_term_key_takes_no_token_and_a_session_needs_its_own_until_it_expires() -> None:
    user = AccessKey(Principal("arn:aws:iam::1:user/u", "AKIA1", "user"), "s")
    assert user.refusal(None, now=0) is None
    assert user.refusal("any-token", now=0) == "token"
    session = AccessKey(
        Principal("arn:aws:sts::1:assumed-role/r/s", "ASIA1", "assumed-role"), "s", "tok", 100.0
    )
    assert session.refusal("tok", now=99.9) is None
    assert session.refusal(None, now=0) == "key"  # as AWS answers a key without its token
    assert session.refusal("other", now=0) == "token"
    assert session.refusal("tók", now=0) == "token"  # not ASCII: refused, not a TypeError
    assert session.refusal("tok", now=100.0) == "token-expired"
    assert session.refusal("other", now=200.0) == "token"  # a wrong token says nothing more


# ---- finding keys in moto --------------------------------------------------------------------


def test_an_iam_users_key_is_the_user_and_is_kept_until_iam_changes(
    moto: MotoState, moto_client: Callable[[str], Any], submitted: list[str]
) -> None:
    iam = moto_client("iam")
    name, key = user_key(iam)
    principals = Principals(moto)
    submitted.clear()

    found = asyncio.run(principals.resolve(key["AccessKeyId"]))
    assert found == AccessKey(
        Principal(
            f"arn:aws:iam::{ACCOUNT}:user/{name}",
            key["AccessKeyId"],
            "user",
            f"arn:aws:iam::{ACCOUNT}:user/{name}",
            name,
        ),
        key["SecretAccessKey"],
    )
    assert asyncio.run(principals.resolve(key["AccessKeyId"])) is found
    assert submitted == ["_look_up"]  # one trip to moto's thread, then the kept key

    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    principals.forget()
    assert asyncio.run(principals.resolve(key["AccessKeyId"])) is None
    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Active")
    principals.forget()
    assert asyncio.run(principals.resolve(key["AccessKeyId"])) == found
    iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    principals.forget()
    assert asyncio.run(principals.resolve(key["AccessKeyId"])) is None


def test_a_role_sessions_key_is_the_assumed_role_with_its_token_and_expiry(
    moto: MotoState, moto_client: Callable[[str], Any]
) -> None:
    role_arn, credentials = role_session(moto_client("iam"), moto_client("sts"))
    found = asyncio.run(Principals(moto).resolve(credentials["AccessKeyId"]))
    assert credentials["AccessKeyId"].startswith("ASIA")
    assert found == AccessKey(
        Principal(
            f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_arn.split('/')[-1]}/unit-session",
            credentials["AccessKeyId"],
            "assumed-role",
            role_arn,
        ),
        credentials["SecretAccessKey"],
        credentials["SessionToken"],
        credentials["Expiration"].timestamp(),
    )


def test_a_role_sessions_key_carries_the_session_policies_it_was_assumed_with(
    moto: MotoState, moto_client: Callable[[str], Any]
) -> None:
    iam, sts = moto_client("iam"), moto_client("sts")
    name = f"unit-{uuid.uuid4().hex[:8]}"
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    inline = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        }
    )
    managed = iam.create_policy(PolicyName=f"{name}-listing", PolicyDocument=inline)["Policy"][
        "Arn"
    ]  # a session's PolicyArns must exist in the role's account
    credentials = sts.assume_role(
        RoleArn=arn, RoleSessionName="limited", Policy=inline, PolicyArns=[{"arn": managed}]
    )["Credentials"]
    found = asyncio.run(Principals(moto).resolve(credentials["AccessKeyId"]))
    assert found is not None
    assert found.principal.session_policy == SessionPolicy(inline, (managed,))
    _, plain = role_session(iam, sts)
    unlimited = asyncio.run(Principals(moto).resolve(plain["AccessKeyId"]))
    assert unlimited is not None and unlimited.principal.session_policy is None


def test_an_unknown_key_is_not_kept_so_a_new_session_is_found_at_once(
    moto: MotoState, moto_client: Callable[[str], Any]
) -> None:
    principals = Principals(moto)
    assert asyncio.run(principals.resolve("ASIANOSUCHKEY0000000")) is None
    _, credentials = role_session(moto_client("iam"), moto_client("sts"))
    assert asyncio.run(principals.resolve(credentials["AccessKeyId"])) is not None


def test_a_lookup_that_started_before_an_iam_change_is_not_kept(
    moto: MotoState, moto_client: Callable[[str], Any], submitted: list[str]
) -> None:
    _, key = user_key(moto_client("iam"))
    principals = Principals(moto)
    submitted.clear()

    async def change_while_looking() -> None:
        lookup = asyncio.ensure_future(principals.resolve(key["AccessKeyId"]))
        await asyncio.sleep(0)  # the lookup is queued on moto's thread
        principals.forget()
        assert await lookup is not None
        assert await principals.resolve(key["AccessKeyId"]) is not None

    asyncio.run(change_while_looking())
    assert submitted == ["_look_up", "_look_up"]  # what the first found was not kept


# ---- the guard, through real clients --------------------------------------------------------


class Keys:
    """Principals that know a fixed set of keys, counting the lookups."""

    def __init__(self, *keys: AccessKey) -> None:
        self.keys = {k.principal.access_key_id: k for k in keys}
        self.lookups = 0

    async def resolve(self, key_id: str) -> AccessKey | None:
        self.lookups += 1
        return self.keys.get(key_id)


@pytest.fixture
def guard() -> Iterator[Callable[[Any], str]]:
    """``guard(principals)``: the URL of a server that answers, behind the auth guard, with the
    ARN and kind of the principal it found."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    runners: list[web.AppRunner] = []

    async def caller(request: web.Request) -> web.Response:
        principal = request[CONTEXT].principal
        return web.json_response({"arn": principal.arn, "kind": principal.kind})

    async def serve(principals: Any) -> str:
        app = web.Application(middlewares=[auth.middleware(KIT_KEY, KIT_SECRET, principals)])
        app.router.add_route("*", "/{tail:.*}", caller)
        runner = web.AppRunner(app)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    def start(principals: Any) -> str:
        return asyncio.run_coroutine_threadsafe(serve(principals), loop).result(10)

    yield start
    for runner in runners:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def client(url: str, service: str, key: str, secret: str, token: str | None = None) -> Any:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=Config(retries={"total_max_attempts": 1}, s3={"addressing_style": "path"}),
    )


def test_the_kit_keys_requests_never_reach_moto(
    guard: Callable[[Any], str], moto: MotoState, submitted: list[str]
) -> None:
    url = guard(Principals(moto))
    s3 = client(url, "s3", KIT_KEY, KIT_SECRET)
    for _ in range(3):
        answer = json.loads(s3.get_object(Bucket="b", Key="k")["Body"].read())
        assert answer == {"arn": f"arn:aws:iam::{ACCOUNT}:root", "kind": "root"}
    assert submitted == []
    with pytest.raises(ClientError):
        client(url, "sts", "AKIAOTHERKEY00000000", KIT_SECRET).get_caller_identity()
    assert submitted == ["_look_up"]  # any other key is looked up in moto


def test_a_request_is_served_as_the_principal_of_its_key(guard: Callable[[Any], str]) -> None:
    session = AccessKey(
        Principal(f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s", "ASIASESSION", "assumed-role"),
        "session-secret",
        "the-token",
        time.time() + 900,
    )
    url = guard(Keys(session))
    s3 = client(url, "s3", "ASIASESSION", "session-secret", "the-token")
    answer = s3.get_object(Bucket="b", Key="k")["Body"].read()
    assert json.loads(answer) == {"arn": session.principal.arn, "kind": "assumed-role"}
    presigned = s3.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"})
    assert "x-amz-security-token=the-token" in presigned  # SigV2: the token is signed too
    with urlopen(presigned) as response:
        assert json.loads(response.read())["arn"] == session.principal.arn
    wrong = presigned.replace("x-amz-security-token=the-token", "x-amz-security-token=other")
    with pytest.raises(HTTPError) as info:
        urlopen(wrong)
    assert info.value.code == 400 and b"<Code>InvalidToken</Code>" in info.value.read()


def test_an_expired_session_is_refused_in_each_familys_words(
    guard: Callable[[Any], str],
) -> None:
    session = AccessKey(
        Principal(f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s", "ASIAEXPIRED", "assumed-role"),
        "session-secret",
        "the-token",
        time.time() - 1,
    )
    url = guard(Keys(session))
    as_session = {"key": "ASIAEXPIRED", "secret": "session-secret", "token": "the-token"}
    assert refused(client(url, "sts", **as_session).get_caller_identity) == (
        "ExpiredToken",
        "The security token included in the request is expired",
        403,
    )
    assert refused(client(url, "sagemaker", **as_session).list_models) == (
        "ExpiredTokenException",
        "The security token included in the request is expired",
        400,
    )
    assert refused(client(url, "s3", **as_session).list_buckets) == (
        "ExpiredToken",
        "The provided token has expired.",
        400,
    )
