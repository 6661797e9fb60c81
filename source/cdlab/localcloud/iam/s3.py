"""S3's operations as the IAM actions they need, on bucket and object ARNs.

An S3 operation is not always authorized as ``s3:<Operation>``: HeadObject needs s3:GetObject,
ListObjectsV2 and HeadBucket s3:ListBucket, a multipart upload s3:PutObject, DeleteObjects
s3:DeleteObject on each key, CopyObject s3:PutObject on the target and s3:GetObject on the
source, a request for one version of an object the ``...Version`` action. The table follows
"Required permissions for Amazon S3 API operations"
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html).
Buckets are ``arn:aws:s3:::BUCKET`` and objects ``arn:aws:s3:::BUCKET/KEY``, without region or
account; ListBuckets (s3:ListAllMyBuckets) acts on ``*``. The condition keys set here (s3:prefix,
s3:delimiter, s3:max-keys, s3:VersionId, s3:x-amz-acl, s3:x-amz-copy-source) are the ones the
Service Authorization Reference lists for those actions
(https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, unquote

from cdlab.localcloud.iam.resources import ANY, Check, Params, members

# operation -> its action; the second, for the request of one version (a VersionId)
OBJECT_ACTIONS: dict[str, tuple[str, str]] = {
    "GetObject": ("GetObject", "GetObjectVersion"),
    "HeadObject": ("GetObject", "GetObjectVersion"),
    "SelectObjectContent": ("GetObject", "GetObjectVersion"),
    "GetObjectAttributes": ("GetObject", "GetObjectVersion"),
    "GetObjectAcl": ("GetObjectAcl", "GetObjectVersionAcl"),
    "PutObjectAcl": ("PutObjectAcl", "PutObjectVersionAcl"),
    "GetObjectTagging": ("GetObjectTagging", "GetObjectVersionTagging"),
    "PutObjectTagging": ("PutObjectTagging", "PutObjectVersionTagging"),
    "DeleteObjectTagging": ("DeleteObjectTagging", "DeleteObjectVersionTagging"),
    "DeleteObject": ("DeleteObject", "DeleteObjectVersion"),
    "GetObjectTorrent": ("GetObjectTorrent", "GetObjectVersionTorrent"),
    "GetObjectRetention": ("GetObjectRetention", "GetObjectRetention"),
    "PutObjectRetention": ("PutObjectRetention", "PutObjectRetention"),
    "GetObjectLegalHold": ("GetObjectLegalHold", "GetObjectLegalHold"),
    "PutObjectLegalHold": ("PutObjectLegalHold", "PutObjectLegalHold"),
    "RestoreObject": ("RestoreObject", "RestoreObject"),
    "PutObject": ("PutObject", "PutObject"),
    "CreateMultipartUpload": ("PutObject", "PutObject"),
    "UploadPart": ("PutObject", "PutObject"),
    "CompleteMultipartUpload": ("PutObject", "PutObject"),
    "CopyObject": ("PutObject", "PutObject"),
    "UploadPartCopy": ("PutObject", "PutObject"),
    "AbortMultipartUpload": ("AbortMultipartUpload", "AbortMultipartUpload"),
    "ListParts": ("ListMultipartUploadParts", "ListMultipartUploadParts"),
}

BUCKET_ACTIONS: dict[str, str] = {
    "CreateBucket": "CreateBucket",
    "DeleteBucket": "DeleteBucket",
    "HeadBucket": "ListBucket",
    "ListObjects": "ListBucket",
    "ListObjectsV2": "ListBucket",
    "ListObjectVersions": "ListBucketVersions",
    "ListMultipartUploads": "ListBucketMultipartUploads",
    "GetBucketLocation": "GetBucketLocation",
    "GetBucketVersioning": "GetBucketVersioning",
    "PutBucketVersioning": "PutBucketVersioning",
    "GetBucketPolicy": "GetBucketPolicy",
    "PutBucketPolicy": "PutBucketPolicy",
    "DeleteBucketPolicy": "DeleteBucketPolicy",
    "GetBucketPolicyStatus": "GetBucketPolicyStatus",
    "GetBucketTagging": "GetBucketTagging",
    "PutBucketTagging": "PutBucketTagging",
    "DeleteBucketTagging": "PutBucketTagging",
    "GetBucketAcl": "GetBucketAcl",
    "PutBucketAcl": "PutBucketAcl",
    "GetBucketNotification": "GetBucketNotification",
    "GetBucketNotificationConfiguration": "GetBucketNotification",
    "PutBucketNotification": "PutBucketNotification",
    "PutBucketNotificationConfiguration": "PutBucketNotification",
    "GetBucketCors": "GetBucketCORS",
    "PutBucketCors": "PutBucketCORS",
    "DeleteBucketCors": "PutBucketCORS",
    "GetBucketLifecycle": "GetLifecycleConfiguration",
    "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
    "PutBucketLifecycle": "PutLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "PutLifecycleConfiguration",
    "DeleteBucketLifecycle": "PutLifecycleConfiguration",
    "GetBucketEncryption": "GetEncryptionConfiguration",
    "PutBucketEncryption": "PutEncryptionConfiguration",
    "DeleteBucketEncryption": "PutEncryptionConfiguration",
    "GetBucketWebsite": "GetBucketWebsite",
    "PutBucketWebsite": "PutBucketWebsite",
    "DeleteBucketWebsite": "DeleteBucketWebsite",
    "GetBucketLogging": "GetBucketLogging",
    "PutBucketLogging": "PutBucketLogging",
    "GetPublicAccessBlock": "GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "PutBucketPublicAccessBlock",
    "GetBucketOwnershipControls": "GetBucketOwnershipControls",
    "PutBucketOwnershipControls": "PutBucketOwnershipControls",
    "DeleteBucketOwnershipControls": "PutBucketOwnershipControls",
    "GetBucketReplication": "GetReplicationConfiguration",
    "PutBucketReplication": "PutReplicationConfiguration",
    "DeleteBucketReplication": "PutReplicationConfiguration",
    "GetObjectLockConfiguration": "GetBucketObjectLockConfiguration",
    "PutObjectLockConfiguration": "PutBucketObjectLockConfiguration",
    "GetBucketAccelerateConfiguration": "GetAccelerateConfiguration",
    "PutBucketAccelerateConfiguration": "PutAccelerateConfiguration",
    "GetBucketRequestPayment": "GetBucketRequestPayment",
    "PutBucketRequestPayment": "PutBucketRequestPayment",
    "GetBucketAnalyticsConfiguration": "GetAnalyticsConfiguration",
    "ListBucketAnalyticsConfigurations": "GetAnalyticsConfiguration",
    "PutBucketAnalyticsConfiguration": "PutAnalyticsConfiguration",
    "DeleteBucketAnalyticsConfiguration": "PutAnalyticsConfiguration",
    "GetBucketInventoryConfiguration": "GetInventoryConfiguration",
    "ListBucketInventoryConfigurations": "GetInventoryConfiguration",
    "PutBucketInventoryConfiguration": "PutInventoryConfiguration",
    "DeleteBucketInventoryConfiguration": "PutInventoryConfiguration",
    "GetBucketMetricsConfiguration": "GetMetricsConfiguration",
    "ListBucketMetricsConfigurations": "GetMetricsConfiguration",
    "PutBucketMetricsConfiguration": "PutMetricsConfiguration",
    "DeleteBucketMetricsConfiguration": "PutMetricsConfiguration",
    "GetBucketIntelligentTieringConfiguration": "GetIntelligentTieringConfiguration",
    "ListBucketIntelligentTieringConfigurations": "GetIntelligentTieringConfiguration",
    "PutBucketIntelligentTieringConfiguration": "PutIntelligentTieringConfiguration",
    "DeleteBucketIntelligentTieringConfiguration": "PutIntelligentTieringConfiguration",
}

# every operation's own action, whatever it acts on
ACTIONS = {**{op: action for op, (action, _) in OBJECT_ACTIONS.items()}, **BUCKET_ACTIONS}

LISTINGS = {"ListObjects", "ListObjectsV2", "ListObjectVersions"}
# writes that may set the new object's ACL (x-amz-acl) and tags (x-amz-tagging)
WRITES = {"PutObject", "CopyObject", "CreateMultipartUpload"}
# ... and the S3 members that carry them
ACL_MEMBERS = ("ACL", "GrantFullControl", "GrantRead", "GrantReadACP", "GrantWriteACP")


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        return None
    return str(value)


def bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def copy_source(value: Any) -> tuple[str, str, str | None] | None:
    """The bucket, key and version a CopySource names: ``bucket/key?versionId=v`` as the header
    has it (URL-encoded, perhaps with a leading ``/``), or boto3's dict form."""
    if isinstance(value, Mapping):
        bucket, key = _text(value.get("Bucket")), _text(value.get("Key"))
        version = _text(value.get("VersionId"))
    elif isinstance(value, str):
        path, _, query = value.partition("?")
        bucket, _, key = unquote(path).lstrip("/").partition("/")
        version = (parse_qs(query).get("versionId") or [None])[0]
    else:
        return None
    return (bucket, key, version) if bucket and key else None


