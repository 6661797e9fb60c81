"""The pipeline stack's own resources (buckets, roles, the Glue database, the EventBridge rule)
deployed, updated and deleted by the local CloudFormation through the AWS CLI, as
`aws cloudformation deploy` does them on AWS; and kept across a restart of the local cloud.

The template is cloudformation/pipeline.yml without its CodeBuild projects and its pipeline,
made from it at the start of the tests (``stack_resources``), so that they test the template the
lab deploys, not a copy of it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, WaiterError

from cdlab import config
from cdlab.localcloud.cloudformation import template
from cdlab.pipeline.roles import assume
from tests.integration.private_cloud import PrivateCloud
from tests.polling import poll
from tests.roles import CLOUDFORMATION, S3_EVERYWHERE, allowing, make_role, trusting

pytestmark = pytest.mark.slow

PIPELINE_YML = Path(__file__).parents[2] / "cloudformation" / "pipeline.yml"
PROJECTS_AND_PIPELINE = (
    "  # ------------------------------------------------------------------ CodeBuild projects\n"
)
PROJECT_ARN = "!Sub arn:${AWS::Partition}:codebuild:${AWS::Region}:${AWS::AccountId}:project/"
NAMED = {  # what names the projects and the pipeline, and the names the template gives them
    "!GetAtt BuildProject.Arn": PROJECT_ARN + "${AWS::StackName}-build",
    "!GetAtt TestProject.Arn": PROJECT_ARN + "${AWS::StackName}-test",
    "${Pipeline}": "${AWS::StackName}",
    "Value: !Ref Pipeline": "Value: !Ref AWS::StackName",
}


def stack_resources(pipeline_yml: str) -> str:
    """The pipeline template without its CodeBuild projects and its pipeline (the resources from
    the projects' heading to the outputs); what referred to them names them instead."""
    start = pipeline_yml.index(PROJECTS_AND_PIPELINE)
    text = pipeline_yml[:start] + pipeline_yml[pipeline_yml.index("\nOutputs:\n") + 1 :]
    for reference, name in NAMED.items():
        assert reference in text, reference
        text = text.replace(reference, name)
    return text


@pytest.fixture(scope="module")
def template_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    made = tmp_path_factory.mktemp("templates") / "pipeline_resources.yml"
    made.write_text(stack_resources(PIPELINE_YML.read_text()))
    left = set(template.load(made.read_text())["Resources"])
    assert left == set(template.load(PIPELINE_YML.read_text())["Resources"]) - {
        "BuildProject",
        "TestProject",
        "Pipeline",
    }
    return made


ROLES = (
    "SagemakerRole", "CodeBuildRole", "TestCodeBuildRole", "CloudFormationRole",
    "CodePipelineRole", "SourceEventRole",
)  # fmt: skip
SAGEMAKER = "sagemaker.amazonaws.com"


def deploy(aws, stack: str, template: Path, *extra: str, check: bool = True):
    return aws(
        "cloudformation", "deploy", "--template-file", str(template), "--stack-name", stack,
        "--parameter-overrides", f"PipelineName={stack}", *extra, check=check,
    )  # fmt: skip


def resources(cfn, stack: str) -> dict[str, dict]:
    listed = cfn.describe_stack_resources(StackName=stack)["StackResources"]
    return {r["LogicalResourceId"]: r for r in listed}


def outputs(cfn, stack: str) -> dict[str, str]:
    [described] = cfn.describe_stacks(StackName=stack)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}


def empty_bucket(s3, bucket: str) -> None:
    """Every version and delete marker deleted, as a versioned bucket must be before its delete."""
    listed = s3.list_object_versions(Bucket=bucket)
    for item in [*listed.get("Versions", []), *listed.get("DeleteMarkers", [])]:
        s3.delete_object(Bucket=bucket, Key=item["Key"], VersionId=item["VersionId"])


def watch_uploads(client, stack: str) -> str:
    """A rule and log group of the test's own that log the S3 events EventBridge receives from
    the stack's buckets; made before the stack, so that moto, which stops delivering an event
    at a target it cannot send to (the stack rule's pipeline), delivers to it first."""
    events, logs = client("events"), client("logs")
    group = f"/aws/events/{stack}"
    logs.create_log_group(logGroupName=group)
    pattern = {"source": ["aws.s3"], "detail": {"bucket": {"name": [{"prefix": f"{stack}-"}]}}}
    events.put_rule(Name=f"watch-{stack}", EventPattern=json.dumps(pattern))
    arn = f"arn:aws:logs:us-east-1:{config.ACCOUNT_ID}:log-group:{group}"
    events.put_targets(Rule=f"watch-{stack}", Targets=[{"Id": "log", "Arn": arn}])
    return group


