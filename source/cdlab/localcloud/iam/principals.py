"""Who signed a request with a key other than the kit's: an IAM user, or a role session.

The kit's own key is the account's administrator; the auth guard recognizes it without asking
anyone. Any other access key id is looked up in moto's IAM and STS stores, which the IAM and
STS APIs fill:

- an IAM user's access key (CreateAccessKey) makes that user the caller,
  ``arn:aws:iam::ACCOUNT:user/NAME``, whose own policies apply; an inactive key is no key
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html);
- the temporary key of an AssumeRole session (its id starts ``ASIA``) makes the session the
  caller, ``arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION``, whose role's policies apply,
  limited by the session policies it was assumed with (:class:`SessionPolicy`, evaluated by
  :mod:`.enforcer`). The request must carry the session token in ``X-Amz-Security-Token`` (a
  header, or the query of a presigned URL), and the session ends at its expiration
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_use-resources.html,
  https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html).

The identifiers are IAM's (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html).

A key once found is kept by its id, so a request signed with a known key does not wait for
moto's thread. What is kept is forgotten whenever an IAM request changes anything (a key
deleted, deactivated, a user renamed or deleted ...); a key not found is not kept, so a session
STS has just issued is found at its first request.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Literal

from cdlab.localcloud.context import Principal, SessionPolicy
from cdlab.localcloud.moto.state import MotoState

Refusal = Literal["key", "token", "token-expired"]
"""Why a request signed with a known key is refused: the key is not usable without a session
token (``key``, as an unknown key is), the token is not the session's or the key takes none
(``token``), or the session has expired (``token-expired``)."""


@dataclass(frozen=True)
class AccessKey:
    """An access key the gateway accepts: whose it is, its secret and, for a role session, the
    session token and when the session expires (seconds since the epoch)."""

    principal: Principal
    secret: str
    session_token: str | None = None
    expires_at: float | None = None

    def refusal(self, token: str | None, now: float) -> Refusal | None:
        """Why a request signed with this key and carrying ``token`` (its
        X-Amz-Security-Token, None if it has none) at ``now`` is refused; None if it is not."""
        if self.session_token is None:
            return None if token is None else "token"
        if token is None:
            return "key"
        if not hmac.compare_digest(token.encode(), self.session_token.encode()):
            return "token"
        if self.expires_at is not None and self.expires_at <= now:
            return "token-expired"
        return None


class Principals:
    """Access keys other than the kit's, resolved in moto's IAM and STS stores and kept by id."""

    def __init__(self, moto: MotoState) -> None:
        self.moto = moto
        self._known: dict[str, AccessKey] = {}
        self._generation = 0  # how many times IAM changed: a lookup older than a change is stale

    async def resolve(self, key_id: str) -> AccessKey | None:
        """The access key ``key_id`` (from the event loop); None if neither an IAM user nor a
        role session has it, or the user's key is inactive."""
        known = self._known.get(key_id)
        if known is not None:
            return known
        generation = self._generation
        found = await self.moto.run(self._look_up, key_id)
        if found is not None and generation == self._generation:
            self._known[key_id] = found
        return found

    def forget(self) -> None:
        """Forget every key found: IAM has changed, and a key may be gone or its user renamed."""
        self._known.clear()
        self._generation += 1

    def _look_up(self, key_id: str) -> AccessKey | None:
        """On moto's thread: the role session or IAM user that has ``key_id``."""
        session = self.moto.role_session(key_id)
        if session is not None:
            policy = None
            if session.policy is not None or session.policy_arns:
                policy = SessionPolicy(session.policy, session.policy_arns)
            principal = Principal(
                session.arn, key_id, "assumed-role", session.role_arn, session_policy=policy
            )
            return AccessKey(
                principal,
                session.secret_access_key,
                session.session_token,
                session.expiration.timestamp(),
            )
        key = self.moto.user_access_key(key_id)
        if key is None or not key.active:
            return None
        return AccessKey(
            Principal(key.user_arn, key_id, "user", key.user_arn, key.user_name),
            key.secret_access_key,
        )