def _object_checks(operation: str, params: Params, bucket: str, key: str) -> list[Check]:
    action, version_action = OBJECT_ACTIONS[operation]
    version = _text(params.get("VersionId"))
    context: dict[str, Any] = {"s3:VersionId": version} if version else {}
    arn = object_arn(bucket, key)
    if operation in WRITES or operation == "PutObjectAcl":
        context.update(_write_context(params))
    checks = [Check(f"s3:{version_action if version else action}", (arn,), context)]
    if operation == "GetObjectAttributes":
        checks.append(
            Check(f"s3:GetObject{'Version' if version else ''}Attributes", (arn,), context)
        )
    if operation in WRITES:
        if any(params.get(member) for member in ACL_MEMBERS):
            checks.append(Check("s3:PutObjectAcl", (arn,), context))
        if params.get("Tagging"):
            checks.append(Check("s3:PutObjectTagging", (arn,), context))
    source = copy_source(params.get("CopySource"))
    if operation in ("CopyObject", "UploadPartCopy") and source is not None:
        source_bucket, source_key, source_version = source
        checks.append(
            Check(
                "s3:GetObjectVersion" if source_version else "s3:GetObject",
                (object_arn(source_bucket, source_key),),
                {"s3:VersionId": source_version} if source_version else {},
            )
        )
    return checks


