"""What moto keeps in memory, kept across restarts: a journal of the requests that changed it.

Moto holds IAM roles, Glue databases and tables, Application Auto Scaling targets and policies,
CloudWatch alarms, log groups and the rest of the services the kit does not emulate itself only
in memory. Every request whose operation changes state is appended to the journal (in
``state.db``) before moto sees it, and taken out again if moto refuses it; so a request that
cannot be journaled (a full disk) is refused and changes nothing. At start the journal is
replayed through moto, in order, before the gateway serves, each request with the seed it first
ran with, so moto's generated identifiers (a policy's ARN, a role's id) come back the same.
Deletes are replayed too, so what comes back is what there was.

Not journaled: S3 (mirrored to disk on its own, see :mod:`s3mirror`), reads (operations
named ``Describe*``, ``List*``, ``Get*`` ...) and the high-volume data calls (``PutMetricData``,
``PutLogEvents``): metric datapoints, and log events a client puts itself, are not kept across a
restart (the kit's own training and instance logs are, see :mod:`logarchive`).
"""

from __future__ import annotations

import logging
import re
import uuid
from urllib.parse import parse_qs

from cdlab.localcloud.moto.bridge import MotoBridge, MotoRequest
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

    def record(self, request: MotoRequest) -> tuple[str, int]:
        """Append ``request``; returns its key and the seed moto is to draw its identifiers
        from, now and at every replay. Raises the store's StateNotSaved if it cannot be
        written."""
        entry = uuid.uuid4()
        self.store.put(KIND, entry.hex, {**request.to_doc(), "seed": entry.int})
        return entry.hex, entry.int

    def forget(self, key: str) -> None:
        """Take out a request moto refused: replaying it would only fail again."""
        self.store.delete(KIND, key)

    def replay(self, moto: MotoBridge) -> int:
        """Send every journaled request to moto again, in order; returns how many succeeded.

        One that fails now (moto's answer changed between versions, say) is logged and
        skipped, so the rest still come back.
        """
        replayed = 0
        for doc in self.store.all(KIND):
            request = MotoRequest.from_doc(doc)
            try:
                status, _, body = moto.call(request, doc.get("seed"))
            except Exception:
                log.exception("replaying %s failed", operation(request) or request.raw_path)
                continue
            if status >= 300:
                log.warning(
                    "replaying %s: moto answered %d %s",
                    operation(request) or request.raw_path,
                    status,
                    body[:200],
                )
                continue
            replayed += 1
        return replayed
