"""S3 -> EventBridge -> CodePipeline: an object created in a bucket that sends its events to
EventBridge becomes the "Object Created" event
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html), matched against the
default bus's rules; each matching target that is a pipeline starts an execution, as the
target's role, which must trust events.amazonaws.com and allow
codepipeline:StartPipelineExecution on the pipeline
(https://docs.aws.amazon.com/codepipeline/latest/userguide/create-cloudtrail-S3-source-console-eventbridge.html).
A refusal starts nothing; the gateway's log says why, as EventBridge's failed invocations would.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from cdlab.localcloud.iam.service_roles import ServiceRoles
from cdlab.localcloud.iam.wire import Call
from cdlab.localcloud.moto import eventbridge
from cdlab.localcloud.moto.eventbridge import CreatedObject, RuleTarget
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.protocols.auth import CONTEXT
from cdlab.pipeline import roles

log = logging.getLogger("cdlab.codepipeline")

EVENTS_SESSION = "AWSEventBridge"
Start = Callable[[str, str], str]  # pipeline name, rule ARN -> the execution's id


def reason(method: str, query: Mapping[str, str], headers: Mapping[str, str]) -> str | None:
    """The S3 operation a successful write was, if it created an object."""
    if method == "POST" and "uploadId" in query:
        return "CompleteMultipartUpload"
    if method != "PUT" or set(query) - {"x-id"}:
        return None  # a subresource (?tagging, ?acl, ?versioning, a part upload ...)
    return "CopyObject" if "x-amz-copy-source" in {k.lower() for k in headers} else "PutObject"


def object_created(
    created: CreatedObject, why: str, account: str, requester: str
) -> dict[str, Any]:
    now = time.time()
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": account,
        "time": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": created.region,
        "resources": [f"arn:aws:s3:::{created.bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": created.bucket},
            "object": {
                "key": created.key,
                "size": created.size,
                "etag": created.etag,
                "version-id": created.version_id,
                "sequencer": f"{int(now * 1e6):016X}",
            },
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": requester,
            "source-ip-address": "127.0.0.1",
            "reason": why,
        },
    }


class Trigger:
    def __init__(self, moto: MotoState, service_roles: ServiceRoles, start: Start) -> None:
        self.moto = moto
        self.service_roles = service_roles
        self.start = start

    async def s3_written(self, request: web.Request) -> None:
        """After a successful S3 request: start the pipelines its Object Created event targets."""
        account = request[CONTEXT].account
        why = reason(request.method, request.query, request.headers)
        bucket, _, key = unquote(request.path).lstrip("/").partition("/")
        if why is None or not key:
            return
        created = await self.moto.run(eventbridge.created_object, self.moto, bucket, key)
        if created is None:
            return
        event = object_created(created, why, account, account)
        targets = await self.moto.run(
            eventbridge.matching_targets, self.moto, created.region, event
        )
        for target in targets:
            if ":codepipeline:" in target.arn:
                await self._invoke(target, created.region)

    async def _invoke(self, target: RuleTarget, region: str) -> None:
        pipeline = target.arn.rpartition(":")[2]
        enforcer = self.service_roles.enforcer
        if enforcer is not None and not await enforcer.trusts(target.role_arn, roles.EVENTS):
            log.warning(
                "rule %s did not start pipeline %s: %s",
                target.rule_arn,
                pipeline,
                roles.NOT_TRUSTED[roles.EVENTS].format(role=target.role_arn),
            )
            return
        call = Call("codepipeline", "StartPipelineExecution", {"name": pipeline})
        denial = await self.service_roles.denial(target.role_arn, EVENTS_SESSION, call, region)
        if denial is not None:
            log.warning(
                "rule %s did not start pipeline %s: %s",
                target.rule_arn,
                pipeline,
                denial.message(),
            )
            return
        try:
            started = self.start(pipeline, target.rule_arn)
        except Exception as e:  # EventBridge retries, then drops: the log is what is left
            log.warning("rule %s did not start pipeline %s: %s", target.rule_arn, pipeline, e)
            return
        log.info("rule %s started pipeline %s: execution %s", target.rule_arn, pipeline, started)
