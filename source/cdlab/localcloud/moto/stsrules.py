"""What STS refuses in AssumeRole and moto accepts, and the session policies moto does not keep.

DurationSeconds (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html): it
"can range from 900 seconds (15 minutes) up to the maximum session duration set for the role
... If you specify a value higher than this setting ..., the operation fails"; and "if you
assume a role using role chaining and provide a DurationSeconds parameter value greater than one
hour, the operation fails" (role chaining: a role session assuming a role,
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html#iam-term-role-chaining).
STS refuses both with ``ValidationError``, HTTP 400: "The requested DurationSeconds exceeds the
MaxSessionDuration set for this role." (kreuzwerker/awsu#27, aws-azure-login/aws-azure-login#93
quote it) and "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed
by role chaining." (https://repost.aws/knowledge-center/iam-role-chaining-limit; GitLab's
gitlab-runner issue 38370 quotes the whole answer). Which of the two a chained request over both
limits gets is not documented; here the chaining one, the lower ceiling. The botocore model holds
DurationSeconds to 900 .. 43,200 before moto sees it (:mod:`..protocols.modelcheck`).

Policy: "The plaintext that you use for both inline and managed session policies can't exceed
2,048 characters" (the same page). AssumeRole's model no longer bounds the member
(``unrestrictedSessionPolicyDocumentType``; AssumeRoleWithSAML's and AssumeRoleWithWebIdentity's
still say 2,048), and STS answers a policy too big for the session token with
``PackedPolicyTooLarge``, HTTP 400, "Packed policy consumes N% of allotted space, please use
smaller policy." (https://repost.aws/knowledge-center/iam-role-aws-sts-error; apache/polaris#3243
quotes "Packed policy consumes 118% of allotted space" for an AssumeRole policy past the 2,048
characters). AWS's packed size is of its own compressed form, which cannot be computed here: the
local cloud refuses an inline policy of more than 2,048 characters, whitespace not counted (as IAM
counts a policy's size, :mod:`policysizes`), with N its share of the 2,048, rounded up.
PolicyArns ("You can provide up to 10 managed policy ARNs") is held to 10 by the model the
local cloud validates against (``DOCUMENTED_LIMITS`` in :mod:`..protocols.awsjson`).

A session policy the local cloud cannot evaluate is refused at AssumeRole, not kept to deny
everything later. AssumeRole fails with ``MalformedPolicyDocument``, HTTP 400, "The request was
rejected because the policy document was malformed. The error message describes the specific
error." (the API reference's Errors; ansible-collections/amazon.aws#2778 quotes STS's answer to
an inline ``Policy`` that is not JSON): an inline policy that is not JSON or not a policy is
refused so, with the local cloud's own description of what is wrong (AWS's is its JSON parser's).
PolicyArns: "The policies must exist in the same account as the role" (the same page). What STS
answers for one that does not is not documented; the local cloud refuses it with
``MalformedPolicyDocument`` too, in its own words (:func:`missing_policy`). AWS managed policies
(``arn:aws:iam::aws:policy/...``) are moto's copy of them, which moto loads when its
``iam.load_aws_managed_policies`` setting is on (:func:`install` turns it on: some 0.07 s for an
account's IAM); one moto's copy lacks is refused, saying so. Moto draws their ids from its random,
which a journaled request seeds (:mod:`replayable`): an account's IAM made inside one would shift
what the request draws after (a session's key, at its replay no longer the same), so they are
drawn from a seed of their own, the same at every start, and moto's random left as it was.

Moto keeps the inline session policy (``AssumedRole.policy``) and drops PolicyArns; the wrapper
keeps them on the session it makes (:data:`POLICY_ARNS`), so that IAM enforcement evaluates both
(:mod:`..iam.enforcer`). Every AssumeRole reaches moto's response method (a client's, the
pipeline runner's, a journal's replay, in which an AssumeRole now refused is refused and logged),
so :func:`install` wraps it (:mod:`wrapping`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Container
from typing import Any

from moto.core.config import default_user_config
from moto.core.exceptions import ServiceException
from moto.iam.models import IAMBackend
from moto.moto_api._internal import mock_random
from moto.sts.exceptions import STSClientError, STSValidationError
from moto.sts.models import AssumedRole
from moto.sts.responses import TokenResponse

from cdlab.localcloud.iam.policy import PolicyError, PolicyType, compile_policy
from cdlab.localcloud.moto.policysizes import size
from cdlab.localcloud.moto.wrapping import wrap_once

POLICY_CHARACTERS = 2048
CHAINED_SECONDS = 3600
DEFAULT_MAX_SESSION = 3600  # a role's MaxSessionDuration when it sets none
POLICY_ARNS = "cdlab_policy_arns"  # the attribute of moto's AssumedRole holding PolicyArns
CHAINED = (
    "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role "
    "chaining."
)
AWS_MANAGED = "arn:aws:iam::aws:policy/"
AWS_MANAGED_SEED = 0  # moto's AWS managed policies' ids come from this seed, at every start
OVER_MAX = "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."


class PackedPolicyTooLarge(STSClientError):
    """STS's ``PackedPolicyTooLarge``, HTTP 400."""

    code = "PackedPolicyTooLarge"


