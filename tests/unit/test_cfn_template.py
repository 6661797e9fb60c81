"""Templates are read, checked and evaluated as CloudFormation does, with its error wording."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdlab.localcloud.cloudformation import graph, template, validation
from cdlab.localcloud.cloudformation.changes import diff, plan
from cdlab.localcloud.cloudformation.intrinsics import Scope, Unknown, resolve
from cdlab.localcloud.cloudformation.resources import HANDLERS, PROVIDED
from cdlab.localcloud.protocols.errors import ValidationError

ENDPOINT_YML = Path(__file__).resolve().parents[2] / "cloudformation" / "endpoint.yml"
ENDPOINT_PARAMETERS = {
    "Environment": "prod",
    "ParentStackName": "cdlab",
    "CommitID": "abc1234",
    "Timestamp": "20260101000000",
    "ModelData": "s3://bucket/model.tar.gz",
    "ContainerImage": "fm:1",
    "SageMakerRole": "arn:aws:iam::123456789012:role/sm",
}

STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1"


def given(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


def error_of(call, *args) -> str:
    with pytest.raises(ValidationError) as info:
        call(*args)
    return info.value.message


def checked(body: str) -> dict:
    parsed = template.load(body)
    validation.check(parsed, PROVIDED)
    return parsed


ALARM = """
Resources:
  Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties: {MetricName: M, Namespace: N, Threshold: 1, EvaluationPeriods: 1,
                 ComparisonOperator: GreaterThanThreshold, Period: 60, Statistic: Sum}
"""


# ---- reading -----------------------------------------------------------------------------------


def test_short_tags_become_long_forms_and_dates_stay_strings() -> None:
    parsed = template.load(
        "AWSTemplateFormatVersion: 2010-09-09\n"
        "Resources:\n"
        "  A:\n"
        "    Type: T\n"
        "    Properties:\n"
        "      X: !GetAtt B.Name\n"
        "      Y: !GetAtt [B, Name]\n"
        "      Z: !Sub ${AWS::Region}-x\n"
        "      W: !If [C, !Ref P, !Ref AWS::NoValue]\n"
    )
    props = parsed["Resources"]["A"]["Properties"]
    assert parsed["AWSTemplateFormatVersion"] == "2010-09-09"
    assert props["X"] == props["Y"] == {"Fn::GetAtt": ["B", "Name"]}
    assert props["Z"] == {"Fn::Sub": "${AWS::Region}-x"}
    assert props["W"] == {"Fn::If": ["C", {"Ref": "P"}, {"Ref": "AWS::NoValue"}]}


def test_json_and_yaml_syntax_errors_say_where() -> None:
    assert error_of(template.load, '{"Resources": ') == (
        "Template format error: JSON not well-formed. (line 1, column 15)"
    )
    assert error_of(template.load, "Resources:\n  A: [1\n").startswith(
        "Template format error: YAML not well-formed. (line 3"
    )


def test_the_lab_endpoint_template_is_accepted_and_deployable_in_order() -> None:
    resources = checked(ENDPOINT_YML.read_text())["Resources"]
    assert {r["Type"] for r in resources.values()} <= set(PROVIDED)
    assert graph.order(resources) == ["Model", "RollbackAlarm", "EndpointConfig", "Endpoint"]


# ---- checking ----------------------------------------------------------------------------------


def test_unknown_resource_types_are_named() -> None:
    message = error_of(
        checked, "Resources:\n  A: {Type: AWS::Foo::Bar}\n  B: {Type: AWS::SNS::Topic}\n"
    )
    assert message.startswith(
        "Template format error: Unrecognized resource types: [AWS::Foo::Bar, AWS::SNS::Topic]."
    )
    assert "AWS::SageMaker::Endpoint" in message


def test_validation_alone_accepts_types_the_local_cloud_does_not_provide() -> None:
    topic = template.load("Resources:\n  A: {Type: AWS::SNS::Topic}\n")
    validation.check(topic, None)
    assert error_of(validation.check, topic, PROVIDED).startswith(
        "Template format error: Unrecognized resource types: [AWS::SNS::Topic]."
    )
    # Only the types are let through: the form is checked as for a deploy.
    bad_ref = template.load("Resources:\n  A: {Type: AWS::SNS::Topic, DependsOn: Ghost}\n")
    assert "Unresolved resource dependencies [Ghost]" in error_of(validation.check, bad_ref, None)


def test_a_bad_ref_is_an_unresolved_dependency() -> None:
    body = ALARM.replace("MetricName: M", "MetricName: !Ref Missing")
    assert error_of(checked, body) == (
        "Template format error: Unresolved resource dependencies [Missing] in the Resources "
        "block of the template"
    )


def test_a_bad_getatt_names_the_resource_or_the_attribute() -> None:
    body = ALARM.replace("MetricName: M", "MetricName: !GetAtt Nope.Arn")
    assert error_of(checked, body) == (
        "Template error: instance of Fn::GetAtt references undefined resource Nope"
    )
    body = ALARM.replace("MetricName: M", "MetricName: !GetAtt Alarm.Colour")
    assert error_of(checked, body) == (
        "Template error: resource Alarm does not support attribute type Colour in Fn::GetAtt"
    )


def test_outputs_and_dependson_are_checked_too() -> None:
    body = ALARM + "Outputs:\n  O: {Value: !Ref Ghost}\n"
    assert "[Ghost] in the Outputs block" in error_of(checked, body)
    body = ALARM.replace("    Properties:", "    DependsOn: Ghost\n    Properties:")
    assert "Unresolved resource dependencies [Ghost]" in error_of(checked, body)


def test_form_errors_use_cloudformations_words() -> None:
    assert error_of(checked, "Parameters: {}\n") == (
        "Template format error: At least one Resources member must be defined."
    )
    assert error_of(checked, ALARM + "Extra: 1\n") == (
        "Template format error: Invalid template property or properties [Extra]"
    )
    assert "Transform" in error_of(checked, ALARM + "Transform: AWS::Serverless-2016-10-31\n")
    assert "SSM" in error_of(
        checked, ALARM + "Parameters:\n  P: {Type: 'AWS::SSM::Parameter::Value<String>'}\n"
    )


def test_dependency_cycles_are_template_errors() -> None:
    body = """
