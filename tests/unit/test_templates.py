"""The CloudFormation templates keep the pipeline's promises.

These tests read cloudformation/pipeline.yml, endpoint.yml and the two template-configuration files
as data: cfn-lint keeps them valid for AWS, and the rest checks the contract between the stages
(which scripts run with which arguments, which files carry what, which names SageMaker gets).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from cdlab import execution_role
from cdlab.localcloud.cloudformation import template

ROOT = Path(__file__).resolve().parents[2]
CFN = ROOT / "cloudformation"
TEMPLATES = [CFN / "pipeline.yml", CFN / "endpoint.yml"]

# SageMaker's own pattern for model, endpoint-config and endpoint names (botocore's model).
SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
SAGEMAKER_NAME_MAX = 63

# What train.py adds to each configuration file, and what the pipeline adds as ParameterOverrides.
WRITTEN_BY_TRAIN = {"CommitID", "Timestamp", "ModelData", "ContainerImage"}
EXPECTED_STAGES = ["Source", "Build", "DeployQA", "TestQA", "Approval", "DeployProd"]
THRESHOLD_TAG = "cdlab:match-rate-threshold"


# ----------------------------------------------------------------------------- reading templates
def load_template(path: Path) -> dict:
    """The template as the local cloud reads it (short tags in their long forms)."""
    return template.load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def pipeline() -> dict:
    return load_template(CFN / "pipeline.yml")


@pytest.fixture(scope="module")
def endpoint() -> dict:
    return load_template(CFN / "endpoint.yml")


@pytest.fixture(scope="module")
def configs() -> dict[str, dict]:
    return {
        env: json.loads((CFN / f"configuration_{env}.json").read_text(encoding="utf-8"))
        for env in ("qa", "prod")
    }


def stages(pipeline: dict) -> list[dict]:
    return pipeline["Resources"]["Pipeline"]["Properties"]["Stages"]


def stage(pipeline: dict, name: str) -> dict:
    return next(s for s in stages(pipeline) if s["Name"] == name)


def only_action(pipeline: dict, name: str) -> dict:
    actions = stage(pipeline, name)["Actions"]
    assert len(actions) == 1, f"stage {name} should have one action"
    return actions[0]


def sub_text(value) -> str:
    """The template string of a !Sub (either form)."""
    assert isinstance(value, dict) and "Fn::Sub" in value, f"expected a !Sub, got {value!r}"
    sub = value["Fn::Sub"]
    return sub if isinstance(sub, str) else sub[0]


def sub_vars(text: str) -> list[str]:
    return re.findall(r"\$\{(?!!)([^}]+)\}", text)


def resolve_sub(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\$\{(?!!)([^}]+)\}", lambda m: values[m.group(1)], text)


def buildspec(pipeline: dict, project: str) -> tuple[str, dict]:
    text = sub_text(pipeline["Resources"][project]["Properties"]["Source"]["BuildSpec"])
    return text, yaml.safe_load(text)


def phase_commands(spec: dict, phase: str) -> list[str]:
    return spec["phases"][phase]["commands"]


# ----------------------------------------------------------------------------- cfn-lint
def _cfn_lint(path: Path) -> list[str]:
    try:
        from cfnlint.api import lint_file
    except ImportError:
        exe = shutil.which("cfn-lint")
        if exe is None:
            pytest.skip("cfn-lint is not installed (pip install cfn-lint)")
        proc = subprocess.run(
            [exe, "--", str(path)], capture_output=True, text=True, check=False, timeout=300
        )
        return [line for line in proc.stdout.splitlines() if line.strip()] + (
            [proc.stderr] if proc.returncode not in (0,) and proc.stderr.strip() else []
        )
    return [str(match) for match in lint_file(path)]


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_template_is_clean_under_cfn_lint(path: Path):
    problems = _cfn_lint(path)
    assert problems == [], "\n".join(problems)


# ----------------------------------------------------------------------------- the pipeline
def test_pipeline_runs_the_six_stages_in_order(pipeline):
    assert [s["Name"] for s in stages(pipeline)] == EXPECTED_STAGES


def test_pipeline_stage_actions_have_the_expected_providers(pipeline):
    providers = {
        s["Name"]: [
            (a["ActionTypeId"]["Category"], a["ActionTypeId"]["Provider"]) for a in s["Actions"]
        ]
        for s in stages(pipeline)
    }
    assert providers == {
        "Source": [("Source", "S3")],
        "Build": [("Build", "CodeBuild")],
        "DeployQA": [("Deploy", "CloudFormation")],
        "TestQA": [("Test", "CodeBuild")],
        "Approval": [("Approval", "Manual")],
        "DeployProd": [("Deploy", "CloudFormation")],
    }


def test_build_and_test_stages_run_their_own_projects(pipeline):
    assert only_action(pipeline, "Build")["Configuration"]["ProjectName"] == {"Ref": "BuildProject"}
    assert only_action(pipeline, "TestQA")["Configuration"]["ProjectName"] == {"Ref": "TestProject"}


def test_every_stage_after_the_build_reads_the_build_output(pipeline):
    build = only_action(pipeline, "Build")
    assert build["InputArtifacts"] == [{"Name": "SourceOutput"}]
    assert build["OutputArtifacts"] == [{"Name": "BuildOutput"}]
    for name in ("DeployQA", "TestQA", "DeployProd"):
        assert only_action(pipeline, name)["InputArtifacts"] == [{"Name": "BuildOutput"}], name


def test_build_buildspec_runs_predata_then_train_with_the_decks_arguments(pipeline):
    text, spec = buildspec(pipeline, "BuildProject")
    assert spec["version"] == 0.2
    assert set(spec["phases"]) == {"install", "build", "post_build"}
    assert "pip3 install ." in phase_commands(spec, "install")
    build = phase_commands(spec, "build")
    predata = 'python3 source/predata.py "${DataBucket}" "${GlueCatalogDatabase}"'
    train = (
        'python3 source/train.py "${SagemakerRole.Arn}" "${DataBucket}" "${AWS::StackName}" '
        "\"$(grep -sxE '[0-9a-f]{40}' source/commit.txt "
        '|| echo $CODEBUILD_RESOLVED_SOURCE_VERSION)"'
    )
    assert predata in build and train in build
    assert build.index(predata) < build.index(train)
    # ua.test stays for the test stage; the rest of the raw data does not travel on.
    assert phase_commands(spec, "post_build")[-2:] == ["rm -f u.data", "rm -f ua.base*"]
    assert spec["artifacts"]["files"] == ["**/*"]
    # No typo'd attribute (the deck's has a Cyrillic letter), no upper-case deck directories.
    assert text.isascii()
    assert "Source/" not in text and "CloudFormation/" not in text


def test_test_buildspec_runs_test_py_with_the_decks_arguments(pipeline):
    text, spec = buildspec(pipeline, "TestProject")
    assert "pip3 install ." in phase_commands(spec, "install")
    assert phase_commands(spec, "build")[-1] == (
        'python3 source/test.py "qa-${AWS::StackName}" "prepdata_result.json" '
        '"cloudformation/configuration_qa.json"'
    )
    assert text.isascii()


@pytest.mark.parametrize("project", ["BuildProject", "TestProject"])
def test_buildspec_substitutions_name_things_the_template_has(pipeline, project):
    text, _ = buildspec(pipeline, project)
    resources = pipeline["Resources"]
    for var in sub_vars(text):
        if var.startswith("AWS::"):
            assert var in {"AWS::StackName", "AWS::Region", "AWS::AccountId", "AWS::Partition"}
        elif "." in var:
            logical_id, _attr = var.split(".", 1)
            assert logical_id in resources, var
        else:
            assert var in resources or var in pipeline.get("Parameters", {}), var


def test_deploy_stages_use_endpoint_yml_with_their_configuration(pipeline, endpoint):
    declared = set(endpoint["Parameters"])
    for name, env, mode in (
        ("DeployQA", "qa", "REPLACE_ON_FAILURE"),  # a failed QA stack is replaced
        ("DeployProd", "prod", "CREATE_UPDATE"),  # a failed prod stack is never deleted
    ):
        config = only_action(pipeline, name)["Configuration"]
        assert config["ActionMode"] == mode
        assert config["TemplatePath"] == "BuildOutput::cloudformation/endpoint.yml"
        assert config["TemplateConfiguration"] == (
            f"BuildOutput::cloudformation/configuration_{env}.json"
        )
        assert config["RoleArn"] == {"Fn::GetAtt": ["CloudFormationRole", "Arn"]}
        assert sub_text(config["StackName"]) == f"${{AWS::StackName}}-deploy-{env}"
        overrides = json.loads(sub_text(config["ParameterOverrides"]))
        assert overrides == {
            "ParentStackName": "${AWS::StackName}",
            "SageMakerRole": "${SagemakerRole.Arn}",
        }
        assert set(overrides) <= declared


def test_pipeline_declares_the_roles_buckets_and_glue_database(pipeline):
    types = {name: r["Type"] for name, r in pipeline["Resources"].items()}
    for name in (
        "SagemakerRole",
        "CodeBuildRole",
        "TestCodeBuildRole",
        "CloudFormationRole",
        "CodePipelineRole",
    ):
        assert types[name] == "AWS::IAM::Role", name
    for name in ("SourceBucket", "ArtifactBucket", "DataBucket"):
        assert types[name] == "AWS::S3::Bucket", name
    assert types["GlueCatalogDatabase"] == "AWS::Glue::Database"
    assert set(pipeline["Outputs"]) >= {
        "PipelineName",
        "SourceBucket",
        "ArtifactBucket",
        "DataBucket",
        "SagemakerRoleArn",
    }


def _statements(role: dict) -> list[dict]:
    return [
        st
        for policy in role["Properties"]["Policies"]
        for st in policy["PolicyDocument"]["Statement"]
    ]


def test_roles_pass_only_the_role_their_service_needs(pipeline):
    resources = pipeline["Resources"]
    expected = {
        "CodeBuildRole": ("SagemakerRole", "sagemaker.amazonaws.com"),
        "CloudFormationRole": ("SagemakerRole", "sagemaker.amazonaws.com"),
        "CodePipelineRole": ("CloudFormationRole", "cloudformation.amazonaws.com"),
    }
    for role_name, role in resources.items():
        if role["Type"] != "AWS::IAM::Role":
            continue
        passes = [st for st in _statements(role) if "iam:PassRole" in _as_list(st["Action"])]
        if role_name not in expected:
            assert passes == [], f"{role_name} should not pass roles"
            continue
        target, service = expected[role_name]
        assert len(passes) == 1, role_name
        assert passes[0]["Resource"] == {"Fn::GetAtt": [target, "Arn"]}
        assert passes[0]["Condition"] == {"StringEquals": {"iam:PassedToService": service}}


def test_no_role_is_granted_a_wildcard_action(pipeline):
    for name, res in pipeline["Resources"].items():
        if res["Type"] != "AWS::IAM::Role":
            continue
        for st in _statements(res):
            for action in _as_list(st["Action"]):
                assert "*" not in action, f"{name}: {action}"


def test_the_sagemaker_role_may_pull_images_and_nothing_more_of_ecr(pipeline):
    """The ECR actions of the CreateTrainingJob and CreateModel execution-role policies in
    https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html (whether SageMaker
    checks them for its own algorithms' images, AWS does not say), and the notebooks' role the
    same; no action that writes to a repository."""
    pull = {
        "ecr:GetAuthorizationToken",
        "ecr:BatchCheckLayerAvailability",
        "ecr:GetDownloadUrlForLayer",
        "ecr:BatchGetImage",
    }
    statements = _statements(pipeline["Resources"]["SagemakerRole"])
    ecr = {a for st in statements for a in _as_list(st["Action"]) if a.startswith("ecr:")}
    notebooks = {
        a
        for st in execution_role.POLICY["Statement"]
        for a in _as_list(st["Action"])
        if a.startswith("ecr:")
    }
    assert ecr == notebooks == pull


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


# ----------------------------------------------------------------------------- configuration files
def test_configuration_files_name_only_parameters_endpoint_yml_declares(configs, endpoint):
    declared = endpoint["Parameters"]
    for env, config in configs.items():
        assert set(config) <= {"Parameters", "Tags", "StackPolicy"}, env
        assert config["Parameters"]["Environment"] == env
        for key, value in config["Parameters"].items():
            assert key in declared, f"configuration_{env}.json: {key} is not in endpoint.yml"
            assert isinstance(value, str), f"{key}: template configuration values are strings"
            _assert_satisfies(declared[key], value, key)
        for key, value in config["Tags"].items():
            assert isinstance(key, str) and isinstance(value, str)
            assert not key.lower().startswith("aws:")


def test_configuration_files_leave_the_build_values_to_train_py(configs, pipeline):
    """Committed files hold what is fixed per environment; train.py adds what only a build knows."""
    overridden = set(
        json.loads(
            sub_text(only_action(pipeline, "DeployQA")["Configuration"]["ParameterOverrides"])
        )
    )
    for env, config in configs.items():
        assert not (set(config["Parameters"]) & WRITTEN_BY_TRAIN), env
        assert not (set(config["Parameters"]) & overridden), env


def test_every_required_parameter_is_supplied_by_config_train_py_or_the_pipeline(
    configs, pipeline, endpoint
):
    required = {k for k, p in endpoint["Parameters"].items() if "Default" not in p}
    overridden = set(
        json.loads(
            sub_text(only_action(pipeline, "DeployQA")["Configuration"]["ParameterOverrides"])
        )
    )
    for env, config in configs.items():
        supplied = set(config["Parameters"]) | WRITTEN_BY_TRAIN | overridden
        assert required <= supplied, f"{env}: missing {sorted(required - supplied)}"
    assert set(endpoint["Parameters"]) >= WRITTEN_BY_TRAIN


def test_qa_configuration_carries_the_match_rate_gate(configs):
    threshold = float(configs["qa"]["Tags"][THRESHOLD_TAG])
    assert threshold == pytest.approx(0.80)


def test_prod_stack_policy_forbids_replacing_or_deleting_the_endpoint(configs):
    statements = configs["prod"]["StackPolicy"]["Statement"]
    denies = [s for s in statements if s["Effect"] == "Deny"]
    assert denies and denies[0]["Resource"] == "LogicalResourceId/Endpoint"
    assert set(denies[0]["Action"]) == {"Update:Replace", "Update:Delete"}


# ----------------------------------------------------------------------------- names
def _assert_satisfies(param: dict, value: str, name: str) -> None:
    if "AllowedValues" in param:
        assert value in param["AllowedValues"], f"{name}={value!r}"
    if "AllowedPattern" in param:
        assert re.fullmatch(param["AllowedPattern"], value), f"{name}={value!r}"
    if "MinLength" in param:
        assert len(value) >= int(param["MinLength"]), f"{name}={value!r}"
    if "MaxLength" in param:
        assert len(value) <= int(param["MaxLength"]), f"{name}={value!r}"
    if param.get("Type") == "Number":
        number = float(value)
        if "MinValue" in param:
            assert number >= float(param["MinValue"]), f"{name}={value!r}"
        if "MaxValue" in param:
            assert number <= float(param["MaxValue"]), f"{name}={value!r}"


def _name_expressions(endpoint: dict) -> dict[str, str]:
    res = endpoint["Resources"]
    endpoint_name = res["Endpoint"]["Properties"]["EndpointName"]["Fn::If"]
    assert endpoint_name[0] == "IsProd"
    return {
        "ModelName": sub_text(res["Model"]["Properties"]["ModelName"]),
        "EndpointConfigName": sub_text(res["EndpointConfig"]["Properties"]["EndpointConfigName"]),
        "EndpointName(prod)": sub_text(endpoint_name[1]),
        "EndpointName(qa)": sub_text(endpoint_name[2]),
    }


def _worst_case_values(endpoint: dict, names: dict[str, str]) -> dict[str, str]:
    params = endpoint["Parameters"]
    values = {}
    for expr in names.values():
        for var in sub_vars(expr):
            param = params[var]
            assert "AllowedValues" in param or "MaxLength" in param, (
                f"{var} is part of a SageMaker name, so it needs a MaxLength or AllowedValues"
            )
            if "AllowedValues" in param:
                values[var] = max(param["AllowedValues"], key=len)
            else:
                # The longest value the pattern allows: digits for numeric ones, letters otherwise.
                n = int(param["MaxLength"])
                for fill in ("a" * n, "0" * n, "a1" * n):
                    if re.fullmatch(param["AllowedPattern"], fill[:n]):
                        values[var] = fill[:n]
                        break
                else:  # pragma: no cover - a pattern none of the fills satisfies
                    pytest.fail(f"cannot build a longest {var} for its pattern")
            _assert_satisfies(param, values[var], var)
    return values


def test_sagemaker_names_stay_within_63_characters_at_the_parameter_limits(endpoint):
    names = _name_expressions(endpoint)
    worst = _worst_case_values(endpoint, names)
    for what, expr in names.items():
        name = resolve_sub(expr, worst)
        assert len(name) <= SAGEMAKER_NAME_MAX, f"{what}: {name} ({len(name)} characters)"
        assert SAGEMAKER_NAME.fullmatch(name), f"{what}: {name}"


def test_a_realistic_build_gives_valid_names(endpoint):
    values = {
        "Environment": "qa",
        "ParentStackName": "cdlab-workshop-participant-07",
        "CommitID": "3f2a9c1",
        "Timestamp": "20250611093000",
    }
    for key, value in values.items():
        _assert_satisfies(endpoint["Parameters"][key], value, key)
    for env in ("qa", "prod"):
        for what, expr in _name_expressions(endpoint).items():
            name = resolve_sub(expr, {**values, "Environment": env})
            assert SAGEMAKER_NAME.fullmatch(name), f"{what}: {name}"


def test_test_py_finds_the_qa_endpoint_by_the_name_endpoint_yml_gives_it(endpoint, pipeline):
    """test.py appends -CommitID-Timestamp (from configuration_qa.json) to its first argument."""
    _, spec = buildspec(pipeline, "TestProject")
    first_arg = re.search(r'source/test\.py "([^"]+)"', phase_commands(spec, "build")[-1]).group(1)
    stack = "cdlab-demo"
    build = {"CommitID": "3f2a9c1", "Timestamp": "20250611093000"}
    tested = resolve_sub(first_arg, {"AWS::StackName": stack})
    tested = f"{tested}-{build['CommitID']}-{build['Timestamp']}"
    overrides = json.loads(
        sub_text(only_action(pipeline, "DeployQA")["Configuration"]["ParameterOverrides"])
    )
    parent = resolve_sub(overrides["ParentStackName"], {"AWS::StackName": stack})
    created = resolve_sub(
        _name_expressions(endpoint)["EndpointName(qa)"],
        {"Environment": "qa", "ParentStackName": parent, **build},
    )
    assert tested == created


def test_the_test_role_may_invoke_the_qa_endpoints(pipeline):
    invoke = [
        st
        for st in _statements(pipeline["Resources"]["TestCodeBuildRole"])
        if "sagemaker:InvokeEndpoint" in _as_list(st["Action"])
    ]
    assert len(invoke) == 1
    assert sub_text(invoke[0]["Resource"]).endswith(":endpoint/qa-*")


# ----------------------------------------------------------------------------- qa vs prod
def test_prod_endpoint_is_stable_and_updated_blue_green(endpoint):
    res = endpoint["Resources"]
    names = _name_expressions(endpoint)
    # Prod keeps its name across commits; the config (and so UpdateEndpoint) changes per commit.
    assert "CommitID" not in sub_vars(names["EndpointName(prod)"])
    assert "Timestamp" not in sub_vars(names["EndpointName(prod)"])
    for per_commit in ("EndpointName(qa)", "EndpointConfigName", "ModelName"):
        assert {"CommitID", "Timestamp"} <= set(sub_vars(names[per_commit])), per_commit
    assert res["Endpoint"]["Properties"]["EndpointConfigName"] == {
        "Fn::GetAtt": ["EndpointConfig", "EndpointConfigName"]
    }

    deployment = res["Endpoint"]["Properties"]["DeploymentConfig"]["Fn::If"]
    assert deployment[0] == "IsProd" and deployment[2] == {"Ref": "AWS::NoValue"}
    prod = deployment[1]
    routing = prod["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing["Type"] in {"ALL_AT_ONCE", "CANARY", "LINEAR"}
    assert prod["AutoRollbackConfiguration"]["Alarms"] == [{"AlarmName": {"Ref": "RollbackAlarm"}}]

    alarm = res["RollbackAlarm"]
    assert alarm["Condition"] == "IsProd"
    dims = {d["Name"]: d["Value"] for d in alarm["Properties"]["Dimensions"]}
    assert sub_text(dims["EndpointName"]) == names["EndpointName(prod)"]
    variant = res["EndpointConfig"]["Properties"]["ProductionVariants"][0]["VariantName"]
    assert dims["VariantName"] == variant


def test_endpoint_yml_uses_the_correct_property_names(endpoint):
    container = endpoint["Resources"]["Model"]["Properties"]["PrimaryContainer"]
    assert set(container) == {"Image", "ModelDataUrl"}
    assert endpoint["Parameters"]["InstanceType"]["Default"] == "ml.t2.medium"
    assert str(endpoint["Parameters"]["InstanceCount"]["Default"]) == "1"
    assert endpoint["Parameters"]["Environment"]["AllowedValues"] == ["qa", "prod"]
    assert set(endpoint["Outputs"]) >= {"EndpointName", "EndpointConfigName", "ModelName"}


# ----------------------------------------------------------------------------- stack name limit
def test_the_stack_name_limit_is_what_the_longest_sagemaker_name_leaves(endpoint, pipeline):
    """prod-<stack>-<commit>-<time> is the longest name: 63 minus its other parts is the limit,
    which pipeline.yml's PipelineName and endpoint.yml's ParentStackName both enforce."""
    names = _name_expressions(endpoint)
    worst = _worst_case_values(endpoint, names)
    longest_without_stack = max(
        len(resolve_sub(expr, {**worst, "ParentStackName": ""})) for expr in names.values()
    )
    limit = SAGEMAKER_NAME_MAX - longest_without_stack
    assert limit == 34
    declared = pipeline["Parameters"]["PipelineName"]
    assert int(declared["MaxLength"]) == int(endpoint["Parameters"]["ParentStackName"]["MaxLength"])
    assert int(declared["MaxLength"]) == limit
    assert f"{limit} lower-case letters" in declared["ConstraintDescription"]


def test_a_rule_ties_pipeline_name_to_the_stack_name(pipeline):
    [rule] = pipeline["Rules"].values()
    [assertion] = rule["Assertions"]
    assert assertion["Assert"] == {
        "Fn::Equals": [{"Ref": "PipelineName"}, {"Ref": "AWS::StackName"}]
    }
    assert "--parameter-overrides" in assertion["AssertDescription"]
