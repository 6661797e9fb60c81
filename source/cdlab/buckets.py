"""A bucket made where the client calls, for the data step and the notebooks alike.

S3 creates a bucket in us-east-1 unless CreateBucket's ``CreateBucketConfiguration`` names a
``LocationConstraint``, and a request to another region's endpoint without one is refused with
``IllegalLocationConstraintException`` ("The unspecified location constraint is incompatible for
the region specific endpoint this request was sent to"); us-east-1 takes no constraint
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html,
https://github.com/aws/aws-cli/issues/2603). The local cloud refuses the same way (moto's check).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

US_EAST_1 = "us-east-1"
MISSING = ("404", "NoSuchBucket")


def ensure(s3: Any, bucket: str) -> None:
    """Create ``bucket`` with ``s3`` (a boto3 S3 client) in the client's region unless HeadBucket
    finds it. A 403 (the bucket is there, and this caller may not list it) is raised as it is."""
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except ClientError as e:
        if e.response["Error"]["Code"] not in MISSING:
            raise
    region = s3.meta.region_name
    if region == US_EAST_1:
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
