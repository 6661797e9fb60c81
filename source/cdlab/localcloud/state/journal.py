"""What moto keeps in memory, kept across restarts: a journal of the requests that changed it.

Moto holds IAM roles, Glue databases and tables, Application Auto Scaling targets and policies,
CloudWatch alarms, log groups and the rest of the services the kit does not emulate itself only
in memory. Every request whose operation changes state is appended to the journal (in
``state.db``) before moto sees it, and taken out again if moto refuses it; so a request that
cannot be journaled (a full disk) is refused and changes nothing. At start the journal is
replayed through moto, in order, before the gateway serves, each request with the seed it first
ran with, so moto's generated identifiers (a policy's ARN, a role's id) come back the same, and
the time it was journaled: a role session (AssumeRole) comes back with the credentials a client
was given, key, secret and session token, expiring when they did (:mod:`..moto.sessioncredentials`).
Deletes are replayed too, so what comes back is what there was.

The kit's own changes to what moto keeps in memory (a stack's roles, Glue databases, rules,
scalable targets, scaling policies and alarms, made in moto's backends by the CloudFormation
engine; a target tracking policy's alarms, made and deleted by the autoscaler; the states the
alarm evaluation sets, each alarm's latest in place of the one before) are journaled
too, as calls (:mod:`cdlab.localcloud.moto.replayable`), in the same sequence: so the journal
alone is the order things happened in, and a client's change to what a stack made (a table in
its database, a policy on its role) is replayed after the stack made it and before the stack's
next update, as it was made.

Not journaled: S3 (mirrored to disk on its own, objects' versions and buckets' settings, see
:mod:`s3mirror`; :mod:`cdlab.localcloud.moto.s3settings` says why not here), reads (operations
named ``Describe*``, ``List*``, ``Get*`` ...) and the high-volume data calls (``PutMetricData``,
``PutLogEvents``): metric datapoints, and log events a client puts itself, are not kept across a
restart (the kit's own training and instance logs are, see :mod:`logarchive`).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from cdlab.localcloud.moto.bridge import Answer, MotoBridge, MotoRequest
from cdlab.localcloud.moto.replayable import REPLAYABLE, name_of, seeded
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.state.store import Store

log = logging.getLogger("cdlab.journal")

KIND = "moto-journal"
READS = (
    "Describe", "List", "Get", "BatchGet", "Search", "Filter", "Lookup", "Query", "Scan",
    "Test", "Simulate", "Validate", "Estimate", "Preview",
)  # fmt: skip
DATA_CALLS = frozenset({"PutMetricData", "PutLogEvents"})
RPC_V2_OPERATION = re.compile(r"/service/[^/]+/operation/(?P<operation>[A-Za-z0-9]+)$")
FORM = "application/x-www-form-urlencoded"


def operation(request: MotoRequest) -> str | None:
    """The API operation a request calls, for the JSON, query and RPC v2 protocols; None for
    REST protocols, whose operation is the method and path."""
    target = request.header("X-Amz-Target")
    if target:
        return target.rsplit(".", 1)[-1]
    path, _, query = request.raw_path.partition("?")
    if match := RPC_V2_OPERATION.search(path):
        return match["operation"]
    form = query
    if request.header("Content-Type").startswith(FORM):
        form = f"{query}&{request.body.decode('utf-8', 'replace')}"
    actions = parse_qs(form).get("Action")
    return actions[0] if actions else None


def changes_state(request: MotoRequest) -> bool:
    name = operation(request)
    if name is None:
        return request.method not in ("GET", "HEAD", "OPTIONS")
    return not name.startswith(READS) and name not in DATA_CALLS


class Journal:
    def __init__(self, store: Store) -> None:
        self.store = store

    def record(self, request: MotoRequest) -> tuple[str, int, float]:
        """Append ``request``; returns its key, the seed moto is to draw its identifiers from
        and the time (seconds since the epoch) it is made at, now and at every replay. Raises
        the store's StateNotSaved if it cannot be written."""
        entry, at = uuid.uuid4(), time.time()
        self.store.put(KIND, entry.hex, {**request.to_doc(), "seed": entry.int, "at": at})
        return entry.hex, entry.int, at

    def make(self, moto: MotoBridge, request: MotoRequest) -> Answer:
        """On moto's thread: journal ``request``, then have moto make it; moto's answer. One moto
        refuses, or fails on, is taken out again. Journaled where it is made, in the same step,
        so the journal keeps the order moto made things in, the kit's own changes (:meth:`call`)
        among them: journaled first and made later, two changes to one resource could replay
        in the other order. Raises the store's StateNotSaved, moto untouched, if it cannot be
        written."""
        key, seed, at = self.record(request)
        try:
            answer = moto.call(request, seed, at)
        except Exception:
            self.forget(key)
            raise
        if answer[0] >= 300:
            self.forget(key)
        return answer

    def forget(self, key: str) -> None:
        """Take out a request moto refused: replaying it would only fail again."""
        self.store.delete(KIND, key)

    def call(
        self,
        moto: MotoState,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        replacing: str | None = None,
    ) -> Any:
        """On moto's thread: journal the kit's own change ``fn(moto, *args, **kwargs)`` (a
        :func:`replayable` one making one change, whole or not at all), then make it; its
        result. One that fails is taken out again, as a refused request is. With ``replacing``,
        a key of the caller's, the change takes the place of the last one journaled under it,
        last in the journal: for a change only the latest of which matters (an alarm's state);
        one that cannot be journaled leaves that last one in place."""
        if REPLAYABLE.get(name_of(fn)) is not fn:
            raise TypeError(f"{name_of(fn)} is not a replayable change")
        entry = uuid.uuid4()
        key = entry.hex if replacing is None else replacing
        doc = {"call": name_of(fn), "args": list(args), "kwargs": kwargs, "seed": entry.int}
        self.store.put(KIND, key, doc, last=replacing is not None)
        try:
            with seeded(entry.int):
                return fn(moto, *args, **kwargs)
        except Exception:
            self.forget(key)
            raise

    async def change(
        self,
        moto: MotoState,
        fn: Callable[..., Any],
        *args: Any,
        replacing: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """From the event loop: :meth:`call` on moto's thread, awaited; its result."""
        return await moto.run(self.call, moto, fn, args, kwargs, replacing)

    def replay(self, moto: MotoBridge) -> int:
        """Make every journaled request and call again, in order; returns how many succeeded.

        One that fails now (moto's answer changed between versions, say) is logged and
        skipped, so the rest still come back.
        """
        replayed = 0
        for doc in self.store.all(KIND):
            if "call" in doc:
                replayed += moto.moto.call(_replay_call, moto.moto, doc)
            else:
                replayed += _replay_request(moto, doc)
        return replayed


def _replay_request(moto: MotoBridge, doc: dict[str, Any]) -> bool:
    request = MotoRequest.from_doc(doc)
    try:
        status, _, body = moto.call(request, doc.get("seed"), doc.get("at"))
    except Exception:
        log.exception("replaying %s failed", operation(request) or request.raw_path)
        return False
    if status >= 300:
        log.warning(
            "replaying %s: moto answered %d %s",
            operation(request) or request.raw_path,
            status,
            body[:200],
        )
        return False
    return True


def _replay_call(moto: MotoState, doc: dict[str, Any]) -> bool:
    """On moto's thread: make a journaled call again, with its seed."""
    fn = REPLAYABLE.get(doc["call"])
    if fn is None:
        log.error("replaying %s: no such call in this version of the kit", doc["call"])
        return False
    try:
        with seeded(doc["seed"]):
            fn(moto, *doc["args"], **doc["kwargs"])
    except Exception as e:  # moto's errors carry .message
        log.warning("replaying %s failed: %s", doc["call"], getattr(e, "message", None) or e)
        return False
    return True
