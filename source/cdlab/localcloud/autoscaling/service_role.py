"""The service-linked role Application Auto Scaling acts as for SageMaker endpoints.

On AWS, the first RegisterScalableTarget of a SageMaker variant creates the role
``AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint`` (path
``/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/``, trusted by that service
principal), and a target registered without a RoleARN acts as it: DescribeScalableTargets shows
its ARN. Moto keeps targets but makes no such role, so the kit makes it in moto's IAM, after
each RegisterScalableTarget and after a restart's replay (the role itself is not journaled).
"""

from __future__ import annotations

import json

from cdlab.localcloud.moto.state import MotoState

SERVICE = "sagemaker.application-autoscaling.amazonaws.com"
ROLE_NAME = "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": SERVICE}, "Action": "sts:AssumeRole"}
    ],
}


def ensure(moto: MotoState) -> str | None:
    """On moto's thread: if a SageMaker scalable target exists, make the service-linked role
    unless it exists, and give it to the targets registered without a role; its ARN, or None
    when there is no SageMaker target."""
    targets = [
        target
        for by_id in moto.autoscaling_backend().targets.values()
        for target in by_id.values()
        if target.service_namespace == "sagemaker"
    ]
    if not targets:
        return None
    iam = moto.iam_backend()
    role = next((r for r in iam.get_roles() if r.name == ROLE_NAME), None)
    if role is None:
        role = iam.create_role(
            ROLE_NAME,
            json.dumps(TRUST),
            f"/aws-service-role/{SERVICE}/",
            permissions_boundary=None,
            description="Allows Application Auto Scaling to scale SageMaker endpoint variants.",
            tags=[],
            max_session_duration="3600",
            linked_service=SERVICE,
        )
    for target in targets:
        if not target.role_arn:
            target.role_arn = role.arn
    return role.arn
