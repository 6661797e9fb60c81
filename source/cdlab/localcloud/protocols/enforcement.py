"""The gateway's IAM check: after the auth guard, a request signed by an IAM user or a role
session is made only if IAM allows it (:mod:`cdlab.localcloud.iam.enforcer`); the account's
administrator (the kit's key) passes unevaluated, but for the checks AWS makes of every caller:
an AssumeRole the role's trust policy must allow, and a role handed to a service that must exist
and trust that service.

A key that does not exist is a 403 ``AccessDenied``, not a 404, to an S3 caller that may not list
its bucket, as S3 answers (:data:`READS_OF_A_KEY`).

A refusal is each protocol family's: ``AccessDeniedException`` with HTTP 400 for the JSON
services (SageMaker's common errors, https://docs.aws.amazon.com/sagemaker/latest/APIReference/CommonErrors.html),
``AccessDenied`` with 403 for S3 (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList)
and for the query services: IAM, STS and CloudFormation answer ``AccessDenied``, 403, as the
access-denied examples of https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html
show. A service with the awsQueryCompatible trait (CloudWatch) answers its JSON and CBOR
refusals with the query protocol's code as well, ``x-amzn-query-error: AccessDenied;Sender``, so
boto3 reports ``AccessDenied`` as it did over the query protocol; SQS, measured on AWS, answers
so (R1 of https://github.com/mariotoffia/floci/blob/5405928453502e154b60c50a6f8e23de9f96a8a7/docs/design/resource-policy-enforcement.md).
A passed role the service cannot assume is the service's own validation error
(:func:`cdlab.localcloud.iam.service_roles.untrusted_role_error`). The kit's key may assume a
role as a named service (:data:`SERVICE_PRINCIPAL_HEADER`): the pipeline runner plays CodeBuild
and CodePipeline, whose roles trust only those services.
"""

from __future__ import annotations

import dataclasses
import functools

from aiohttp import web

from cdlab.localcloud.context import Principal
from cdlab.localcloud.iam.enforcer import Enforcer
from cdlab.localcloud.iam.requests import PASS_ROLE, iam_prefix
from cdlab.localcloud.iam.service_roles import s3_call, untrusted_role_error
from cdlab.localcloud.iam.wire import signed_service, wire_call
from cdlab.localcloud.protocols.auth import CONTEXT, Handler, Middleware
from cdlab.localcloud.protocols.envelopes import error_response, family, is_invocation
from cdlab.localcloud.protocols.errors import error, in_family

ACCESS_DENIED = {
    "json": error("AccessDeniedException", 400),
    "cbor": error("AccessDeniedException", 400),
    "query": error("AccessDenied", 403),
    "s3": error("AccessDenied", 403),
}
# S3 answers a key that does not exist with 404 only to a caller that may list the bucket, and
# with 403 to any other: "If you don't have the s3:ListBucket permission, Amazon S3 returns an
# HTTP status code 403" (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html,
# https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html)
READS_OF_A_KEY = {"GetObject", "HeadObject"}
# the services whose calls the account's administrator is checked on: AssumeRole, passed roles
ADMINISTRATOR_CHECKED = {"sts"} | {prefix for prefix, _ in PASS_ROLE}
# The header with which the local services' key (the kit's key, as the pipeline runner playing
# CodeBuild and CodePipeline) assumes a role as the service that would assume it on AWS: the
# role's trust policy is then evaluated for that service principal. Any other key's header is
# ignored.
SERVICE_PRINCIPAL_HEADER = "X-Cdlab-Service-Principal"


def acting_principal(request: web.Request, principal: Principal) -> Principal:
    """The principal a request is evaluated as: a service principal when the kit's key names
    one (``codebuild.amazonaws.com``), else the signer."""
    service = request.headers.get(SERVICE_PRINCIPAL_HEADER, "")
    if principal.kind != "root" or not service.endswith(".amazonaws.com"):
        return principal
    return dataclasses.replace(principal, arn=service)


def _needs_body(request: web.Request, service: str | None) -> bool:
    """Whether naming the call reads the body: JSON and query requests, and S3's DeleteObjects
    (an S3 upload is not read here)."""
    return service != "s3" or (request.method == "POST" and "delete" in request.query)


def middleware(enforcer: Enforcer) -> Middleware:
    """Refuse a signed request that IAM does not allow, or that hands a service a role it
    cannot assume."""

    @web.middleware
    async def enforce(request: web.Request, handler: Handler) -> web.StreamResponse:
        ctx = request.get(CONTEXT)
        if ctx is None or (is_invocation(request.path) and ctx.principal.kind == "root"):
            return await handler(request)
        query = {key: request.query.getall(key) for key in request.query}
        service = signed_service({k.lower(): v for k, v in request.headers.items()}, query)
        if ctx.principal.kind == "root" and iam_prefix(service or "") not in ADMINISTRATOR_CHECKED:
            return await handler(request)
        body = await request.read() if _needs_body(request, service) else b""
        call = wire_call(request.method, request.raw_path, request.headers, body)
        protocol_family = family(request, service)
        # a refusal in the family's envelope, as the signed-for service answers it
        refuse = functools.partial(error_response, protocol_family=protocol_family, service=service)
        principal = acting_principal(request, ctx.principal)
        denial = await enforcer.denial(principal, call, ctx.region, ctx.account)
        if denial is not None:
            message = denial.message(quote_resource=service == "s3")
            return refuse(in_family(ACCESS_DENIED, protocol_family, message))
        untrusted = await enforcer.untrusted_role(call, ctx.account)
        if untrusted is not None and call is not None:
            return refuse(untrusted_role_error(call.service, *untrusted))
        response = await handler(request)
        if response.status == 404 and call is not None and call.operation in READS_OF_A_KEY:
            listing = s3_call("ListObjectsV2", call.params.get("Bucket", ""))
            if await enforcer.denial(principal, listing, ctx.region, ctx.account) is not None:
                return refuse(ACCESS_DENIED["s3"]("Access Denied"))
        return response

    return enforce