def _write_context(params: Params) -> dict[str, Any]:
    context: dict[str, Any] = {}
    acl = _text(params.get("ACL"))
    if acl:
        context["s3:x-amz-acl"] = acl
    source = params.get("CopySource")
    if isinstance(source, str):
        context["s3:x-amz-copy-source"] = source
    return context


def _listing_context(params: Params) -> dict[str, Any]:
    given = {
        "s3:prefix": params.get("Prefix"),
        "s3:delimiter": params.get("Delimiter"),
        "s3:max-keys": params.get("MaxKeys"),
    }
    return {key: text for key, value in given.items() if (text := _text(value)) is not None}


def _delete_objects(params: Params, bucket: str) -> list[Check]:
    """DeleteObjects: s3:DeleteObject on each key, s3:DeleteObjectVersion on each version."""
    objects = params.get("Delete")
    entries = objects.get("Objects") if isinstance(objects, Mapping) else None
    keys, versions = [], []
    for entry in entries if isinstance(entries, list) else []:
        key = members(entry, "Key")
        if key:
            (versions if members(entry, "VersionId") else keys).append(object_arn(bucket, key[0]))
    checks = [Check("s3:DeleteObject", tuple(dict.fromkeys(keys)))] if keys else []
    if versions:
        checks.append(Check("s3:DeleteObjectVersion", tuple(dict.fromkeys(versions))))
    return checks or [Check("s3:DeleteObject", ANY)]


def checks(operation: str, params: Params) -> list[Check]:
    """The authorizations an S3 request needs, the operation's own first."""
    [bucket] = members(params, "Bucket")[:1] or [""]
    [key] = members(params, "Key")[:1] or [""]
    if operation == "ListBuckets":
        return [Check("s3:ListAllMyBuckets", ANY)]
    if operation == "DeleteObjects" and bucket:
        return _delete_objects(params, bucket)
    if operation in OBJECT_ACTIONS and bucket and key:
        return _object_checks(operation, params, bucket, key)
    if operation in BUCKET_ACTIONS and bucket:
        context = _listing_context(params) if operation in LISTINGS else {}
        if operation in ("CreateBucket", "PutBucketAcl") and _text(params.get("ACL")):
            context["s3:x-amz-acl"] = _text(params.get("ACL"))
        return [Check(f"s3:{BUCKET_ACTIONS[operation]}", (bucket_arn(bucket),), context)]
    return [Check(f"s3:{ACTIONS.get(operation, operation)}", ANY)]
