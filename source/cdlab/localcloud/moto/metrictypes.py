"""Which metric a target tracking configuration may name for a scalable dimension, and
PutScalingPolicy's refusals of one it may not, which moto does not make: a predefined metric type
the dimension does not take, a configuration that names no metric at all, and a resource label
on a type that takes none.

Botocore's model lets any of the API's types through (``PredefinedMetricType``, "Valid Values:
DynamoDBReadCapacityUtilization | ... | SageMakerVariantInvocationsPerInstance | ...",
https://docs.aws.amazon.com/autoscaling/application/APIReference/API_PredefinedMetricSpecification.html),
whatever the target; moto kept such a policy, and the kit's autoscaler scaled a variant on its
invocations whatever the type named. Application Auto Scaling checks the type against the
target's scalable dimension and refuses one it does not take, in words its users quote from a
real answer (HTTP 400): "Scalable dimension sagemaker:variant:DesiredProvisionedConcurrency only
supports the following predefined metric types: SageMakerVariantProvisionedConcurrencyUtilization"
(https://github.com/aws/aws-cdk/issues/29065, a Lambda type put on a SageMaker serverless
variant). The code is not in that quote: ``ValidationException``, which Application Auto Scaling
answers "for a validation issue" (API_PutScalingPolicy.html), is the kit's reading.

The types each dimension takes, as the kit reads the documentation:

- ``sagemaker:variant:DesiredInstanceCount`` (a variant on instances):
  ``SageMakerVariantInvocationsPerInstance`` and
  ``SageMakerVariantConcurrentRequestsPerModelHighResolution``, the two predefined metrics
  SageMaker documents for a variant ("Define a scaling policy",
  https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling-add-code-define.html);
  the inference component types are for inference components, whose "equivalent policy" sets
  ``SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution``, and
  ``SageMakerVariantProvisionedConcurrencyUtilization`` is the serverless one (the quote above).
  AWS's list for this dimension is not quoted anywhere found: the two, in the enum's order, are
  the kit's reading.
- ``sagemaker:variant:DesiredProvisionedConcurrency``: its one type, as AWS's answer says;
  ``sagemaker:inference-component:DesiredCopyCount``: the two inference component types (the
  page above names the high-resolution one; ``...InvocationsPerCopy`` is placed by its name).
  Application Auto Scaling scales "endpoint variants, provisioned concurrency for serverless
  endpoints, and inference components"
  (https://docs.aws.amazon.com/autoscaling/application/userguide/services-that-can-integrate-sagemaker.html);
  moto registers neither of the last two dimensions yet, so they are here for when it does.
- Any other namespace's dimension: the types of that namespace (``ALBRequestCountPerTarget``
  "applies only to Spot Fleets and ECS services", the API reference says). AWS may narrow a
  namespace's list further by dimension (DynamoDB's read and write types, say); a list too wide
  here can only accept what AWS might refuse, never refuse what it takes. A namespace without
  predefined metrics (``elasticmapreduce``, ``custom-resource``) refuses every type, in the
  kit's words.

The table is checked against botocore's enum by a unit test, so a type botocore adds is placed
here before it can be named.

A target tracking configuration names its metric by a ``PredefinedMetricSpecification`` or a
``CustomizedMetricSpecification`` ("You can specify either a predefined metric or a customized
metric", https://docs.aws.amazon.com/autoscaling/application/APIReference/API_TargetTrackingScalingPolicyConfiguration.html);
botocore's model requires neither, and moto kept a policy with neither, which tracked nothing.
AWS's own CDK refuses one before it is sent ("Exactly one of 'customMetric' or 'predefinedMetric'
must be specified", its TargetTrackingScalingPolicy,
https://github.com/aws/aws-cdk/blob/18bda1e18e5557300bb100a2c17c2ff398e05648/packages/aws-cdk-lib/aws-applicationautoscaling/lib/target-tracking-scaling-policy.ts).
How Application Auto Scaling words its refusal is not quoted anywhere found: :data:`NO_METRIC`
and the code ``ValidationException`` are the kit's. And a ``ResourceLabel``: "You can't specify a
resource label unless the metric type is ``ALBRequestCountPerTarget``"
(https://docs.aws.amazon.com/autoscaling/application/APIReference/API_PredefinedMetricSpecification.html);
:data:`LABEL_NOT_TAKEN` is that sentence of the reference, not a quoted answer.
"""

from __future__ import annotations

from typing import Any

from cdlab.localcloud.moto.scalingerrors import validation

ONLY_THESE = "Scalable dimension {dimension} only supports the following predefined metric types: "
NONE_AT_ALL = "Scalable dimension {dimension} does not support predefined metric types"
NO_METRIC = (
    "TargetTrackingScalingPolicyConfiguration must specify either PredefinedMetricSpecification "
    "or CustomizedMetricSpecification"
)
LABELLED_TYPE = "ALBRequestCountPerTarget"  # the one type that takes a ResourceLabel
LABEL_NOT_TAKEN = f"You can't specify a resource label unless the metric type is {LABELLED_TYPE}"