def sends_to_eventbridge(client, group: str, bucket: str) -> bool:
    """Whether an upload to ``bucket`` reaches EventBridge as an "Object Created" event (the
    setting itself is one thing, its delivery another)."""
    client("s3").put_object(Bucket=bucket, Key="cdlab/source.zip", Body=b"zip")
    found = client("logs").filter_log_events(logGroupName=group)["events"]
    return any(
        json.loads(e["message"])["detail"]["bucket"]["name"] == bucket
        and json.loads(e["message"])["detail-type"] == "Object Created"
        for e in found
    )


@pytest.fixture(scope="module")
def first_stack(aws, client, template_file: Path) -> tuple[dict[str, dict], str]:
    """The stack "cdlab-res" deployed through the CLI: its resources, and the log group where
    the uploads its buckets send to EventBridge are seen."""
    group = watch_uploads(client, "cdlab-res")
    deploy(aws, "cdlab-res", template_file, "--capabilities", "CAPABILITY_IAM")
    return resources(client("cloudformation"), "cdlab-res"), group


def test_iam_resources_need_the_capability(aws, client, template_file: Path) -> None:
    refused = deploy(aws, "cdlab-nocap", template_file, check=False)
    assert refused.returncode != 0
    assert "InsufficientCapabilitiesException" in refused.stderr
    assert "Requires capabilities : [CAPABILITY_IAM]" in refused.stderr
    with pytest.raises(ClientError):
        client("cloudformation").describe_stacks(StackName="cdlab-nocap")


def test_the_pipeline_stack_deploys_with_aws_like_names_and_outputs(
    aws, client, first_stack, template_file: Path
) -> None:
    cfn, s3, iam = client("cloudformation"), client("s3"), client("iam")
    found, group = first_stack
    assert {r["ResourceStatus"] for r in found.values()} == {"CREATE_COMPLETE"}
    again = deploy(aws, "cdlab-res", template_file, "--capabilities", "CAPABILITY_IAM", check=False)
    assert "No changes to deploy. Stack cdlab-res is up to date" in again.stderr
    for logical in ("SourceBucket", "ArtifactBucket", "DataBucket"):
        name = found[logical]["PhysicalResourceId"]
        assert re.fullmatch(rf"cdlab-res-{logical.lower()}-[a-z0-9]{{12}}", name), name
    source = found["SourceBucket"]["PhysicalResourceId"]
    artifacts = found["ArtifactBucket"]["PhysicalResourceId"]
    assert s3.get_bucket_versioning(Bucket=source)["Status"] == "Enabled"
    assert sends_to_eventbridge(client, group, source)
    assert not sends_to_eventbridge(client, group, artifacts)
    assert s3.get_bucket_notification_configuration(Bucket=source)["EventBridgeConfiguration"] == {}
    assert "EventBridgeConfiguration" not in s3.get_bucket_notification_configuration(
        Bucket=artifacts
    )
    [rule] = s3.get_bucket_encryption(Bucket=source)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    block = s3.get_public_access_block(Bucket=source)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    [lifecycle] = s3.get_bucket_lifecycle_configuration(Bucket=artifacts)["Rules"]
    assert (lifecycle["ID"], lifecycle["Expiration"]["Days"]) == (
        "expire-old-pipeline-artifacts", 30,
    )  # fmt: skip
    assert lifecycle["NoncurrentVersionExpiration"]["NoncurrentDays"] == 7

    for logical in ROLES:
        name = found[logical]["PhysicalResourceId"]
        assert re.fullmatch(rf"cdlab-res-{logical}-[A-Za-z0-9]{{12}}", name), name
        assert iam.list_role_policies(RoleName=name)["PolicyNames"]
    sagemaker_role = iam.get_role(RoleName=found["SagemakerRole"]["PhysicalResourceId"])["Role"]
    trust = sagemaker_role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"Service": SAGEMAKER}

    glue = client("glue").get_database(Name="cdlab_res")["Database"]
    assert glue["Description"].startswith("MovieLens 100k tables")
    rule_name = found["SourceEventRule"]["PhysicalResourceId"]
    events = client("events")
    described = events.describe_rule(Name=rule_name)
    assert json.loads(described["EventPattern"])["detail"]["bucket"]["name"] == [source]
    [target] = events.list_targets_by_rule(Rule=rule_name)["Targets"]
    assert target["Arn"] == f"arn:aws:codepipeline:us-east-1:{config.ACCOUNT_ID}:cdlab-res"
    assert target["RoleArn"].endswith(f"/{found['SourceEventRole']['PhysicalResourceId']}")

    out = outputs(cfn, "cdlab-res")
    assert out["SourceBucket"] == source and out["ArtifactBucket"] == artifacts
    assert out["GlueCatalogDatabase"] == "cdlab_res"
    assert out["SagemakerRoleArn"] == sagemaker_role["Arn"]
    assert out["ProdEndpointName"] == "prod-cdlab-res"
    assert out["PipelineName"] == "cdlab-res"


