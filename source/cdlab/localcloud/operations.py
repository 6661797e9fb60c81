"""The one table of what the kit serves itself: service -> operation -> handler.

A handler takes the request's context and its members (validated against botocore's model) and
returns the response's members, or awaits them. Whatever a service's table lacks goes to moto,
except for the services the kit serves alone (:data:`KIT_ONLY`): SageMaker, CodePipeline and
CodeBuild. CodePipeline and CodeBuild are reached over awsJson 1.1 (``X-Amz-Target``) and over
Smithy RPC v2 CBOR (``/service/<TargetPrefix>/operation/<Operation>``), which their botocore
models list first (boto3 1.44 sends awsJson).
"""

from __future__ import annotations

from cdlab.localcloud.autoscaling.autoscaler import Autoscaler
from cdlab.localcloud.cloudformation import CloudFormation
from cdlab.localcloud.codebuild.provider import CodeBuild
from cdlab.localcloud.codepipeline import CodePipeline
from cdlab.localcloud.context import Handler
from cdlab.localcloud.sagemaker.controlplane import SageMaker
from cdlab.localcloud.sagemaker.training import Training

Table = dict[str, dict[str, Handler]]

# target prefixes (X-Amz-Target's, or RPC v2 CBOR's path's) of the services the kit serves
# (some of) itself
JSON_TARGETS = {
    "SageMaker": "sagemaker",
    "AnyScaleFrontendService": "application-autoscaling",
    "CodePipeline_20150709": "codepipeline",
    "CodeBuild_20161006": "codebuild",
}
# the services no other backend serves: an operation missing from the table is refused
KIT_ONLY = {"sagemaker", "codepipeline", "codebuild"}
# what the local cloud provides of a service, where its table's operations say it too long
PROVIDES = {"sagemaker": "models, endpoint configs, endpoints and training jobs"}


def provided(table: Table, service: str) -> str:
    """What the local cloud provides of ``service``, for an unknown operation's message."""
    if service in PROVIDES:
        return PROVIDES[service]
    operations = sorted(table.get(service, {}))
    return ", ".join(operations) if operations else "none of its operations yet"


def table(
    sagemaker: SageMaker,
    training: Training,
    cloudformation: CloudFormation,
    autoscaler: Autoscaler,
    codebuild: CodeBuild,
    codepipeline: CodePipeline,
) -> Table:
    # over 60 lines on purpose: one line per operation, so the whole table reads in one place
    models, configs, endpoints = sagemaker.models, sagemaker.endpoint_configs, sagemaker.endpoints
    return {
        "sagemaker": {
            "CreateModel": models.create_model,
            "DescribeModel": models.describe_model,
            "ListModels": models.list_models,
            "DeleteModel": models.delete_model,
            "CreateEndpointConfig": configs.create_endpoint_config,
            "DescribeEndpointConfig": configs.describe_endpoint_config,
            "ListEndpointConfigs": configs.list_endpoint_configs,
            "DeleteEndpointConfig": configs.delete_endpoint_config,
            "CreateEndpoint": endpoints.create_endpoint,
            "DescribeEndpoint": endpoints.describe_endpoint,
            "ListEndpoints": endpoints.list_endpoints,
            "UpdateEndpoint": endpoints.update_endpoint,
            "UpdateEndpointWeightsAndCapacities": endpoints.update_endpoint_weights_and_capacities,
            "DeleteEndpoint": endpoints.delete_endpoint,
            "CreateTrainingJob": training.create_training_job,
            "DescribeTrainingJob": training.describe_training_job,
            "ListTrainingJobs": training.list_training_jobs,
            "StopTrainingJob": training.stop_training_job,
            "DeleteTrainingJob": training.delete_training_job,
        },
        # moto keeps targets and policies; the kit's autoscaler is what makes activities
        "application-autoscaling": {
            "DescribeScalingActivities": autoscaler.describe_scaling_activities,
        },
        "codepipeline": codepipeline.operations(),
        "cloudformation": {
            "CreateStack": cloudformation.create_stack,
            "UpdateStack": cloudformation.update_stack,
            "DeleteStack": cloudformation.delete_stack,
            "UpdateTerminationProtection": cloudformation.update_termination_protection,
            "SetStackPolicy": cloudformation.set_stack_policy,
            "GetStackPolicy": cloudformation.get_stack_policy,
            "DescribeStacks": cloudformation.describe_stacks,
            "ListStacks": cloudformation.list_stacks,
            "DescribeStackEvents": cloudformation.describe_stack_events,
            "DescribeStackResources": cloudformation.describe_stack_resources,
            "DescribeStackResource": cloudformation.describe_stack_resource,
            "ListStackResources": cloudformation.list_stack_resources,
            "ListExports": cloudformation.list_exports,
            "ValidateTemplate": cloudformation.validate_template,
            "GetTemplateSummary": cloudformation.get_template_summary,
            "GetTemplate": cloudformation.get_template,
            "CreateChangeSet": cloudformation.create_change_set,
            "DescribeChangeSet": cloudformation.describe_change_set,
            "ListChangeSets": cloudformation.list_change_sets,
            "DeleteChangeSet": cloudformation.delete_change_set,
            "ExecuteChangeSet": cloudformation.execute_change_set,
        },
        "codebuild": {
            "CreateProject": codebuild.create_project,
            "UpdateProject": codebuild.update_project,
            "DeleteProject": codebuild.delete_project,
            "BatchGetProjects": codebuild.batch_get_projects,
            "ListProjects": codebuild.list_projects,
            "StartBuild": codebuild.start_build,
            "BatchGetBuilds": codebuild.batch_get_builds,
            "ListBuildsForProject": codebuild.list_builds_for_project,
            "ListBuilds": codebuild.list_builds,
            "StopBuild": codebuild.stop_build,
        },
    }
