"""GetBucketNotificationConfiguration with the bucket's EventBridge setting. Moto keeps the
setting (a bucket that has it sends its events to EventBridge) but leaves it out of its answer,
where AWS puts an empty ``EventBridgeConfiguration`` element
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketNotificationConfiguration.html):
the bridge adds it to moto's answer. Path-style requests, as the kit's clients send them to the
loopback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote

if TYPE_CHECKING:
    from cdlab.localcloud.moto.bridge import MotoRequest
    from cdlab.localcloud.moto.state import MotoState

Answer = tuple[int, list[tuple[str, str]], bytes]
ELEMENT = b"<EventBridgeConfiguration></EventBridgeConfiguration>"


def completed(moto: MotoState, request: MotoRequest, answer: Answer) -> Answer:
    """Moto's ``answer`` to ``request``, with the EventBridge setting if it leaves it out."""
    status, headers, body = answer
    bucket = _asked_bucket(request)
    if status != 200 or bucket is None or not moto.bucket_sends_to_eventbridge(bucket):
        return answer
    if body.rstrip().endswith(b"/>"):  # an empty configuration, as one element
        body = body.rstrip()[:-2] + b">" + ELEMENT + b"</NotificationConfiguration>"
    else:
        body = body.replace(
            b"</NotificationConfiguration>", ELEMENT + b"</NotificationConfiguration>"
        )
    return status, [(k, v) for k, v in headers if k.lower() != "content-length"], body


def _asked_bucket(request: MotoRequest) -> str | None:
    """The bucket of a GetBucketNotificationConfiguration request, else None."""
    if request.method != "GET" or "notification" not in request.raw_path:
        return None
    path, _, query = request.raw_path.partition("?")
    bucket = unquote(path.strip("/"))
    if not bucket or "/" in bucket:
        return None
    return bucket if "notification" in parse_qs(query, keep_blank_values=True) else None