def test_a_stack_name_over_the_limit_is_refused_with_the_constraint(
    aws, template_file: Path
) -> None:
    refused = deploy(aws, "x" * 35, template_file, "--capabilities", "CAPABILITY_IAM", check=False)
    assert refused.returncode != 0
    assert (
        "Parameter PipelineName failed to satisfy constraint: the stack name must be at most 34"
        in (" ".join(refused.stderr.split()))
    )


def test_a_second_stack_deploys_next_to_the_first_and_roles_act_as_assumed(
    aws, client, aws_env, first_stack, template_file: Path
) -> None:
    cfn, s3 = client("cloudformation"), client("s3")
    deploy(aws, "cdlab-two", template_file, "--capabilities", "CAPABILITY_IAM")
    assert client("glue").get_database(Name="cdlab_two")["Database"]["Name"] == "cdlab_two"
    found = resources(cfn, "cdlab-two")
    data = found["DataBucket"]["PhysicalResourceId"]
    role_arn = outputs(cfn, "cdlab-two")["SagemakerRoleArn"]
    as_role = assume(role_arn, SAGEMAKER).session().client("s3")
    as_role.put_object(Bucket=data, Key="model/a.txt", Body=b"a")  # DataBucketObjects
    other = found["ArtifactBucket"]["PhysicalResourceId"]
    with pytest.raises(ClientError) as refused:
        as_role.put_object(Bucket=other, Key="a.txt", Body=b"a")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"

    # update: the inline policy lets the role write the artifact bucket too
    updated = template_file.read_text().replace(
        "Resource: !Sub ${DataBucket.Arn}/*\n              - Sid: DataBucketListing",
        "Resource:\n                  - !Sub ${DataBucket.Arn}/*\n"
        "                  - !Sub ${ArtifactBucket.Arn}/*\n"
        "              - Sid: DataBucketListing",
        1,
    )
    updated = updated.replace(
        "  DataBucket:\n    Type: AWS::S3::Bucket\n    Properties:\n",
        "  DataBucket:\n    Type: AWS::S3::Bucket\n    Properties:\n"
        "      VersioningConfiguration:\n        Status: Enabled\n",
    )
    assert (
        updated.count("Status: Enabled\n")
        == template_file.read_text().count("Status: Enabled\n") + 1
    )
    changed = Path(aws_env["CDLAB_HOME"]) / "pipeline_resources_updated.yml"
    changed.write_text(updated)
    deploy(aws, "cdlab-two", changed, "--capabilities", "CAPABILITY_IAM")
    [stack] = cfn.describe_stacks(StackName="cdlab-two")["Stacks"]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert (
        resources(cfn, "cdlab-two")["SagemakerRole"]["PhysicalResourceId"]
        == (found["SagemakerRole"]["PhysicalResourceId"])
    )
    as_role.put_object(Bucket=other, Key="a.txt", Body=b"a")
    assert resources(cfn, "cdlab-two")["DataBucket"]["PhysicalResourceId"] == data
    assert s3.get_bucket_versioning(Bucket=data)["Status"] == "Enabled"  # updated in place

    # delete: a non-empty bucket fails as on AWS; emptied, the delete completes
    cfn.delete_stack(StackName="cdlab-two")
    with pytest.raises(WaiterError):
        cfn.get_waiter("stack_delete_complete").wait(StackName="cdlab-two")
    [stack] = cfn.describe_stacks(StackName="cdlab-two")["Stacks"]
    assert stack["StackStatus"] == "DELETE_FAILED"
    failed = resources(cfn, "cdlab-two")
    assert failed["DataBucket"]["ResourceStatus"] == "DELETE_FAILED"
    assert (
        "The bucket you tried to delete is not empty"
        in failed["DataBucket"]["ResourceStatusReason"]
    )
    for bucket in (data, other):
        empty_bucket(s3, bucket)
    cfn.delete_stack(StackName="cdlab-two")
    cfn.get_waiter("stack_delete_complete").wait(StackName="cdlab-two")
    with pytest.raises(ClientError):
        client("iam").get_role(RoleName=found["SagemakerRole"]["PhysicalResourceId"])
    with pytest.raises(ClientError):
        client("glue").get_database(Name="cdlab_two")
    assert data not in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert client("glue").get_database(Name="cdlab_res")  # the other stack's is still there


