"""SageMaker's resources: ``arn:aws:sagemaker:REGION:ACCOUNT:model/NAME`` (``endpoint-config/``,
``endpoint/``, ``training-job/``, ...), names lowercased as SageMaker's ARNs are
(https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemaker.html)."""

from __future__ import annotations

from cdlab.localcloud.iam.resources.builders import (
    Builder,
    Params,
    Scope,
    all_of,
    given,
    members,
    optional,
)


def _sagemaker(kind: str, member: str) -> Builder:
    def build(params: Params, scope: Scope) -> list[str]:
        return [
            f"arn:aws:sagemaker:{scope.region}:{scope.account}:{kind}/{name.lower()}"
            for name in members(params, member)
        ]

    return build


_MODEL = _sagemaker("model", "ModelName")
_CONFIG = _sagemaker("endpoint-config", "EndpointConfigName")
_ENDPOINT = _sagemaker("endpoint", "EndpointName")
_TRAINING = _sagemaker("training-job", "TrainingJobName")
_PROCESSING = _sagemaker("processing-job", "ProcessingJobName")
_TRANSFORM = _sagemaker("transform-job", "TransformJobName")
_TUNING = _sagemaker("hyper-parameter-tuning-job", "HyperParameterTuningJobName")
_INVOCATION = optional(_sagemaker("inference-component", "InferenceComponentName"), _ENDPOINT)

SAGEMAKER: dict[str, Builder] = {
    **dict.fromkeys(("CreateModel", "DescribeModel", "DeleteModel"), _MODEL),
    **dict.fromkeys(
        ("CreateEndpointConfig", "DescribeEndpointConfig", "DeleteEndpointConfig"), _CONFIG
    ),
    **dict.fromkeys(("CreateEndpoint", "UpdateEndpoint"), all_of(_ENDPOINT, _CONFIG)),
    **dict.fromkeys(
        ("DescribeEndpoint", "DeleteEndpoint", "UpdateEndpointWeightsAndCapacities"), _ENDPOINT
    ),
    **dict.fromkeys(
        ("InvokeEndpoint", "InvokeEndpointAsync", "InvokeEndpointWithResponseStream"), _INVOCATION
    ),
    **dict.fromkeys(
        (
            "CreateTrainingJob",
            "DescribeTrainingJob",
            "StopTrainingJob",
            "DeleteTrainingJob",
            "UpdateTrainingJob",
        ),
        _TRAINING,
    ),
    **dict.fromkeys(
        ("CreateProcessingJob", "DescribeProcessingJob", "StopProcessingJob"), _PROCESSING
    ),
    **dict.fromkeys(("CreateTransformJob", "DescribeTransformJob", "StopTransformJob"), _TRANSFORM),
    **dict.fromkeys(
        (
            "CreateHyperParameterTuningJob",
            "DescribeHyperParameterTuningJob",
            "StopHyperParameterTuningJob",
            "DeleteHyperParameterTuningJob",
            "ListTrainingJobsForHyperParameterTuningJob",
        ),
        _TUNING,
    ),
    **dict.fromkeys(("AddTags", "DeleteTags", "ListTags"), given("ResourceArn")),
}
