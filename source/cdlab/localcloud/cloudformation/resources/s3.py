"""AWS::S3::Bucket: a bucket in moto's S3 with its versioning, EventBridge notifications,
default encryption, public access block and lifecycle rules
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-s3-bucket.html).

Each part is the S3 API call CloudFormation makes for it (CreateBucket, PutBucketVersioning ...),
authorized as the stack's principal, then made in moto's backend in moto's own format (the
EventBridge setting lands in the bucket's notification configuration, where moto's S3 and the
pipeline's trigger read it), and the bucket synced to the disk mirror. The mirror keeps a
bucket's objects and settings (:mod:`cdlab.localcloud.moto.s3settings`), but a bucket an older
kit mirrored comes back without its settings and the mirror leaves lifecycle rules out, so the
bucket is an IN_MEMORY type: ``reapply`` puts the stack's configuration back over what the
mirror brought (a part set by hand through the S3 API comes back as the stack sets it), and, if
the mirror did not bring it, the time the stack turned EventBridge on (S3 sends events some
minutes after that).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cdlab import config
from cdlab.localcloud.cloudformation.resources.base import (
    Context,
    Handler,
    Resource,
    ResourceFailed,
    Started,
    authorized_params,
    generated_name,
    handler_failure,
)
from cdlab.localcloud.cloudformation.resources.moto_calls import on_moto, refuse_others
from cdlab.localcloud.moto import s3events
from cdlab.localcloud.moto.state import MotoState

NOT_EMPTY = "The bucket you tried to delete is not empty"


def bucket_attributes(name: str, region: str) -> dict[str, str]:
    """GetAtt Arn, DomainName and RegionalDomainName of bucket ``name``."""
    return {
        "Arn": f"arn:aws:s3:::{name}",
        "DomainName": f"{name}.s3.amazonaws.com",
        "RegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
    }


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A rule of the template's LifecycleConfiguration as the API's LifecycleRule."""
    api: dict[str, Any] = {"Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
    if "Id" in rule:
        api["ID"] = rule["Id"]
    if "ExpirationInDays" in rule:
        api["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    elif "ExpirationDate" in rule:
        api["Expiration"] = {"Date": rule["ExpirationDate"]}
    if "NoncurrentVersionExpiration" in rule:
        api["NoncurrentVersionExpiration"] = {
            k: int(v) for k, v in rule["NoncurrentVersionExpiration"].items()
        }
    elif "NoncurrentVersionExpirationInDays" in rule:
        days = int(rule["NoncurrentVersionExpirationInDays"])
        api["NoncurrentVersionExpiration"] = {"NoncurrentDays": days}
    if "AbortIncompleteMultipartUpload" in rule:
        api["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
    return api


def _notification(given: dict[str, Any]) -> dict[str, Any]:
    """The template's NotificationConfiguration as the API's: EventBridge only (the local cloud
    sends no notifications to topics, queues or functions)."""
    others = sorted(set(given) - {"EventBridgeConfiguration"})
    if others:
        raise ResourceFailed(
            f"NotificationConfiguration {', '.join(others)} is not provided by the local cloud."
        )
    enabled = (given.get("EventBridgeConfiguration") or {}).get("EventBridgeEnabled")
    return {"EventBridgeConfiguration": {}} if str(enabled).lower() == "true" else {}


def _encryption(given: dict[str, Any]) -> dict[str, Any]:
    """The template's BucketEncryption as the API's ServerSideEncryptionConfiguration."""
    renamed = {"ServerSideEncryptionByDefault": "ApplyServerSideEncryptionByDefault"}
    rules = given["ServerSideEncryptionConfiguration"]
    return {"Rules": [{renamed.get(k, k): v for k, v in rule.items()} for rule in rules]}


# property -> the S3 operation that sets it, its member, and the member's value
PUTS: dict[str, tuple[str, str, Callable[[Any], Any]]] = {
    "VersioningConfiguration": ("PutBucketVersioning", "VersioningConfiguration", dict),
    "NotificationConfiguration": (
        "PutBucketNotificationConfiguration", "NotificationConfiguration", _notification,
    ),
    "BucketEncryption": (
        "PutBucketEncryption", "ServerSideEncryptionConfiguration", _encryption,
    ),
    "PublicAccessBlockConfiguration": (
        "PutPublicAccessBlock", "PublicAccessBlockConfiguration", dict,
    ),
    "LifecycleConfiguration": (
        "PutBucketLifecycleConfiguration", "LifecycleConfiguration",
        lambda given: {"Rules": [_lifecycle_rule(r) for r in given["Rules"]]},
    ),
    "Tags": ("PutBucketTagging", "Tagging", lambda tags: {"TagSet": tags}),
}  # fmt: skip
CONFIGURED = tuple(PUTS)


def _calls(name: str, props: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The S3 API calls that give bucket ``name`` the configuration in ``props``."""
    return [
        (operation, {"Bucket": name, member: value(props[part])})
        for part, (operation, member, value) in PUTS.items()
        if part in props
    ]


def _moto_lifecycle(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """API lifecycle rules as moto's backend reads them (its XML parsed: numbers as text)."""

    def text(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: text(v) for k, v in value.items()}
        return value if isinstance(value, str) else str(value)

    return [text(rule) for rule in rules]


def _configure(
    moto: MotoState,
    name: str,
    region: str,
    calls: list[tuple[str, Any]],
    put_back_from: float | None = None,
) -> None:
    """On moto's thread: make bucket ``name`` (unless it exists) and apply ``calls``. A bucket
    put back after a restart (``put_back_from``: when its stack last changed it) that sends to
    EventBridge began to then (:mod:`cdlab.localcloud.moto.s3events`), not at the restart,
    unless the disk mirror brought its notification configuration back with the time itself."""
    s3 = moto.s3_backend()
    if name not in s3.buckets:
        s3.create_bucket(name, region)
    bucket = s3.get_bucket(name)
    sent_before = s3events.sends(bucket)  # the mirror brought it back, with its own time
    for operation, p in calls:
        if operation == "PutBucketVersioning":
            s3.put_bucket_versioning(name, p["VersioningConfiguration"]["Status"])
        elif operation == "PutBucketNotificationConfiguration":
            s3.put_bucket_notification_configuration(name, p["NotificationConfiguration"])
        elif operation == "PutBucketEncryption":
            rules = p["ServerSideEncryptionConfiguration"]["Rules"]
            rule: Any = rules[0] if len(rules) == 1 else rules
            s3.put_bucket_encryption(name, {"Rule": rule})
        elif operation == "PutBucketTagging":
            s3.put_bucket_tagging(name, {t["Key"]: t["Value"] for t in p["Tagging"]["TagSet"]})
        elif operation == "PutPublicAccessBlock":
            config = {k: str(v).lower() for k, v in p["PublicAccessBlockConfiguration"].items()}
            s3.put_public_access_block(name, config)
        else:
            s3.put_bucket_lifecycle(name, _moto_lifecycle(p["LifecycleConfiguration"]["Rules"]))
    if put_back_from is not None and not sent_before and s3events.sends(bucket):
        s3events.began_sending(bucket, put_back_from)


def _unconfigure(moto: MotoState, name: str, removed: list[str]) -> None:
    """On moto's thread: take away the configuration parts ``removed`` names."""
    s3 = moto.s3_backend()
    bucket = s3.get_bucket(name)
    for part in removed:
        if part == "VersioningConfiguration":
            s3.put_bucket_versioning(name, "Suspended")
        elif part == "NotificationConfiguration":
            bucket.set_notification_configuration(None)
        elif part == "BucketEncryption":
            s3.delete_bucket_encryption(name)
        elif part == "Tags":
            s3.delete_bucket_tagging(name)
        elif part == "PublicAccessBlockConfiguration":
            s3.delete_public_access_block(name)
        else:
            s3.delete_bucket_lifecycle(name)


def _exists(moto: MotoState, name: str) -> bool:
    return name in moto.s3_backend().buckets


def _delete(moto: MotoState, name: str) -> bool:
    """On moto's thread: delete bucket ``name``; False if it still holds objects (or versions)."""
    s3 = moto.s3_backend()
    if not _exists(moto, name):
        return True
    return s3.delete_bucket(name) is not None


class Bucket(Handler):
    type = "AWS::S3::Bucket"
    name_property = "BucketName"
    attributes = frozenset({"Arn", "DomainName", "RegionalDomainName"})
    create_only = frozenset({"BucketName"})

    def predict(self, props: dict[str, Any]) -> Resource | None:
        name = props.get("BucketName")
        if not isinstance(name, str):
            return None
        return Resource(name, bucket_attributes(name, config.region()))

    async def create(self, ctx: Context, props: dict[str, Any], started: Started) -> Resource:
        name = props.get("BucketName") or generated_name(ctx, 63, with_stack=True).lower()
        await authorized_params(ctx, "s3", "CreateBucket", {"Bucket": name})
        if await ctx.moto.run(_exists, ctx.moto, name):
            raise ResourceFailed(
                f'Resource handler returned message: "{name} already exists" '
                "(HandlerErrorCode: AlreadyExists)"
            )
        await self._apply(ctx, name, props)
        return Resource(name, bucket_attributes(name, ctx.request.region))

    async def _apply(self, ctx: Context, name: str, props: dict[str, Any]) -> None:
        refuse_others(ctx, props, ("BucketName", *CONFIGURED))
        calls = _calls(name, props)
        typed = [(op, await authorized_params(ctx, "s3", op, p)) for op, p in calls]
        region, since = ctx.request.region, ctx.put_back_from
        await on_moto(ctx, _configure, ctx.moto, name, region, typed, since)
        if ctx.s3_sync is not None:
            await ctx.s3_sync(name)

    async def update(
        self, ctx: Context, current: Resource, old: dict[str, Any], new: dict[str, Any]
    ) -> Resource:
        removed = [part for part in CONFIGURED if part in old and part not in new]
        await self._apply(ctx, current.physical_id, new)
        if removed:
            await on_moto(ctx, _unconfigure, ctx.moto, current.physical_id, removed)
            if ctx.s3_sync is not None:
                await ctx.s3_sync(current.physical_id)
        return current

    async def reapply(self, ctx: Context, current: Resource, props: dict[str, Any]) -> None:
        await self._apply(ctx, current.physical_id, props)

    async def delete(self, ctx: Context, current: Resource) -> None:
        name = current.physical_id
        await authorized_params(ctx, "s3", "DeleteBucket", {"Bucket": name})
        try:
            deleted = await ctx.moto.run(_delete, ctx.moto, name)
        except Exception as e:
            raise handler_failure(e) from None
        if not deleted:
            raise ResourceFailed(
                f'Resource handler returned message: "{NOT_EMPTY} (Service: S3, Status Code: '
                '409)" (HandlerErrorCode: GeneralServiceException)'
            )
        if ctx.s3_sync is not None:
            await ctx.s3_sync(name)