def test_a_restart_keeps_the_roles_the_database_the_rule_and_bucket_settings(
    private: PrivateCloud, template_file: Path
) -> None:
    private.up()
    group = watch_uploads(private.client, "kept")
    cfn = private.client("cloudformation")
    cfn.create_stack(
        StackName="kept",
        TemplateBody=template_file.read_text(),
        Parameters=[{"ParameterKey": "PipelineName", "ParameterValue": "kept"}],
        Capabilities=["CAPABILITY_IAM"],
    )
    cfn.get_waiter("stack_create_complete").wait(StackName="kept")
    found = resources(cfn, "kept")
    role = found["SagemakerRole"]["PhysicalResourceId"]
    before = private.client("iam").get_role(RoleName=role)["Role"]

    private.kill()
    private.up()
    iam, s3 = private.client("iam"), private.client("s3")
    after = iam.get_role(RoleName=role)["Role"]
    assert (after["Arn"], after["RoleId"]) == (before["Arn"], before["RoleId"])
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == ["sagemaker-execution"]
    assert private.client("glue").get_database(Name="kept")["Database"]["Name"] == "kept"
    rule = found["SourceEventRule"]["PhysicalResourceId"]
    assert private.client("events").list_targets_by_rule(Rule=rule)["Targets"]
    source = found["SourceBucket"]["PhysicalResourceId"]
    assert s3.get_bucket_versioning(Bucket=source)["Status"] == "Enabled"
    assert sends_to_eventbridge(private.client, group, source)
    data = found["DataBucket"]["PhysicalResourceId"]
    as_role = assume(before["Arn"], SAGEMAKER).session().client("s3")
    as_role.put_object(Bucket=data, Key="model/a.txt", Body=b"a")  # its inline policy, put back

    for logical in ("SourceBucket", "DataBucket"):
        empty_bucket(s3, found[logical]["PhysicalResourceId"])
    cfn = private.client("cloudformation")
    cfn.delete_stack(StackName="kept")
    cfn.get_waiter("stack_delete_complete").wait(StackName="kept")
    with pytest.raises(ClientError):
        iam.get_role(RoleName=role)
    assert not private.client("events").list_rules(NamePrefix="kept-")["Rules"]


def test_the_stack_role_makes_each_call_as_itself(aws, client, template_file: Path) -> None:
    """With a service role that may use S3 and Glue but not IAM, the buckets and the database
    are made and the first role is refused with the IAM action it lacked; the rollback removes
    the rest."""
    cfn, iam = client("cloudformation"), client("iam")
    weak = make_role(
        iam,
        "cdlab-res-weak",
        trusting(CLOUDFORMATION),
        allowing(S3_EVERYWHERE, {"Effect": "Allow", "Action": "glue:*", "Resource": "*"}),
    )
    refused = deploy(
        aws, "cdlab-weak", template_file, "--capabilities", "CAPABILITY_IAM", "--role-arn", weak,
        check=False,
    )  # fmt: skip
    assert refused.returncode != 0
    events = cfn.describe_stack_events(StackName="cdlab-weak")["StackEvents"]
    [failed] = [e for e in events if e["ResourceStatus"] == "CREATE_FAILED"]
    assert failed["ResourceType"] == "AWS::IAM::Role"
    session = f"arn:aws:sts::{config.ACCOUNT_ID}:assumed-role/cdlab-res-weak/AWSCloudFormation"
    assert failed["ResourceStatusReason"].startswith(
        f'Resource handler returned message: "User: {session} is not authorized to perform: '
        "iam:CreateRole on resource: "
    )
    made = {e["LogicalResourceId"] for e in events if e["ResourceStatus"] == "CREATE_COMPLETE"}
    assert {"SourceBucket", "DataBucket", "GlueCatalogDatabase"} <= made
    [stack] = cfn.describe_stacks(StackName="cdlab-weak")["Stacks"]
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    with pytest.raises(ClientError):
        client("glue").get_database(Name="cdlab_weak")
    buckets = {b["Name"] for b in client("s3").list_buckets()["Buckets"]}
    assert not any(b.startswith("cdlab-weak-") for b in buckets)
    cfn.delete_stack(StackName="cdlab-weak")
    cfn.get_waiter("stack_delete_complete").wait(StackName="cdlab-weak")


