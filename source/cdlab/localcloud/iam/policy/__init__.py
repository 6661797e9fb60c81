"""AWS's policy evaluation logic within one account, as a pure module: no I/O, no moto.

A request is denied if any applicable statement denies it, allowed if an identity-based policy
allows it or a resource-based policy allows it to the caller by name, and otherwise denied
implicitly (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).
An action on several resources is allowed only if it is allowed on each. Policies are parsed and
checked once by :func:`compile_policy` (a malformed one raises :class:`PolicyError`, which is
how a PutRolePolicy of it is refused); :func:`evaluate` then costs a few precompiled regular
expression matches per statement. Callers cache the :class:`CompiledPolicy` of each document.

Supported: ``Action``/``NotAction`` (case-insensitive), ``Resource``/``NotResource`` (case-
sensitive), ``*`` and ``?`` wildcards, ``Principal``/``NotPrincipal`` of resource-based policies,
policy variables with defaults and the ``${*}``, ``${?}``, ``${$}`` escapes, and every condition
operator of the documentation except ``BinaryEquals``, with ``...IfExists`` and the
``ForAnyValue:``/``ForAllValues:`` set operators, and a role session's session policies
(https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session). Not
modelled: permissions boundaries, SCPs, cross-account access.

Why this is written by hand. moto's own enforcement (moto/iam/access_control.py, moto 5.2) sees
a resource ARN for S3 only ("*" elsewhere), matches actions case-sensitively through an unescaped
regular expression without ``?``, knows no condition operator but ``StringEquals`` (trust
policies), turns an Allow statement whose condition fails into an explicit deny, and never reads
bucket policies. principalmapper (PMapper 1.1.5, January 2022, unreleased since; AGPL-3.0, which
the kit cannot take on) simulates more, but over its own graph of ``Node`` objects, matches
resources case-insensitively, escapes only ``.``, ``$`` and ``^`` of a pattern, substitutes
variables textually (a missing one stays literal, no ``${*}``), evaluates ``StringNotLike`` with
a missing key to false against the documentation, and has a copy-paste bug in its SNS/SQS action
path. policy_sentry (0.15, maintained, MIT) is a database of IAM actions, ARN formats and
condition keys with a policy writer: it evaluates nothing, and would pull in requests,
beautifulsoup4, orjson, click and schema plus a 13 MB JSON file for it.

Modules: ``values`` (policy and context values, :class:`PolicyError`), ``request`` (the
:class:`Request`), ``matching`` (wildcards, ARNs, policy variables), ``conditions`` (the
condition operators), ``documents`` (parsing and compiling, :class:`CompiledPolicy`) and
``evaluation`` (:func:`evaluate`).
"""

from cdlab.localcloud.iam.policy.documents import (
    VARIABLES_VERSION,
    CompiledPolicy,
    PolicyType,
    compile_policy,
)
from cdlab.localcloud.iam.policy.evaluation import Decision, Evaluation, PolicyLike, evaluate
from cdlab.localcloud.iam.policy.request import Request
from cdlab.localcloud.iam.policy.values import PolicyError

__all__ = [
    "VARIABLES_VERSION",
    "CompiledPolicy",
    "Decision",
    "Evaluation",
    "PolicyError",
    "PolicyLike",
    "PolicyType",
    "Request",
    "compile_policy",
    "evaluate",
]
