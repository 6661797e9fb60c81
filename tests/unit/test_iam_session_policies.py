"""Session policies: a role session assumed with them may do only what its role's policies and
its session policies both allow, but what a resource-based policy grants its own ARN (or anyone);
one naming its role is limited as the role's own policies are
(https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session). The
enforcer keeps them compiled per session policy, and a session without any is decided as
before."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from cdlab.localcloud.context import Principal, SessionPolicy
from cdlab.localcloud.iam.enforcer import Enforcer
from cdlab.localcloud.iam.policy import Decision, PolicyType, Request, compile_policy, evaluate
from cdlab.localcloud.iam.wire import Call
from cdlab.localcloud.moto.stsrules import packed_share
from tests.unit.test_iam_enforcer import ACCOUNT, ROLE, SESSION, FakeMoto, denial, policy

BUCKET_OBJECT = "arn:aws:s3:::data/k"
EVERYTHING = policy({"Effect": "Allow", "Action": "*", "Resource": "*"})
READ = policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
LIST = policy({"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"})
NO_READ = policy(
    {"Effect": "Allow", "Action": "*", "Resource": "*"},
    {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"},
)
ALLOWED = (Decision.ALLOW, None)
NOT_BY_SESSION = (Decision.IMPLICIT_DENY, PolicyType.SESSION)
DENIED_BY_SESSION = (Decision.EXPLICIT_DENY, PolicyType.SESSION)
NOT_BY_IDENTITY = (Decision.IMPLICIT_DENY, PolicyType.IDENTITY)


def granting(principal: Any) -> str:
    """A bucket policy letting ``principal`` get its objects."""
    statement = {"Effect": "Allow", "Principal": principal, "Action": "s3:GetObject"}
    return policy({**statement, "Resource": "arn:aws:s3:::data/*"})


def case(name: str, identity: list[str], session: list[str] | None, bucket: str | None, expected):
    return pytest.param(identity, session, bucket, expected, id=name)


CASES = [
    case("no-session-policy-role-decides", [READ], None, None, ALLOWED),
    case("intersection-allows", [EVERYTHING], [READ], None, ALLOWED),
    case("session-policy-does-not-allow", [EVERYTHING], [LIST], None, NOT_BY_SESSION),
    case("session-policy-grants-nothing-beyond-role", [LIST], [READ], None, NOT_BY_IDENTITY),
    case("any-session-policy-may-allow", [EVERYTHING], [LIST, READ], None, ALLOWED),
    case("session-policy-deny-wins", [EVERYTHING], [NO_READ], None, DENIED_BY_SESSION),
    case("no-compiled-session-policy-allows-nothing", [EVERYTHING], [], None, NOT_BY_SESSION),
    case(
        "bucket-policy-naming-session-is-not-limited",
        [],
        [LIST],
        granting({"AWS": SESSION.arn}),
        ALLOWED,
    ),
    case("bucket-policy-to-anyone-is-not-limited", [], [LIST], granting("*"), ALLOWED),
    case(
        "bucket-policy-naming-role-is-limited",
        [],
        [LIST],
        granting({"AWS": ROLE}),
        NOT_BY_SESSION,
    ),
    case(
        "bucket-policy-naming-role-within-session-policy",
        [],
        [READ],
        granting({"AWS": ROLE}),
        ALLOWED,
    ),
    case(
        "bucket-policy-naming-account-needs-both",
        [EVERYTHING],
        [LIST],
        granting({"AWS": ACCOUNT}),
        NOT_BY_SESSION,
    ),
]


@pytest.mark.parametrize(("identity", "session", "bucket", "expected"), CASES)
def test_evaluation_with_session_policies(identity, session, bucket, expected) -> None:
    request = Request(SESSION.arn, "s3:GetObject", (BUCKET_OBJECT,))
    session_policies = None
    if session is not None:
        session_policies = [compile_policy(p, PolicyType.SESSION) for p in session]
    resource = None if bucket is None else compile_policy(bucket, PolicyType.RESOURCE)
    outcome = evaluate(identity, request, resource, session_policies=session_policies)
    assert (outcome.decision, outcome.policy_type) == expected


def trusting(principal: Any) -> str:
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    return policy(statement)


@pytest.mark.parametrize(
    ("trusted", "expected"),
    [
        pytest.param({"AWS": SESSION.arn}, ALLOWED, id="trust-names-the-session"),
        pytest.param({"AWS": ROLE}, NOT_BY_SESSION, id="trust-names-its-role"),
        pytest.param({"AWS": ACCOUNT}, NOT_BY_SESSION, id="trust-names-the-account"),
    ],
)
def test_role_chaining_under_a_session_policy(trusted, expected) -> None:
    request = Request(SESSION.arn, "sts:AssumeRole", (f"arn:aws:iam::{ACCOUNT}:role/next",))
    outcome = evaluate(
        [EVERYTHING],
        request,
        compile_policy(trusting(trusted), PolicyType.RESOURCE),
        resource_policy_required=True,
        session_policies=[compile_policy(LIST, PolicyType.SESSION)],
    )
    assert (outcome.decision, outcome.policy_type) == expected


class SessionMoto(FakeMoto):
    def __init__(self) -> None:
        super().__init__()
        self.managed: dict[str, str] = {}

    def managed_policy(self, arn: str) -> str | None:
        return self.managed.get(arn)


def test_the_enforcer_limits_a_session_by_its_inline_and_managed_session_policies() -> None:
    moto = SessionMoto()
    moto.identity[ROLE] = [EVERYTHING]
    listing = f"arn:aws:iam::{ACCOUNT}:policy/listing"
    moto.managed[listing] = LIST
    enforcer = Enforcer(moto)  # type: ignore[arg-type]
    reading = dataclasses.replace(SESSION, session_policy=SessionPolicy(READ))
    listing_only = dataclasses.replace(SESSION, session_policy=SessionPolicy(None, (listing,)))
    get = Call("s3", "GetObject", {"Bucket": "data", "Key": "k"})
    assert denial(enforcer, SESSION, get) is None
    assert denial(enforcer, reading, get) is None
    refused = denial(enforcer, listing_only, get)
    assert refused is not None
    assert refused.message(quote_resource=True) == (
        f'User: {SESSION.arn} is not authorized to perform: s3:GetObject on resource: "arn:aws:'
        's3:::data/k" because no session policy allows the s3:GetObject action'
    )
    assert denial(enforcer, listing_only, Call("s3", "ListBuckets", {})) is None
    fetches = moto.fetches
    assert denial(enforcer, listing_only, get) is not None  # decided once, kept
    assert denial(enforcer, SESSION, get) is None  # the same ARN without: not confused
    assert moto.fetches == fetches
    moto.managed[listing] = READ
    enforcer.forget()  # IAM changed: a managed session policy may have
    assert denial(enforcer, listing_only, get) is None


def test_an_explicit_deny_in_a_session_policy_is_worded_as_aws_words_it() -> None:
    moto = SessionMoto()
    moto.identity[ROLE] = [EVERYTHING]
    enforcer = Enforcer(moto)  # type: ignore[arg-type]
    denied = dataclasses.replace(SESSION, session_policy=SessionPolicy(NO_READ))
    refused = denial(enforcer, denied, Call("s3", "GetObject", {"Bucket": "data", "Key": "k"}))
    assert refused is not None
    assert refused.message() == (
        f"User: {SESSION.arn} is not authorized to perform: s3:GetObject on resource: "
        f"{BUCKET_OBJECT} with an explicit deny in a session policy"
    )


def test_a_principal_with_a_session_policy_survives_its_json_round_trip() -> None:
    principal = dataclasses.replace(SESSION, session_policy=SessionPolicy(LIST, ("arn:p",)))
    doc = json.loads(json.dumps(dataclasses.asdict(principal)))
    assert Principal.from_doc(doc) == principal
    assert Principal.from_doc(json.loads(json.dumps(dataclasses.asdict(SESSION)))) == SESSION


def test_the_packed_share_counts_an_inline_policys_characters_but_whitespace() -> None:
    assert packed_share("x" * 2048) == 100
    assert packed_share("x" * 2049) == 101
    assert packed_share(" x" * 2048) == 100