def test_a_retained_bucket_outlives_its_stack(client) -> None:
    cfn, s3 = client("cloudformation"), client("s3")
    body = (
        "Resources:\n"
        "  Kept:\n"
        "    Type: AWS::S3::Bucket\n"
        "    DeletionPolicy: Retain\n"
        "    Properties: {Tags: [{Key: team, Value: cdlab}]}\n"
        "  Gone: {Type: AWS::S3::Bucket}\n"
    )
    cfn.create_stack(StackName="cdlab-retain", TemplateBody=body)
    cfn.get_waiter("stack_create_complete").wait(StackName="cdlab-retain")
    found = resources(cfn, "cdlab-retain")
    kept, gone = (found[n]["PhysicalResourceId"] for n in ("Kept", "Gone"))
    assert s3.get_bucket_tagging(Bucket=kept)["TagSet"] == [{"Key": "team", "Value": "cdlab"}]
    s3.put_object(Bucket=kept, Key="a", Body=b"a")
    cfn.delete_stack(StackName="cdlab-retain")
    cfn.get_waiter("stack_delete_complete").wait(StackName="cdlab-retain")
    buckets = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert kept in buckets and gone not in buckets
    assert s3.get_object(Bucket=kept, Key="a")["Body"].read() == b"a"


def described_rule_arn(client, found: dict[str, dict]) -> str:
    rule = found["SourceEventRule"]["PhysicalResourceId"]
    return client("events").describe_rule(Name=rule)["Arn"]


def test_the_whole_pipeline_template_deploys_updates_and_deletes(aws, client) -> None:
    cfn, s3 = client("cloudformation"), client("s3")
    deploy(aws, "cdlab-full", PIPELINE_YML, "--capabilities", "CAPABILITY_IAM")
    found = resources(cfn, "cdlab-full")
    assert set(found) == set(template.load(PIPELINE_YML.read_text())["Resources"])
    assert {r["ResourceStatus"] for r in found.values()} == {"CREATE_COMPLETE"}
    assert found["Pipeline"]["PhysicalResourceId"] == "cdlab-full"
    assert found["BuildProject"]["PhysicalResourceId"] == "cdlab-full-build"
    assert outputs(cfn, "cdlab-full")["PipelineName"] == "cdlab-full"
    pipeline = client("codepipeline").get_pipeline(name="cdlab-full")["pipeline"]
    assert (
        pipeline["roleArn"]
        == f"arn:aws:iam::{config.ACCOUNT_ID}:role/"
        + (found["CodePipelineRole"]["PhysicalResourceId"])
    )
    [project] = client("codebuild").batch_get_projects(names=["cdlab-full-test"])["projects"]
    assert 'source/test.py "qa-cdlab-full"' in project["source"]["buildspec"]

    # the stack's bucket and rule start the pipeline on an upload (a bad archive: it stops there)
    source = found["SourceBucket"]["PhysicalResourceId"]
    s3.put_object(Bucket=source, Key="cdlab/source.zip", Body=b"not a zip")
    codepipeline = client("codepipeline")
    [started] = poll(
        lambda: [
            e
            for e in codepipeline.list_pipeline_executions(pipelineName="cdlab-full")[
                "pipelineExecutionSummaries"
            ]
            if e["trigger"]["triggerType"] == "CloudWatchEvent"
        ]
    )
    assert started["trigger"]["triggerDetail"] == described_rule_arn(client, found)
    poll(
        lambda: (
            codepipeline.get_pipeline_execution(
                pipelineName="cdlab-full", pipelineExecutionId=started["pipelineExecutionId"]
            )["pipelineExecution"]["status"]
            in ("Failed", "Succeeded", "Stopped")
        )
    )

    aws(
        "cloudformation", "deploy", "--template-file", str(PIPELINE_YML),
        "--stack-name", "cdlab-full", "--capabilities", "CAPABILITY_IAM", "--parameter-overrides",
        "PipelineName=cdlab-full", "CodeBuildImage=aws/codebuild/standard:6.0",
    )  # fmt: skip
    [stack] = cfn.describe_stacks(StackName="cdlab-full")["Stacks"]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    [project] = client("codebuild").batch_get_projects(names=["cdlab-full-build"])["projects"]
    assert project["environment"]["image"] == "aws/codebuild/standard:6.0"

    for logical in ("SourceBucket", "ArtifactBucket", "DataBucket"):
        empty_bucket(s3, found[logical]["PhysicalResourceId"])
    cfn.delete_stack(StackName="cdlab-full")
    cfn.get_waiter("stack_delete_complete").wait(StackName="cdlab-full")
    assert "cdlab-full" not in {
        p["name"] for p in client("codepipeline").list_pipelines()["pipelines"]
    }
