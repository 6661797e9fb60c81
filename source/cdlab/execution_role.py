"""The SageMaker execution role the notebooks pass on the local target, as a workshop account
comes with one (a SageMaker Studio or notebook instance role).

SageMaker refuses a role that does not exist or does not trust ``sagemaker.amazonaws.com``, and
acts as the role: a training job reads its channels and writes its model with it, an endpoint's
instances read the model with it ("How to use SageMaker AI execution roles",
https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html). The local cloud does the
same, so ``target.ready("local")`` makes this role in its account: it trusts SageMaker and may
read and write the notebooks' S3 objects, write its endpoints' logs and metrics, pull images,
and read the ``cdlab-*`` alarms, which SageMaker watches as the role during a deployment with
auto-rollback alarms ("Auto-Rollback Configuration and Monitoring",
https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html); the
logs, metrics and ECR statements are those of the CreateTrainingJob and CreateModel execution
roles in "How to use SageMaker AI execution roles" (whether SageMaker checks the ECR ones for its
own algorithms' images, AWS does not say: the role has them, as AWS's policies do). On AWS,
pass your own execution role instead, with the same permissions.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

NAME = "cdlab-notebooks"
POLICY_NAME = "notebook-data"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "NotebookData",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:GetBucketLocation"],
            "Resource": "*",
        },
        {
            "Sid": "EndpointLogs",
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:DescribeLogStreams",
            ],
            "Resource": "arn:aws:logs:*:*:log-group:/aws/sagemaker/*",
        },
        {
            "Sid": "EndpointMetrics",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {
                "StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*", "aws/sagemaker/*"]}
            },
        },
        {
            "Sid": "ImagePull",
            "Effect": "Allow",
            "Action": [
                "ecr:GetAuthorizationToken",
                "ecr:BatchCheckLayerAvailability",
                "ecr:GetDownloadUrlForLayer",
                "ecr:BatchGetImage",
            ],
            "Resource": "*",
        },
        {
            "Sid": "RollbackAlarms",
            "Effect": "Allow",
            "Action": "cloudwatch:DescribeAlarms",
            "Resource": "arn:aws:cloudwatch:*:*:alarm:cdlab-*",
        },
    ],
}


def ensure(iam: Any) -> str:
    """Make the notebooks' execution role with ``iam`` (a boto3 IAM client) unless it exists, and
    give it the kit's policy (``notebook-data``) unless it holds it already: a role an earlier
    kit made gets what the notebooks need now; policies of other names on it stay. Its ARN."""
    try:
        arn = iam.get_role(RoleName=NAME)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        arn = iam.create_role(
            RoleName=NAME,
            AssumeRolePolicyDocument=json.dumps(TRUST),
            Description="SageMaker execution role of the CD Lab notebooks (local target).",
        )["Role"]["Arn"]
    else:
        with contextlib.suppress(iam.exceptions.NoSuchEntityException):
            held = iam.get_role_policy(RoleName=NAME, PolicyName=POLICY_NAME)["PolicyDocument"]
            if held == POLICY:
                return arn
    iam.put_role_policy(RoleName=NAME, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(POLICY))
    return arn
