"""AWS's policy evaluation logic, as a table of cases: each id names the documented rule it shows.

Rules: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html,
the condition operators at .../reference_policies_elements_condition_operators.html, policy
variables at .../reference_policies_variables.html (all under the IAM User Guide).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from cdlab.localcloud.cloudformation import template
from cdlab.localcloud.iam.policy import (
    CompiledPolicy,
    Decision,
    PolicyError,
    PolicyType,
    Request,
    compile_policy,
    evaluate,
)

ACCOUNT = "123456789012"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
BOB = f"arn:aws:iam::{ACCOUNT}:user/bob"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
DEPLOYER = f"arn:aws:iam::{ACCOUNT}:role/ops/deployer"  # a role with a path
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/build-42"  # a session of DEPLOYER
BUCKET = "arn:aws:s3:::cdlab-data"
OBJECT = f"{BUCKET}/train/ua.base"

ALLOWED = (Decision.ALLOW, None)
IMPLICIT = (Decision.IMPLICIT_DENY, PolicyType.IDENTITY)
EXPLICIT = (Decision.EXPLICIT_DENY, PolicyType.IDENTITY)
IMPLICIT_BY_RESOURCE = (Decision.IMPLICIT_DENY, PolicyType.RESOURCE)
EXPLICIT_BY_RESOURCE = (Decision.EXPLICIT_DENY, PolicyType.RESOURCE)


def statement(effect: str, action: Any, resource: Any = "*", **elements: Any) -> dict:
    """A statement; ``resource`` None leaves out the Resource element (a trust policy)."""
    resources = {} if resource is None else {"Resource": resource}
    return {"Effect": effect, "Action": action, **resources, **elements}


def allow(action: Any, resource: Any = "*", **elements: Any) -> dict:
    return statement("Allow", action, resource, **elements)


def deny(action: Any, resource: Any = "*", **elements: Any) -> dict:
    return statement("Deny", action, resource, **elements)


def when(operator: str, key: str, value: Any) -> dict:
    return {"Condition": {operator: {key: value}}}


def doc(*statements: dict, version: str = "2012-10-17") -> dict:
    return {"Version": version, "Statement": list(statements)}


def allows(action: str, resource: str = "*") -> dict:
    return doc(allow(action, resource))


def allow_if(operator: str, key: str, value: Any) -> dict:
    """A policy allowing everything on the condition."""
    return doc(allow("*", **when(operator, key, value)))


def to(principal: Any, effect: str, action: Any, resource: Any = "*", **elements: Any) -> dict:
    """A resource-based statement."""
    return statement(effect, action, resource, Principal=principal, **elements)


def resource_policy(*statements: dict) -> dict:
    return doc(*statements)


def ask(action: str, *resources: str, by: str = ALICE, context: dict | None = None) -> Request:
    return Request(by, action, resources or ("*",), context or {})


# --------------------------------------------------------------- the kit's roles (pipeline.yml)
# Statements of cloudformation/pipeline.yml's roles, their !Sub and !GetAtt resolved for a stack
# "cdlab" in us-east-1; test_kit_statements_are_the_templates_statements_resolved keeps them so.
STACK = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": ACCOUNT,
    "AWS::StackName": "cdlab",
    "DataBucket.Arn": "arn:aws:s3:::cdlab-databucket-1a2b3c",
    "ArtifactBucket.Arn": "arn:aws:s3:::cdlab-artifactbucket-4d5e6f",
    "SagemakerRole.Arn": f"arn:aws:iam::{ACCOUNT}:role/cdlab-SagemakerRole-7G8H9I",
}
DATA = STACK["DataBucket.Arn"]
ARTIFACTS = STACK["ArtifactBucket.Arn"]
SAGEMAKER_ROLE = STACK["SagemakerRole.Arn"]
KIT: dict[tuple[str, str], dict] = {
    ("CodeBuildRole", "BuildLogs"): {
        "Sid": "BuildLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/codebuild/cdlab-build*",
    },
    ("CodeBuildRole", "DataObjects"): {
        "Sid": "DataObjects",
        "Effect": "Allow",
        "Action": ["s3:GetObject", "s3:PutObject"],
        "Resource": f"{DATA}/*",
    },
    ("CodeBuildRole", "Buckets"): {
        "Sid": "Buckets",
        "Effect": "Allow",
        "Action": ["s3:ListBucket", "s3:GetBucketLocation", "s3:GetBucketAcl"],
        "Resource": [DATA, ARTIFACTS],
    },
    ("CodeBuildRole", "PassSagemakerRole"): {
        "Sid": "PassSagemakerRole",
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": SAGEMAKER_ROLE,
        "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
    },
    ("TestCodeBuildRole", "InvokeQAEndpoint"): {
        "Sid": "InvokeQAEndpoint",
        "Effect": "Allow",
        "Action": "sagemaker:InvokeEndpoint",
        "Resource": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/qa-*",
    },
    ("SagemakerRole", "Metrics"): {
        "Sid": "Metrics",
        "Effect": "Allow",
        "Action": "cloudwatch:PutMetricData",
        "Resource": "*",
        "Condition": {
            "StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*", "aws/sagemaker/*"]}
        },
    },
}


def role_policy(role: str) -> dict:
    return doc(*(st for (name, _), st in KIT.items() if name == role))


CODEBUILD = role_policy("CodeBuildRole")
TESTER = role_policy("TestCodeBuildRole")
SAGEMAKER = role_policy("SagemakerRole")
QA_ENDPOINT = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/qa-cdlab-1a2b3c4d-20250101120000"
LOG_GROUPS = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/codebuild"
BUILD_STREAM = f"{LOG_GROUPS}/cdlab-build:log-stream:1"
OTHER_STREAM = f"{LOG_GROUPS}/other-build:log-stream:1"
PROD_ENDPOINT = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/prod-cdlab"
SAGEMAKER_NS = {"cloudwatch:namespace": "/aws/sagemaker/Endpoints"}
OWN_NS = {"cloudwatch:namespace": "Custom/cdlab"}


def case(
    id: str,
    policies: list[dict],
    request: Request,
    expected: tuple[Decision, PolicyType | None],
    resource_policy: dict | None = None,
    trust: bool = False,
) -> Any:
    return pytest.param(policies, request, resource_policy, trust, expected, id=id)


GET, PUT, LIST, TAG = "s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:PutObjectTagging"
PASS, RUN, LOG = "iam:PassRole", "ec2:RunInstances", "logs:PutLogEvents"
INVOKE, METRIC = "sagemaker:InvokeEndpoint", "cloudwatch:PutMetricData"
TLS = "aws:SecureTransport"
SECRET = f"{BUCKET}/secret/key"
OTHER_OBJECT = "arn:aws:s3:::other/key"
HOMES = f"{BUCKET}/home"
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:topic"
ARN_DOC_PATTERN = "arn:aws:someservice:*:111122223333:finance/*"  # the ARN operators' example
ARN_DOC_VALUE = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/x.txt"

EAST = {"aws:RequestedRegion": "us-east-1"}
WEST = {"aws:RequestedRegion": "eu-west-1"}
TO_SAGEMAKER = {"iam:PassedToService": "sagemaker.amazonaws.com"}
TO_EC2 = {"iam:PassedToService": "ec2.amazonaws.com"}
AS_ALICE = {"aws:username": "alice"}
HTTP, HTTPS = {TLS: False}, {TLS: True}
TAGS = {"aws:TagKeys": ["team", "cost-center"]}

ALL = allows("*")
S3_READ = allows(GET, f"{BUCKET}/*")
ANY_OBJECT = allows("s3:*", f"{BUCKET}/*")
DENY_S3 = doc(deny("s3:*"))
NO_SECRET = doc(deny("s3:*", f"{BUCKET}/secret/*"))
NOT_IAM = doc({"Effect": "Allow", "NotAction": ["iam:*", "sts:*"], "Resource": "*"})
ONLY_S3 = doc({"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"})
NOT_SECRET = doc({"Effect": "Allow", "Action": "s3:*", "NotResource": f"{BUCKET}/secret/*"})
PASS_TO_SAGEMAKER = allow_if("StringEquals", "iam:PassedToService", "sagemaker.amazonaws.com")
NOT_EAST = allow_if("StringNotEquals", "aws:RequestedRegion", "us-east-1")
EAST_OR_WEST = allow_if("StringEquals", "aws:RequestedRegion", ["us-east-1", "eu-west-1"])
PREFIXES = allow_if("StringLike", "s3:prefix", ["", "home/*"])
FROM_TOPIC = allow_if("ArnEquals", "aws:SourceArn", TOPIC)
OPS_ROLES = allow_if("ArnLike", "aws:PrincipalArn", f"arn:aws:iam::{ACCOUNT}:role/ops/*")
NO_HTTP = doc(deny("s3:*", **when("Bool", TLS, False)))  # a JSON boolean, as YAML writes it
LONG_TERM = allow_if("Null", "aws:TokenIssueTime", "true")
UP_TO_10 = allow_if("NumericLessThanEquals", "s3:max-keys", "10")
SMALL_INSTANCES = allow_if("StringLikeIfExists", "ec2:InstanceType", ["t2.*", "m5.*"])
ALL_OF_3_TAGS = allow_if("ForAllValues:StringEquals", "aws:TagKeys", ["team", "cost-center", "x"])
ALL_OF_TEAM = allow_if("ForAllValues:StringEquals", "aws:TagKeys", ["team"])
ANY_OF_TEAM = allow_if("ForAnyValue:StringEquals", "aws:TagKeys", ["team"])
HOME = allows("s3:*", f"{HOMES}/${{aws:username}}/*")
SAME_ACCOUNT = allow_if("StringEquals", "aws:ResourceAccount", "${aws:PrincipalAccount}")

FOR_ALICE = resource_policy(to({"AWS": ALICE}, "Allow", GET, f"{BUCKET}/*"))
FOR_OPS = resource_policy(to({"AWS": DEPLOYER}, "Allow", "s3:*", f"{BUCKET}/*"))
FOR_ACCOUNT = resource_policy(to({"AWS": ACCOUNT}, "Allow", "s3:*", f"{BUCKET}/*"))
OPS_ONLY = resource_policy(
    {"Effect": "Deny", "NotPrincipal": {"AWS": DEPLOYER}, "Action": "s3:*", "Resource": "*"}
)
TRUST_SAGEMAKER = resource_policy(
    to({"Service": "sagemaker.amazonaws.com"}, "Allow", "sts:AssumeRole", None)
)

CASES = [
    # ---- the decision: an explicit deny wins, then an allow, else an implicit deny
    case("allow-in-an-identity-policy-allows", [S3_READ], ask(GET, OBJECT), ALLOWED),
    case("no-policy-is-an-implicit-deny", [], ask(GET, OBJECT), IMPLICIT),
    case("an-allow-for-another-action-is-an-implicit-deny", [S3_READ], ask(PUT, OBJECT), IMPLICIT),
    case(
        "explicit-deny-beats-allow-in-the-same-policy",
        [doc(allow("s3:*", f"{BUCKET}/*"), deny(GET, f"{BUCKET}/train/*"))],
        ask(GET, OBJECT),
        EXPLICIT,
    ),
    case(
        "explicit-deny-beats-allow-across-policies",
        [ANY_OBJECT, DENY_S3],
        ask(GET, OBJECT),
        EXPLICIT,
    ),
    case(
        "a-deny-on-another-resource-leaves-the-allow",
        [ANY_OBJECT, NO_SECRET],
        ask(GET, OBJECT),
        ALLOWED,
    ),
    # ---- NotAction and NotResource (reference_policies_elements_notaction.html, _notresource.html)
    case("notaction-allow-covers-other-actions", [NOT_IAM], ask(GET, OBJECT), ALLOWED),
    case("notaction-allow-excludes-its-actions", [NOT_IAM], ask("iam:CreateUser"), IMPLICIT),
    case(
        "notaction-deny-denies-every-other-action",
        [ALL, ONLY_S3],
        ask("ec2:RunInstances"),
        EXPLICIT,
    ),
    case("notaction-deny-spares-its-actions", [ALL, ONLY_S3], ask(GET, OBJECT), ALLOWED),
    case("notresource-allow-covers-other-resources", [NOT_SECRET], ask(GET, OBJECT), ALLOWED),
    case("notresource-allow-excludes-its-resources", [NOT_SECRET], ask(GET, SECRET), IMPLICIT),
    # ---- wildcards and case (reference_policies_elements_action.html, _resource.html)
    case("action-wildcard-suffix", [allows("s3:Get*")], ask("s3:GetObjectVersion"), ALLOWED),
    case("action-wildcard-inside", [allows("iam:*AccessKey*")], ask("iam:ListAccessKeys"), ALLOWED),
    case("action-star-is-every-action", [ALL], ask("glue:GetTable"), ALLOWED),
    case("action-question-mark-is-one-character", [allows("s3:?etObject")], ask(GET), ALLOWED),
    case("action-question-mark-is-not-two", [allows("s3:?Object")], ask(GET), IMPLICIT),
    case("actions-are-case-insensitive", [allows("S3:getobject")], ask(GET), ALLOWED),
    case(
        "resources-are-case-sensitive",
        [allows(GET, f"{BUCKET}/TRAIN/*")],
        ask(GET, OBJECT),
        IMPLICIT,
    ),
    case("resource-star-spans-slashes", [S3_READ], ask(GET, f"{BUCKET}/a/b/c.csv"), ALLOWED),
    case(
        "resource-question-mark-is-one-character",
        [allows(GET, f"{BUCKET}/part-?.csv")],
        ask(GET, f"{BUCKET}/part-10.csv"),
        IMPLICIT,
    ),
    case(
        "resource-star-inside-a-segment-stays-inside",
        [allows(GET, f"{BUCKET}/x*y")],
        ask(GET, f"{BUCKET}/x:1y"),
        IMPLICIT,
    ),
    case(
        "a-specific-resource-does-not-cover-an-action-on-star",
        [allows("s3:ListAllMyBuckets", "arn:aws:s3:::*")],
        ask("s3:ListAllMyBuckets", "*"),
        IMPLICIT,
    ),
    case("every-resource-must-be-allowed", [S3_READ], ask(GET, OBJECT, OTHER_OBJECT), IMPLICIT),
    case(
        "a-deny-on-any-resource-denies", [ANY_OBJECT, NO_SECRET], ask(GET, OBJECT, SECRET), EXPLICIT
    ),
    # ---- condition operators (reference_policies_elements_condition_operators.html)
    case("stringequals-match", [PASS_TO_SAGEMAKER], ask(PASS, context=TO_SAGEMAKER), ALLOWED),
    case("stringequals-no-match", [PASS_TO_SAGEMAKER], ask(PASS, context=TO_EC2), IMPLICIT),
    case(
        "stringequals-is-case-sensitive",
        [allow_if("StringEquals", "iam:PassedToService", "SageMaker.amazonaws.com")],
        ask(PASS, context=TO_SAGEMAKER),
        IMPLICIT,
    ),
    case("stringequals-missing-key-is-false", [PASS_TO_SAGEMAKER], ask(PASS), IMPLICIT),
    case("stringnotequals-match", [NOT_EAST], ask(GET, context=WEST), ALLOWED),
    case("stringnotequals-no-match", [NOT_EAST], ask(GET, context=EAST), IMPLICIT),
    case("negated-operator-missing-key-is-true", [NOT_EAST], ask(GET), ALLOWED),
    case(
        "stringequalsignorecase-match",
        [allow_if("StringEqualsIgnoreCase", "aws:username", "ALICE")],
        ask(GET, context=AS_ALICE),
        ALLOWED,
    ),
    case(
        "stringnotequalsignorecase-no-match",
        [allow_if("StringNotEqualsIgnoreCase", "aws:username", "ALICE")],
        ask(GET, context=AS_ALICE),
        IMPLICIT,
    ),
    case("stringlike-match", [PREFIXES], ask(LIST, context={"s3:prefix": "home/al/"}), ALLOWED),
    case("stringlike-no-match", [PREFIXES], ask(LIST, context={"s3:prefix": "train/"}), IMPLICIT),
    case("stringlike-missing-key-is-false", [PREFIXES], ask(LIST), IMPLICIT),
    case(
        "stringnotlike-missing-key-is-true",
        [allow_if("StringNotLike", "s3:prefix", "secret/*")],
        ask(LIST),
        ALLOWED,
    ),
    case("arnequals-match", [FROM_TOPIC], ask(GET, context={"aws:SourceArn": TOPIC}), ALLOWED),
    case(
        "arnequals-no-match",
        [FROM_TOPIC],
        ask(GET, context={"aws:SourceArn": f"{TOPIC}-2"}),
        IMPLICIT,
    ),
    case(
        "arnlike-wildcards-stay-in-their-component",
        [allow_if("ArnLike", "aws:SourceArn", ARN_DOC_PATTERN)],
        ask(GET, context={"aws:SourceArn": ARN_DOC_VALUE}),
        IMPLICIT,
    ),
    case(
        "stringlike-wildcards-cross-colons",
        [allow_if("StringLike", "aws:SourceArn", ARN_DOC_PATTERN)],
        ask(GET, context={"aws:SourceArn": ARN_DOC_VALUE}),
        ALLOWED,
    ),
    case("arnlike-match", [OPS_ROLES], ask(GET, context={"aws:PrincipalArn": DEPLOYER}), ALLOWED),
    case(
        "arnnotlike-no-match",
        [allow_if("ArnNotLike", "aws:PrincipalArn", f"arn:aws:iam::{ACCOUNT}:role/ops/*")],
        ask(GET, context={"aws:PrincipalArn": DEPLOYER}),
        IMPLICIT,
    ),
    case(
        "arnnotequals-missing-key-is-true",
        [allow_if("ArnNotEquals", "aws:SourceArn", TOPIC)],
        ask(GET),
        ALLOWED,
    ),
    case("bool-match", [ANY_OBJECT, NO_HTTP], ask(GET, OBJECT, context=HTTP), EXPLICIT),
    case("bool-no-match", [ANY_OBJECT, NO_HTTP], ask(GET, OBJECT, context=HTTPS), ALLOWED),
    case("bool-missing-key-is-false", [ANY_OBJECT, NO_HTTP], ask(GET, OBJECT), ALLOWED),
    case("null-true-matches-a-missing-key", [LONG_TERM], ask("ec2:DescribeVpcs"), ALLOWED),
    case(
        "null-true-fails-a-present-key",
        [LONG_TERM],
        ask("ec2:DescribeVpcs", context={"aws:TokenIssueTime": "2024-06-01T12:00:00Z"}),
        IMPLICIT,
    ),
    case(
        "null-false-needs-the-key",
        [allow_if("Null", "aws:TokenIssueTime", "false")],
        ask("ec2:DescribeVpcs"),
        IMPLICIT,
    ),
    case("numeric-match", [UP_TO_10], ask(LIST, context={"s3:max-keys": 10}), ALLOWED),
    case("numeric-no-match", [UP_TO_10], ask(LIST, context={"s3:max-keys": "1000"}), IMPLICIT),
    case(
        "numericnotequals-match",
        [allow_if("NumericNotEquals", "s3:max-keys", 0)],
        ask(LIST, context={"s3:max-keys": "2.5"}),
        ALLOWED,
    ),
    case(
        "dategreaterthan-match",
        [allow_if("DateGreaterThan", "aws:TokenIssueTime", "2020-01-01T00:00:01Z")],
        ask(GET, context={"aws:TokenIssueTime": "2024-06-01T12:00:00Z"}),
        ALLOWED,
    ),
    case(
        "datelessthan-epoch-time-no-match",
        [allow_if("DateLessThan", "aws:CurrentTime", "2020-01-01T00:00:00Z")],
        ask(GET, context={"aws:CurrentTime": "1717243200"}),
        IMPLICIT,
    ),
    case(
        "ipaddress-match",
        [allow_if("IpAddress", "aws:SourceIp", "203.0.113.0/24")],
        ask(GET, context={"aws:SourceIp": "203.0.113.7"}),
        ALLOWED,
    ),
    case(
        "notipaddress-no-match",
        [allow_if("NotIpAddress", "aws:SourceIp", ["203.0.113.0/24", "2001:db8::/32"])],
        ask(GET, context={"aws:SourceIp": "2001:db8::1"}),
        IMPLICIT,
    ),
    case("ifexists-missing-key-is-true", [SMALL_INSTANCES], ask(RUN), ALLOWED),
    case(
        "ifexists-present-key-is-tested",
        [SMALL_INSTANCES],
        ask(RUN, context={"ec2:InstanceType": "p3.2xlarge"}),
        IMPLICIT,
    ),
    case("forallvalues-every-value-in-the-set", [ALL_OF_3_TAGS], ask(TAG, context=TAGS), ALLOWED),
    case("forallvalues-a-value-outside-the-set", [ALL_OF_TEAM], ask(TAG, context=TAGS), IMPLICIT),
    case("forallvalues-missing-key-is-true", [ALL_OF_TEAM], ask(TAG), ALLOWED),
    case("foranyvalue-a-value-in-the-set", [ANY_OF_TEAM], ask(TAG, context=TAGS), ALLOWED),
    case("foranyvalue-missing-key-is-false", [ANY_OF_TEAM], ask(TAG), IMPLICIT),
    case(
        "foranyvalue-negated-missing-key-is-false",
        [allow_if("ForAnyValue:StringNotEquals", "aws:TagKeys", ["team"])],
        ask(TAG),
        IMPLICIT,
    ),
    case("values-of-a-key-are-or", [EAST_OR_WEST], ask(GET, context=WEST), ALLOWED),
    case(
        "values-of-a-negated-operator-are-nor",
        [allow_if("StringNotEquals", "aws:RequestedRegion", ["us-east-1", "eu-west-1"])],
        ask(GET, context=WEST),
        IMPLICIT,
    ),
    case(
        "keys-of-an-operator-are-and",
        [doc(allow(PASS, Condition={"StringEquals": TO_SAGEMAKER | EAST}))],
        ask(PASS, context=TO_SAGEMAKER | WEST),
        IMPLICIT,
    ),
    case(
        "operators-are-and",
        [
            doc(
                allow(
                    GET, Condition={"StringEquals": WEST, "Bool": {"aws:SecureTransport": "true"}}
                )
            )
        ],
        ask(GET, context=WEST | HTTP),
        IMPLICIT,
    ),
    case(
        "requestedregion-deny-outside-the-allowed-regions",
        [ALL, doc(deny("*", **when("StringNotEquals", "aws:RequestedRegion", ["us-east-1"])))],
        ask("sagemaker:CreateEndpoint", context=WEST),
        EXPLICIT,
    ),
    case(
        "condition-key-names-are-case-insensitive",
        [allow_if("StringEquals", "AWS:requestedregion", "us-east-1")],
        ask(GET, context=EAST),
        ALLOWED,
    ),
    # ---- policy variables (reference_policies_variables.html)
    case(
        "variable-in-resource-match",
        [HOME],
        ask(GET, f"{HOMES}/alice/a", context=AS_ALICE),
        ALLOWED,
    ),
    case(
        "variable-in-resource-mismatch",
        [HOME],
        ask(GET, f"{HOMES}/bob/a", context=AS_ALICE),
        IMPLICIT,
    ),
    case("variable-missing-voids-the-statement", [HOME], ask(GET, f"{HOMES}/alice/a"), IMPLICIT),
    case(
        "variable-missing-voids-a-deny-too",
        [ANY_OBJECT, doc(deny("s3:*", f"{HOMES}/${{aws:username}}/*"))],
        ask(GET, f"{HOMES}/alice/a"),
        ALLOWED,
    ),
    case(
        "variable-of-a-multivalued-key-is-unresolved",
        [doc(allow("s3:*", f"{BUCKET}/${{aws:TagKeys}}"))],
        ask(GET, f"{BUCKET}/team", context=TAGS),
        IMPLICIT,
    ),
    case(
        "variable-in-a-condition",
        [allow_if("StringLike", "s3:prefix", "home/${aws:username}/*")],
        ask(LIST, context=AS_ALICE | {"s3:prefix": "home/alice/x"}),
        ALLOWED,
    ),
    case(
        "variable-default-value",
        [doc(allow("s3:*", f"{BUCKET}/${{aws:userid, 'anonymous'}}/*"))],
        ask(GET, f"{BUCKET}/anonymous/a"),
        ALLOWED,
    ),
    case(
        "variable-principalaccount-match",
        [SAME_ACCOUNT],
        ask(GET, context={"aws:ResourceAccount": ACCOUNT, "aws:PrincipalAccount": ACCOUNT}),
        ALLOWED,
    ),
    case(
        "variable-principalaccount-mismatch",
        [SAME_ACCOUNT],
        ask(GET, context={"aws:ResourceAccount": "999999999999", "aws:PrincipalAccount": ACCOUNT}),
        IMPLICIT,
    ),
    case(
        "variable-requestedregion-in-resource",
        [allows(GET, f"{BUCKET}/${{aws:RequestedRegion}}/*")],
        ask(GET, f"{BUCKET}/us-east-1/a", context=EAST),
        ALLOWED,
    ),
    case(
        "escape-star-is-an-asterisk",
        [allows(GET, f"{BUCKET}/${{*}}")],
        ask(GET, f"{BUCKET}/*"),
        ALLOWED,
    ),
    case(
        "escape-star-is-no-wildcard", [allows(GET, f"{BUCKET}/${{*}}")], ask(GET, OBJECT), IMPLICIT
    ),
    case(
        "variables-are-literal-before-version-2012-10-17",
        [{**HOME, "Version": "2008-10-17"}],
        ask(GET, f"{HOMES}/alice/a", context=AS_ALICE),
        IMPLICIT,
    ),
    # ---- resource-based policies: S3 bucket policies and role trust policies
    case("bucket-policy-allows-a-user-by-arn", [], ask(GET, OBJECT), ALLOWED, FOR_ALICE),
    case("bucket-policy-for-another-user", [], ask(GET, OBJECT, by=BOB), IMPLICIT, FOR_ALICE),
    case("bucket-policy-allows-a-role-by-arn", [], ask(GET, OBJECT, by=SESSION), ALLOWED, FOR_OPS),
    case("bucket-policy-for-the-account-delegates", [], ask(GET, OBJECT), IMPLICIT, FOR_ACCOUNT),
    case(
        "bucket-policy-for-the-account-and-identity",
        [S3_READ],
        ask(GET, OBJECT),
        ALLOWED,
        FOR_ACCOUNT,
    ),
    case(
        "bucket-policy-allows-everyone",
        [],
        ask(GET, OBJECT),
        ALLOWED,
        resource_policy(to("*", "Allow", GET, f"{BUCKET}/*")),
    ),
    case(
        "bucket-policy-deny-beats-an-identity-allow",
        [S3_READ],
        ask(GET, OBJECT),
        EXPLICIT_BY_RESOURCE,
        resource_policy(to({"AWS": ROOT}, "Deny", "s3:*", [BUCKET, f"{BUCKET}/*"])),
    ),
    case(
        "bucket-policy-deny-without-tls",
        [S3_READ],
        ask(GET, OBJECT, context=HTTP),
        EXPLICIT_BY_RESOURCE,
        resource_policy(to("*", "Deny", "s3:*", f"{BUCKET}/*", **when("Bool", TLS, "false"))),
    ),
    case(
        "notprincipal-deny-denies-others",
        [S3_READ],
        ask(GET, OBJECT),
        EXPLICIT_BY_RESOURCE,
        OPS_ONLY,
    ),
    case(
        "notprincipal-deny-spares-its-own",
        [ANY_OBJECT],
        ask(GET, OBJECT, by=SESSION),
        ALLOWED,
        OPS_ONLY,
    ),
    case(
        "trust-policy-allows-its-service",
        [],
        ask("sts:AssumeRole", DEPLOYER, by="sagemaker.amazonaws.com"),
        ALLOWED,
        TRUST_SAGEMAKER,
        trust=True,
    ),
    case(
        "trust-policy-must-allow-whatever-identity-policies-say",
        [ALL],
        ask("sts:AssumeRole", DEPLOYER),
        IMPLICIT_BY_RESOURCE,
        TRUST_SAGEMAKER,
        trust=True,
    ),
    case(
        "trust-policy-naming-the-account-needs-an-identity-allow",
        [ALL],
        ask("sts:AssumeRole", DEPLOYER),
        ALLOWED,
        resource_policy(to({"AWS": ROOT}, "Allow", "sts:AssumeRole", None)),
        trust=True,
    ),
    case("root-user-has-full-access", [], ask("s3:DeleteBucket", BUCKET, by=ROOT), ALLOWED),
    case(
        "root-user-is-denied-by-a-bucket-policy",
        [],
        ask("s3:DeleteBucket", BUCKET, by=ROOT),
        EXPLICIT_BY_RESOURCE,
        resource_policy(to("*", "Deny", "s3:DeleteBucket", BUCKET)),
    ),
    # ---- the kit's roles (cloudformation/pipeline.yml)
    case("kit-build-reads-the-data-bucket", [CODEBUILD], ask(GET, f"{DATA}/ua.base"), ALLOWED),
    case("kit-build-reads-no-other-bucket", [CODEBUILD], ask(GET, OBJECT), IMPLICIT),
    case("kit-build-lists-both-buckets", [CODEBUILD], ask(LIST, DATA, ARTIFACTS), ALLOWED),
    case("kit-build-writes-its-log-streams", [CODEBUILD], ask(LOG, BUILD_STREAM), ALLOWED),
    case("kit-build-writes-no-other-logs", [CODEBUILD], ask(LOG, OTHER_STREAM), IMPLICIT),
    case(
        "kit-build-passes-the-sagemaker-role-to-sagemaker",
        [CODEBUILD],
        ask(PASS, SAGEMAKER_ROLE, context=TO_SAGEMAKER),
        ALLOWED,
    ),
    case(
        "kit-build-passes-it-to-no-other-service",
        [CODEBUILD],
        ask(PASS, SAGEMAKER_ROLE, context=TO_EC2),
        IMPLICIT,
    ),
    case(
        "kit-build-passes-no-other-role",
        [CODEBUILD],
        ask(PASS, DEPLOYER, context=TO_SAGEMAKER),
        IMPLICIT,
    ),
    case("kit-test-invokes-qa-endpoints", [TESTER], ask(INVOKE, QA_ENDPOINT), ALLOWED),
    case("kit-test-invokes-no-prod-endpoint", [TESTER], ask(INVOKE, PROD_ENDPOINT), IMPLICIT),
    case("kit-sagemaker-puts-its-metrics", [SAGEMAKER], ask(METRIC, context=SAGEMAKER_NS), ALLOWED),
    case("kit-sagemaker-puts-no-other-metrics", [SAGEMAKER], ask(METRIC, context=OWN_NS), IMPLICIT),
]


@pytest.mark.parametrize(("policies", "request_", "resource_policy", "trust", "expected"), CASES)
def test_evaluation(
    policies: list[dict],
    request_: Request,
    resource_policy: dict | None,
    trust: bool,
    expected: tuple[Decision, PolicyType | None],
) -> None:
    compiled = [compile_policy(p) for p in policies]
    bucket = (
        None if resource_policy is None else compile_policy(resource_policy, PolicyType.RESOURCE)
    )
    outcome = evaluate(compiled, request_, bucket, resource_policy_required=trust)
    assert (outcome.decision, outcome.policy_type) == expected
    assert outcome.allowed == (expected == ALLOWED)


def test_the_denial_names_the_first_resource_denied() -> None:
    outcome = evaluate(
        [S3_READ], ask("s3:GetObject", OBJECT, "arn:aws:s3:::a/1", "arn:aws:s3:::b/2")
    )
    assert outcome.resource == "arn:aws:s3:::a/1"
    denied = evaluate(
        [ANY_OBJECT, doc(deny("s3:*", "arn:aws:s3:::b/*"))],
        ask("s3:GetObject", "arn:aws:s3:::a/1", "arn:aws:s3:::b/2"),
    )
    assert (denied.decision, denied.resource) == (Decision.EXPLICIT_DENY, "arn:aws:s3:::b/2")


def test_policies_are_taken_as_documents_json_or_compiled() -> None:
    request = ask("s3:GetObject", OBJECT)
    as_json = json.dumps(ANY_OBJECT)
    for policy in (as_json, compile_policy(as_json), ANY_OBJECT):
        assert evaluate([policy], request).allowed
    with pytest.raises(ValueError, match="identity-based policy passed as a resource-based"):
        evaluate([], request, compile_policy(as_json))


def test_a_request_is_hashable_for_a_decision_cache() -> None:
    one = ask("s3:GetObject", OBJECT, context={"aws:username": "alice"})
    two = ask("s3:GetObject", OBJECT, context={"aws:username": "alice"})
    assert hash(one) == hash(two) and one == two
    assert one != ask("s3:GetObject", OBJECT, context={"aws:username": "bob"})
    with pytest.raises(ValueError, match="non-empty"):
        Request(ALICE, "s3:GetObject", ())


MALFORMED = [
    pytest.param("{not json", id="not-json"),
    pytest.param(["a", "list"], id="not-an-object"),
    pytest.param({"Statement": [allow("s3:*")], "Extra": 1}, id="unknown-policy-element"),
    pytest.param({"Version": "2020-01-01", "Statement": [allow("s3:*")]}, id="unknown-version"),
    pytest.param({"Version": "2012-10-17"}, id="no-statement"),
    pytest.param(doc("Allow"), id="statement-not-an-object"),
    pytest.param(doc(statement("allow", "s3:*")), id="effect-not-allow-or-deny"),
    pytest.param(doc({"Effect": "Allow", "Resource": "*"}), id="no-action"),
    pytest.param(doc(allow("s3:*", NotAction="iam:*")), id="action-and-notaction"),
    pytest.param(doc({"Effect": "Allow", "Action": "s3:*"}), id="no-resource-in-identity-policy"),
    pytest.param(doc(allow("s3:*", Principal="*")), id="principal-in-identity-policy"),
    pytest.param(doc(allow("s3GetObject")), id="action-without-service-prefix"),
    pytest.param(doc(allow([])), id="empty-action-list"),
    pytest.param(doc(allow("s3:*", Sid="x", Conditions={})), id="unknown-statement-element"),
    pytest.param(doc(allow("s3:*", **when("StringEqualz", "k", "v"))), id="unknown-operator"),
    pytest.param(
        doc(allow("s3:*", **when("ForSomeValues:StringEquals", "k", "v"))),
        id="unknown-set-operator",
    ),
    pytest.param(doc(allow("s3:*", **when("BinaryEquals", "k", "QUJD"))), id="binaryequals"),
    pytest.param(doc(allow("s3:*", **when("NullIfExists", "k", "true"))), id="null-ifexists"),
    pytest.param(doc(allow("s3:*", **when("Null", "k", "maybe"))), id="null-not-boolean"),
    pytest.param(doc(allow("s3:*", **when("Bool", "k", "yes"))), id="bool-not-boolean"),
    pytest.param(doc(allow("s3:*", **when("NumericEquals", "k", "ten"))), id="numeric-nan"),
    pytest.param(doc(allow("s3:*", **when("DateLessThan", "k", "soon"))), id="date-not-a-date"),
    pytest.param(doc(allow("s3:*", **when("IpAddress", "k", "10.0.0.0/99"))), id="bad-cidr"),
    pytest.param(doc(allow("s3:*", **when("StringEquals", "k", {"a": 1}))), id="bad-value"),
    pytest.param(doc(allow("s3:*", Condition=["StringEquals"])), id="condition-not-an-object"),
]


@pytest.mark.parametrize("document", MALFORMED)
def test_malformed_identity_policies_are_refused(document: Any) -> None:
    with pytest.raises(PolicyError):
        compile_policy(document)


@pytest.mark.parametrize(
    "statement_",
    [
        pytest.param(allow("s3:*"), id="no-principal"),
        pytest.param(
            to({"AWS": ALICE}, "Allow", "s3:*", NotPrincipal={"AWS": BOB}),
            id="principal-and-notprincipal",
        ),
        pytest.param(to({"Users": ALICE}, "Allow", "s3:*"), id="unknown-principal-type"),
        pytest.param(to(ALICE, "Allow", "s3:*"), id="principal-neither-star-nor-map"),
    ],
)
def test_malformed_resource_policies_are_refused(statement_: dict) -> None:
    with pytest.raises(PolicyError):
        compile_policy(doc(statement_), PolicyType.RESOURCE)


def test_kit_statements_are_the_templates_statements_resolved() -> None:
    pipeline = template.load(
        (Path(__file__).parents[2] / "cloudformation/pipeline.yml").read_text()
    )

    def resolved(value: Any) -> Any:
        if isinstance(value, dict) and "Fn::Sub" in value:
            return re.sub(r"\$\{([^}]+)\}", lambda m: STACK[m.group(1)], value["Fn::Sub"])
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            return STACK[".".join(value["Fn::GetAtt"])]
        if isinstance(value, list):
            return [resolved(v) for v in value]
        return value

    for (role, sid), expected in KIT.items():
        properties = pipeline["Resources"][role]["Properties"]
        statements = [s for p in properties["Policies"] for s in p["PolicyDocument"]["Statement"]]
        written = next(s for s in statements if s["Sid"] == sid)
        assert {k: resolved(v) for k, v in written.items()} == expected, (role, sid)
    assert isinstance(compile_policy(CODEBUILD), CompiledPolicy)
