"""A role session's credentials, the same at every replay of the AssumeRole that made them.

On AWS, "after AWS STS issues temporary security credentials, they are valid through the
expiration period and cannot be revoked"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access.html); a
restart of the local cloud must not end them early, nor make them last longer. Moto keeps its
sessions in memory only, and the journal brings them back by replaying each AssumeRole
(:mod:`cdlab.localcloud.state.journal`) with the seed it was first made with: the temporary
access key id and its secret are drawn from moto's seeded random and come back the same, but
moto draws the session token from ``os.urandom`` and counts the expiration from the time the
replay runs. A client's session token was then refused after a restart (``InvalidClientTokenId``,
"The security token included in the request is invalid."), and a session outlived its
expiration by the time until the restart.

So, wrapping moto (:mod:`wrapping`): the session token is drawn from moto's seeded random too,
the same 266 random bytes in the same form as moto's, and a session made in a journaled request
(its first making and every replay) expires its DurationSeconds after the time the request was
journaled (:func:`replayable.journaled_at`), not after now; one made outside the journal (none
is: every AssumeRole over the wire is journaled) or replayed from an older kit's journal, which
kept no time, expires as moto has it. An expired session is still made at replay, so its key is
refused as expired (:mod:`..protocols.auth`), as AWS refuses it, not as unknown:
``ExpiredTokenException``, "The security token included in the request is expired"
(https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html), which STS answers as
``ExpiredToken`` ("An error occurred (ExpiredToken) when calling the GetCallerIdentity
operation: The security token included in the request is expired", quoted in
https://github.com/miquella/vaulted/issues/107).

An IAM user's access key (CreateAccessKey) needs nothing here: its id and secret come from the
seeded random and come back the same.
"""

from __future__ import annotations

import base64
import datetime
import inspect
from collections.abc import Callable
from typing import Any

import moto.sts.models as sts_models
from moto.moto_api._internal import mock_random
from moto.sts.models import AssumedRole, STSBackend
from moto.sts.utils import SESSION_TOKEN_PREFIX

from cdlab.localcloud.moto.replayable import journaled_at
from cdlab.localcloud.moto.wrapping import wrap_once

TOKEN_BYTES = 266  # as moto's random_session_token


def install() -> None:
    wrap_once(sts_models, "random_session_token", _seeded_token)
    wrap_once(STSBackend, "assume_role", _expiring_from_journal)


def session_token() -> str:
    """A session token in moto's form, its random part drawn from moto's (seeded) random."""
    drawn = base64.b64encode(mock_random.randbytes(TOKEN_BYTES)).decode()
    return SESSION_TOKEN_PREFIX + drawn[len(SESSION_TOKEN_PREFIX) :]


def _seeded_token(_moto_token: Callable[[], str]) -> Callable[[], str]:
    def token() -> str:
        return session_token()

    return token


def _expiring_from_journal(
    assume_role: Callable[..., AssumedRole],
) -> Callable[..., AssumedRole]:
    signature = inspect.signature(assume_role)

    def expiring(*args: Any, **kwargs: Any) -> AssumedRole:
        session = assume_role(*args, **kwargs)
        at = journaled_at()
        if at is not None:
            duration = signature.bind(*args, **kwargs).arguments["duration"]
            session.expiration = at + datetime.timedelta(seconds=int(duration))
        return session

    return expiring