class MalformedPolicyDocument(STSClientError):
    """STS's ``MalformedPolicyDocument``, HTTP 400."""

    code = "MalformedPolicyDocument"


def install() -> None:
    # AWS managed policies, for PolicyArns (and attachments) naming them: an account's IAM made
    # after this holds moto's copy of them
    default_user_config.setdefault("iam", {})["load_aws_managed_policies"] = True
    wrap_once(IAMBackend, "_init_aws_policies", _drawing_apart)
    wrap_once(TokenResponse, "assume_role", _checked)


def _drawing_apart(load: Callable[[IAMBackend], Any]) -> Callable[[IAMBackend], Any]:
    def loaded(iam: IAMBackend) -> Any:
        drawn = mock_random.getstate()
        mock_random.seed(AWS_MANAGED_SEED)
        try:
            return load(iam)
        finally:
            mock_random.setstate(drawn)

    return loaded


def packed_share(policy: str) -> int:
    """The percentage of the 2,048 characters an inline session policy takes (rounded up)."""
    return math.ceil(size(policy) * 100 / POLICY_CHARACTERS)


def _max_session(response: TokenResponse, role_arn: str) -> int | None:
    """The role's MaxSessionDuration in seconds; None if there is no such role in the
    account."""
    from cdlab.localcloud.moto.state import account_iam  # state installs this module

    iam = account_iam(response.current_account, response.partition)
    role = next((r for r in iam.roles.values() if r.arn == role_arn), None)
    if role is None:
        return None
    return int(role.max_session_duration or DEFAULT_MAX_SESSION)


def malformed(policy: str) -> str | None:
    """What is wrong with an inline session policy, in the local cloud's words; None if it is a
    policy the local cloud evaluates."""
    try:
        compile_policy(policy, PolicyType.SESSION)
    except PolicyError as e:
        return f"The session policy is not a policy the local cloud can evaluate: {e}"
    return None


def missing_policy(arn: str, held: Container[str]) -> str | None:
    """Why the managed session policy ``arn`` cannot limit a session (not ``held``, the ARNs of
    the account's managed policies and of moto's AWS managed ones); None if it can."""
    if arn in held:
        return None
    if arn.startswith(AWS_MANAGED):
        return (
            f"The local cloud does not hold the AWS managed policy {arn}: it holds moto's copy "
            "of AWS managed policies, and this one is not among them."
        )
    return (
        f"The managed session policy {arn} does not exist in the role's account (\"The policies "
        'must exist in the same account as the role").'
    )


def _policy_refusal(response: TokenResponse) -> ServiceException | None:
    """Why STS refuses the AssumeRole's session policies; None if it does not."""
    from cdlab.localcloud.moto.state import account_iam  # state installs this module

    policy = response._get_param("Policy")
    if policy and (wrong := malformed(policy)) is not None:
        return MalformedPolicyDocument(wrong)
    arns = policy_arns(response)
    if arns:
        held = account_iam(response.current_account, response.partition).managed_policies
        for arn in arns:
            if (wrong := missing_policy(arn, held)) is not None:
                return MalformedPolicyDocument(wrong)
    return None


def refusal(response: TokenResponse) -> ServiceException | None:
    """Why STS refuses the AssumeRole ``response`` answers; None if it does not."""
    if (refused := _policy_refusal(response)) is not None:
        return refused
    policy = response._get_param("Policy")
    if policy and (share := packed_share(policy)) > 100:
        return PackedPolicyTooLarge(
            f"Packed policy consumes {share}% of allotted space, please use smaller policy."
        )
    duration = response._get_int_param("DurationSeconds")
    if duration is None:
        return None
    chained = response.backend.get_assumed_role_from_access_key(response.get_access_key())
    if chained is not None and duration > CHAINED_SECONDS:
        return STSValidationError(CHAINED)
    ceiling = _max_session(response, response._get_param("RoleArn") or "")
    if ceiling is not None and duration > ceiling:
        return STSValidationError(OVER_MAX)
    return None


def policy_arns(response: TokenResponse) -> tuple[str, ...]:
    """The managed session policies' ARNs (``PolicyArns.member.N.arn``)."""
    members = response._get_param("PolicyArns") or []
    arns = (m.get("arn") or m.get("Arn") for m in members if isinstance(m, dict))
    return tuple(arn for arn in arns if arn)


def _checked(assume_role: Callable[[TokenResponse], Any]) -> Callable[[TokenResponse], Any]:
    def checked(response: TokenResponse) -> Any:
        refused = refusal(response)
        if refused is not None:
            raise refused
        answer = assume_role(response)
        session = getattr(answer, "result", {}).get("Credentials")
        if isinstance(session, AssumedRole):
            setattr(session, POLICY_ARNS, policy_arns(response))
        return answer

    return checked
