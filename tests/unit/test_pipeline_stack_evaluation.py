"""cloudformation/pipeline.yml evaluated by the local CloudFormation for one stack: pseudo
parameters, Fn::Sub with resource attributes inside the inline buildspecs, Fn::Join/Fn::Split,
the rule and the parameter constraint."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdlab.localcloud.cloudformation import template
from cdlab.localcloud.cloudformation.intrinsics import resolve
from cdlab.localcloud.protocols.errors import ValidationError

PIPELINE = template.load(
    (Path(__file__).parents[2] / "cloudformation" / "pipeline.yml").read_text()
)
STACK_ID = "arn:aws:cloudformation:eu-west-1:123456789012:stack/{name}/0123"


def evaluated(name: str, pipeline_name: str | None = None) -> template.Evaluated:
    given = [{"ParameterKey": "PipelineName", "ParameterValue": pipeline_name or name}]
    values = template.parameter_values(PIPELINE["Parameters"], given, None)
    result = template.evaluate(PIPELINE, values, name, STACK_ID.format(name=name))
    result.scope.ref = lambda logical: f"<{logical}>"
    result.scope.get_att = lambda logical, attribute: f"<{logical}.{attribute}>"
    return result


def properties(stack: template.Evaluated, logical: str) -> dict:
    return resolve(stack.resources[logical]["Properties"], stack.scope)


def test_the_buildspec_gets_resource_attributes_and_keeps_the_shell_alone() -> None:
    stack = evaluated("cd-lab-1")
    buildspec = properties(stack, "BuildProject")["Source"]["BuildSpec"]
    assert 'python3 source/predata.py "<DataBucket>" "<GlueCatalogDatabase>"' in buildspec
    assert (
        'python3 source/train.py "<SagemakerRole.Arn>" "<DataBucket>" "cd-lab-1" '
        "\"$(grep -sxE '[0-9a-f]{40}' source/commit.txt "
        '|| echo $CODEBUILD_RESOLVED_SOURCE_VERSION)"'
    ) in buildspec
    test = properties(stack, "TestProject")["Source"]["BuildSpec"]
    assert 'source/test.py "qa-cd-lab-1" "prepdata_result.json"' in test


def test_pseudo_parameters_and_the_database_name_come_from_the_stack() -> None:
    stack = evaluated("cd-lab-1")
    database = properties(stack, "GlueCatalogDatabase")
    assert database["CatalogId"] == "123456789012"
    assert database["DatabaseInput"]["Name"] == "cd_lab_1"
    [logs, *_] = properties(stack, "CodeBuildRole")["Policies"][0]["PolicyDocument"]["Statement"]
    assert logs["Resource"] == (
        "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/codebuild/cd-lab-1-build*"
    )


def test_a_long_stack_name_is_refused_with_the_constraint_description() -> None:
    with pytest.raises(ValidationError) as refused:
        evaluated("a" * 35)
    assert refused.value.message.startswith(
        "Parameter PipelineName failed to satisfy constraint: the stack name must be at most 34"
    )


def test_a_pipeline_name_other_than_the_stack_name_is_refused_by_the_rule() -> None:
    with pytest.raises(ValidationError) as refused:
        evaluated("cd-lab-1", "cd-lab-2")
    assert "PipelineName must be this stack's name" in refused.value.message
