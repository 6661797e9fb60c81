"""IAM's quotas on the size of a policy document, which moto does not enforce.

A customer managed policy holds at most 6,144 characters; a role's inline policies together at
most 10,240, a user's 2,048 and a group's 5,120; whitespace is not counted ("IAM and AWS STS
quotas", https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html). IAM
refuses a document over them with ``LimitExceeded``: "Cannot exceed quota for PolicySize: 6144"
for a managed policy, "Maximum policy size of 10240 bytes exceeded for role NAME" for an inline
one, as IAM's users quote its answers (the quotas page gives the limits, not the words).

Every way the kit makes a policy ends in moto's ``IAMBackend`` (the IAM API through moto's
server app, its replay from the journal, and a stack role's ``Policies``), so :func:`install`
wraps its methods (:mod:`wrapping`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from moto.iam.exceptions import LimitExceededException

from cdlab.localcloud.moto.wrapping import wrap_once

if TYPE_CHECKING:
    from moto.iam.models import IAMBackend

MANAGED_POLICY_CHARACTERS = 6144
INLINE_CHARACTERS = {"role": 10240, "user": 2048, "group": 5120}


def size(document: str) -> int:
    """A document's size as IAM counts it: its characters but whitespace."""
    return len("".join(document.split()))


def install() -> None:
    from moto.iam.models import IAMBackend

    wrap_once(IAMBackend, "create_policy", _managed(lambda args: args[2]))
    wrap_once(IAMBackend, "create_policy_version", _managed(lambda args: args[1]))
    wrap_once(IAMBackend, "put_role_policy", _inline("role", IAMBackend.get_role))
    wrap_once(IAMBackend, "put_user_policy", _inline("user", IAMBackend.get_user))
    wrap_once(IAMBackend, "put_group_policy", _inline("group", IAMBackend.get_group))


def _managed(document: Callable[[tuple[Any, ...]], str]) -> Callable[..., Callable[..., Any]]:
    """A wrapper refusing a managed policy document (``document`` finds it in the positional
    arguments after the backend) over its quota."""

    def wrapper(create: Callable[..., Any]) -> Callable[..., Any]:
        def checked(backend: IAMBackend, *args: Any) -> Any:
            if size(document(args)) > MANAGED_POLICY_CHARACTERS:
                raise LimitExceededException(
                    f"Cannot exceed quota for PolicySize: {MANAGED_POLICY_CHARACTERS}"
                )
            return create(backend, *args)

        return checked

    return wrapper


def _inline(kind: str, owner: Callable[..., Any]) -> Callable[..., Callable[..., Any]]:
    """A wrapper refusing an inline policy that would take a ``kind``'s inline policies (found
    with ``owner``, one of the backend's getters) over their quota together; the policy it
    replaces, of the same name, does not count."""
    quota = INLINE_CHARACTERS[kind]

    def wrapper(put: Callable[..., None]) -> Callable[..., None]:
        def checked(backend: IAMBackend, name: str, policy_name: str, document: str) -> None:
            others = owner(backend, name).policies
            total = size(document) + sum(
                size(text) for held, text in others.items() if held != policy_name
            )
            if total > quota:
                raise LimitExceededException(
                    f"Maximum policy size of {quota} bytes exceeded for {kind} {name}"
                )
            put(backend, name, policy_name, document)

        return checked

    return wrapper