Resources:
  A: {Type: AWS::CloudWatch::Alarm, Properties: {AlarmDescription: !Ref B}}
  B: {Type: AWS::CloudWatch::Alarm, Properties: {AlarmDescription: !Sub "${A}"}}
  C: {Type: AWS::CloudWatch::Alarm}
"""
    assert error_of(checked, body) == "Circular dependency between resources: [A, B]"


def test_order_follows_ref_getatt_sub_and_dependson() -> None:
    resources = template.load(
        """
Resources:
  Endpoint: {Type: T, Properties: {EndpointConfigName: !GetAtt Config.EndpointConfigName}}
  Config: {Type: T, Properties: {Name: !Sub "${Model.ModelName}-config"}}
  Alarm: {Type: T, DependsOn: [Endpoint]}
  Model: {Type: T}
"""
    )["Resources"]
    assert graph.order(resources) == ["Model", "Config", "Endpoint", "Alarm"]


# ---- parameters --------------------------------------------------------------------------------


DECLARATIONS = template.load(ENDPOINT_YML.read_text())["Parameters"]


def test_defaults_fill_in_and_numbers_stay_strings() -> None:
    values = template.parameter_values(DECLARATIONS, given(ENDPOINT_PARAMETERS), None)
    assert values["InstanceType"] == "ml.t2.medium" and values["InstanceCount"] == "1"


def test_missing_and_unknown_parameters_are_named() -> None:
    partial = {k: v for k, v in ENDPOINT_PARAMETERS.items() if k not in ("CommitID", "ModelData")}
    assert error_of(template.parameter_values, DECLARATIONS, given(partial), None) == (
        "Parameters: [CommitID, ModelData] must have values"
    )
    extra = {**ENDPOINT_PARAMETERS, "Colour": "blue"}
    assert error_of(template.parameter_values, DECLARATIONS, given(extra), None) == (
        "Parameters: [Colour] do not exist in the template"
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("Environment", "dev", "Parameter 'Environment' must be one of AllowedValues"),
        ("CommitID", "ABC", "Parameter CommitID failed to satisfy constraint: 1 to 8 lower-case "
         "letters or digits (e.g. the first 7 hex digits of the git commit)"),
        ("ModelData", "ftp://x", "Parameter 'ModelData' must match pattern ^(https|s3)://([^/]+)/?(.*)$"),
        ("InstanceCount", "11", "Parameter 'InstanceCount' must be a number not greater than 10"),
        ("InstanceCount", "many", "Parameter 'InstanceCount' must be a number"),
    ],
)  # fmt: skip
def test_constraints_are_enforced_with_cloudformations_messages(name, value, message) -> None:
    values = {**ENDPOINT_PARAMETERS, name: value}
    assert error_of(template.parameter_values, DECLARATIONS, given(values), None) == message


def test_use_previous_value_takes_the_stacks_value() -> None:
    previous = template.parameter_values(DECLARATIONS, given(ENDPOINT_PARAMETERS), None)
    again = [{"ParameterKey": k, "UsePreviousValue": True} for k in ENDPOINT_PARAMETERS] + [
        {"ParameterKey": "CommitID", "ParameterValue": "def5678"}
    ]
    values = template.parameter_values(DECLARATIONS, again, previous)
    assert values["CommitID"] == "def5678" and values["ModelData"] == "s3://bucket/model.tar.gz"


# ---- intrinsics and conditions -----------------------------------------------------------------


def scope(**parameters) -> Scope:
    return Scope(
        {
            **template.pseudo_parameters(
                "mystack", "arn:aws:cloudformation:us-east-1:123456789012:stack/mystack/1"
            ),
            **parameters,
        },
        conditions={"Yes": True, "No": False},
        mappings={"Sizes": {"qa": {"Count": 1}}},
        resources=frozenset({"Model"}),
        ref=lambda name: f"arn:{name}",
        get_att=lambda name, attribute: f"{name}-{attribute}",
    )


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ({"Ref": "Env"}, "qa"),
        ({"Ref": "AWS::StackName"}, "mystack"),
        ({"Ref": "AWS::AccountId"}, "123456789012"),
        ({"Ref": "Model"}, "arn:Model"),
        ({"Fn::GetAtt": ["Model", "ModelName"]}, "Model-ModelName"),
        ({"Fn::Sub": "${Env}-${Model.ModelName}-${AWS::Region}-${!Literal}"},
         "qa-Model-ModelName-us-east-1-${Literal}"),
        ({"Fn::Sub": ["${Env}-${X}", {"X": {"Ref": "Model"}}]}, "qa-arn:Model"),
        ({"Fn::Join": ["-", ["a", {"Ref": "Env"}, 3]]}, "a-qa-3"),
        ({"Fn::If": ["Yes", "y", "n"]}, "y"),
        ({"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}, "b"),
        ({"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "Count"]}, 1),
        ({"Fn::Base64": "hi"}, "aGk="),
        ({"Fn::Equals": [{"Ref": "Env"}, "qa"]}, True),
        ({"Fn::And": [{"Condition": "Yes"}, {"Fn::Not": [{"Condition": "No"}]}]}, True),
        ({"Fn::Or": [{"Condition": "No"}, {"Fn::Equals": ["1", 1]}]}, True),
    ],
)  # fmt: skip
def test_intrinsic_functions(expression, expected) -> None:
    assert resolve(expression, scope(Env="qa")) == expected


def test_no_value_removes_properties_and_list_items() -> None:
    value = {
        "Keep": 1,
        "Drop": {"Fn::If": ["No", "x", {"Ref": "AWS::NoValue"}]},
        "List": ["a", {"Fn::If": ["No", "b", {"Ref": "AWS::NoValue"}]}],
    }
    assert resolve(value, scope()) == {"Keep": 1, "List": ["a"]}


def test_unknown_values_spread_through_functions() -> None:
    planning = Scope(template.pseudo_parameters("s", STACK_ID), resources=frozenset({"Model"}))
    assert resolve({"Fn::Sub": "${Model.ModelName}-x"}, planning) == Unknown("Model.ModelName")
    assert resolve({"Fn::Join": ["", ["a", {"Ref": "Model"}]]}, planning) == Unknown("Model")


def test_import_value_is_refused_clearly() -> None:
    assert "cross-stack imports" in error_of(resolve, {"Fn::ImportValue": "x"}, scope())


def test_conditions_select_resources_and_outputs() -> None:
    parsed = template.load(ENDPOINT_YML.read_text())
    for environment, has_alarm in (("prod", True), ("qa", False)):
        values = template.parameter_values(
            DECLARATIONS, given({**ENDPOINT_PARAMETERS, "Environment": environment}), None
        )
        evaluated = template.evaluate(parsed, values, "s", STACK_ID)
        assert ("RollbackAlarm" in evaluated.enabled) is has_alarm
        assert evaluated.enabled[-1] == "Endpoint"


# ---- what an update does -----------------------------------------------------------------------


def test_create_only_properties_replace_and_others_update_in_place() -> None:
    endpoint = {
        "ResourceType": "AWS::SageMaker::Endpoint",
        "Properties": {"EndpointName": "prod-x", "EndpointConfigName": "c1"},
    }
    in_place = diff(
        endpoint, "AWS::SageMaker::Endpoint", {"EndpointName": "prod-x", "EndpointConfigName": "c2"}
    )
    assert in_place is not None and in_place.replace is False
    renamed = diff(
        endpoint, "AWS::SageMaker::Endpoint", {"EndpointName": "prod-y", "EndpointConfigName": "c1"}
    )
    assert renamed is not None and renamed.replace is True
    assert diff(endpoint, "AWS::SageMaker::Endpoint", dict(endpoint["Properties"])) is None


def test_a_change_set_shows_the_prod_update_as_replacements_and_an_in_place_update() -> None:
    parsed = template.load(ENDPOINT_YML.read_text())
    before = template.parameter_values(DECLARATIONS, given(ENDPOINT_PARAMETERS), None)
    after = {**before, "CommitID": "def5678", "ModelData": "s3://bucket/new.tar.gz"}
    current: dict[str, dict] = {}
    first = template.evaluate(parsed, before, "s", STACK_ID)
    first.scope.ref = lambda n: current[n]["PhysicalResourceId"]
    first.scope.get_att = lambda n, a: current[n]["Attributes"][a]
    for logical in first.enabled:  # the resources as a first deploy leaves them
        handler = HANDLERS[first.resources[logical]["Type"]]
        props = resolve(first.resources[logical].get("Properties", {}), first.scope)
        made = handler.predict(props)
        current[logical] = {
            "ResourceType": first.resources[logical]["Type"],
            "Properties": props,
            "PhysicalResourceId": made.physical_id,
            "Attributes": made.attributes,
        }
    changes = plan(current, parsed, before, template.evaluate(parsed, after, "s", STACK_ID), after)
    summary = {
        c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"]["Replacement"]
        for c in changes
    }
    assert summary == {"Model": "True", "EndpointConfig": "True", "Endpoint": "False"}
    [endpoint] = [
        c["ResourceChange"]
        for c in changes
        if c["ResourceChange"]["LogicalResourceId"] == "Endpoint"
    ]
    assert endpoint["Details"] == [
        {
            "Target": {
                "Attribute": "Properties",
                "Name": "EndpointConfigName",
                "RequiresRecreation": "Never",
            },
            "Evaluation": "Static",
            "ChangeSource": "ResourceAttribute",
            "CausingEntity": "EndpointConfig.EndpointConfigName",
        }
    ]