BY_NAMESPACE: dict[str, tuple[str, ...]] = {  # each in botocore's order of the enum
    "dynamodb": ("DynamoDBReadCapacityUtilization", "DynamoDBWriteCapacityUtilization"),
    "rds": ("RDSReaderAverageCPUUtilization", "RDSReaderAverageDatabaseConnections"),
    "ec2": (
        "ALBRequestCountPerTarget",
        "EC2SpotFleetRequestAverageCPUUtilization",
        "EC2SpotFleetRequestAverageNetworkIn",
        "EC2SpotFleetRequestAverageNetworkOut",
    ),
    "ecs": (
        "ALBRequestCountPerTarget",
        "ECSServiceAverageCPUUtilization",
        "ECSServiceAverageMemoryUtilization",
        "ECSServiceAverageCPUUtilizationHighResolution",
        "ECSServiceAverageMemoryUtilizationHighResolution",
    ),
    "appstream": ("AppStreamAverageCapacityUtilization",),
    "comprehend": ("ComprehendInferenceUtilization",),
    "lambda": ("LambdaProvisionedConcurrencyUtilization",),
    "cassandra": ("CassandraReadCapacityUtilization", "CassandraWriteCapacityUtilization"),
    "kafka": ("KafkaBrokerStorageUtilization",),
    "elasticache": (
        "ElastiCacheEngineCPUUtilization",
        "ElastiCacheDatabaseMemoryUsagePercentage",
        "ElastiCachePrimaryEngineCPUUtilization",
        "ElastiCacheReplicaEngineCPUUtilization",
        "ElastiCacheDatabaseMemoryUsageCountedForEvictPercentage",
        "ElastiCacheDatabaseCapacityUsageCountedForEvictPercentage",
    ),
    "neptune": ("NeptuneReaderAverageCPUUtilization",),
    "workspaces": ("WorkSpacesAverageUserSessionsCapacityUtilization",),
    "elasticmapreduce": (),
    "custom-resource": (),
}
SAGEMAKER: dict[str, tuple[str, ...]] = {
    "sagemaker:variant:DesiredInstanceCount": (
        "SageMakerVariantInvocationsPerInstance",
        "SageMakerVariantConcurrentRequestsPerModelHighResolution",
    ),
    "sagemaker:variant:DesiredProvisionedConcurrency": (
        "SageMakerVariantProvisionedConcurrencyUtilization",
    ),
    "sagemaker:inference-component:DesiredCopyCount": (
        "SageMakerInferenceComponentInvocationsPerCopy",
        "SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution",
    ),
}


def supported(dimension: str) -> tuple[str, ...]:
    """The predefined metric types a target tracking policy on ``dimension`` may name."""
    if dimension in SAGEMAKER:
        return SAGEMAKER[dimension]
    return BY_NAMESPACE.get(dimension.partition(":")[0], ())


def check_metric_type(dimension: str, configuration: dict[str, Any] | None) -> None:
    """Refuse (``ValidationException``) a target tracking configuration whose
    ``PredefinedMetricSpecification`` names a type ``dimension`` does not take; any other
    configuration (a step scaling one, a customized metric) passes."""
    spec = configuration.get("PredefinedMetricSpecification") if configuration else None
    if not isinstance(spec, dict) or "PredefinedMetricType" not in spec:
        return
    types = supported(dimension)
    if spec["PredefinedMetricType"] in types:
        return
    if not types:
        raise validation(NONE_AT_ALL.format(dimension=dimension))
    raise validation(ONLY_THESE.format(dimension=dimension) + ", ".join(types))


def check_tracked_metric(configuration: dict[str, Any] | None) -> None:
    """Refuse (``ValidationException``) a target tracking configuration (one with a
    ``TargetValue``, as moto hands it over) that names neither a predefined nor a customized
    metric; a step scaling one passes."""
    if not isinstance(configuration, dict) or "TargetValue" not in configuration:
        return
    named = ("PredefinedMetricSpecification", "CustomizedMetricSpecification")
    if all(configuration.get(member) is None for member in named):
        raise validation(NO_METRIC)


def check_resource_label(configuration: dict[str, Any] | None) -> None:
    """Refuse (``ValidationException``) a ``PredefinedMetricSpecification`` with a
    ``ResourceLabel`` whose type is not ``ALBRequestCountPerTarget``."""
    spec = configuration.get("PredefinedMetricSpecification") if configuration else None
    if not isinstance(spec, dict) or spec.get("ResourceLabel") is None:
        return
    if spec.get("PredefinedMetricType") != LABELLED_TYPE:
        raise validation(LABEL_NOT_TAKEN)
