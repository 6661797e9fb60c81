"""S3 as a SageMaker role session sees it: the local cloud's objects, read and written only as
far as the role's policies (and the buckets' policies) allow. A training job stages its channels
and uploads its model through one (:mod:`training`); CreateModel and an endpoint's instances
ask :func:`read_denial` whether the model's role may read its model data."""

from __future__ import annotations

from collections.abc import Callable

from cdlab.localcloud.iam.enforcer import Denial
from cdlab.localcloud.iam.service_roles import SAGEMAKER_SESSION, ServiceRoles, s3_call
from cdlab.localcloud.iam.wire import Call
from cdlab.localcloud.sagemaker.artifacts import S3Objects, split_s3_url

ACCESS_DENIED = "AccessDenied: Access Denied"
"""How SageMaker's failure reasons quote S3's refusal (``(AccessDenied: Access Denied)``)."""


async def read_denial(
    roles: ServiceRoles, role_arn: str | None, url: str, region: str
) -> Denial | None:
    """Why a SageMaker session of ``role_arn`` may not read the object at ``url`` in ``region``
    (s3:GetObject, "the only Amazon S3 action that the CreateModel API requires",
    https://repost.aws/knowledge-center/sagemaker-s3-accessdenied-training); None if it may, if
    IAM enforcement is off or if no role is given (:meth:`ServiceRoles.denial`)."""
    call = s3_call("GetObject", *split_s3_url(url))
    return await roles.denial(role_arn, SAGEMAKER_SESSION, call, region)


class AccessDenied(PermissionError):
    """The role may not make the S3 call; the message is IAM's reason."""


class RoleObjects(S3Objects):
    """:class:`S3Objects` whose every call is first decided by ``decide`` (blocking: from a
    worker thread, like :class:`S3Objects`)."""

    def __init__(self, objects: S3Objects, decide: Callable[[Call], Denial | None]) -> None:
        super().__init__(objects.moto, objects.written)
        self.decide = decide

    def _allow(self, call: Call) -> None:
        denial = self.decide(call)
        if denial is not None:
            raise AccessDenied(denial.message())

    def read(self, url: str) -> bytes | None:
        self._allow(s3_call("GetObject", *split_s3_url(url)))
        return super().read(url)

    def keys(self, url: str) -> list[str] | None:
        bucket, prefix = split_s3_url(url, key_required=False)
        self._allow(s3_call("ListObjectsV2", bucket, Prefix=prefix))
        return super().keys(url)

    def write(self, url: str, data: bytes) -> None:
        self._allow(s3_call("PutObject", *split_s3_url(url)))
        super().write(url, data)
