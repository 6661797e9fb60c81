"""The pages of the local CodeBuild's List operations, walked with boto3's paginators and the
AWS CLI: 100 items a page, a nextToken while more remain, every item once and in order
(https://docs.aws.amazon.com/codebuild/latest/APIReference/API_ListProjects.html,
https://docs.aws.amazon.com/codebuild/latest/APIReference/API_ListBuildsForProject.html)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.polling import poll
from tests.roles import allowing, make_role, role_arn, trusting

COUNT = 101
PREFIX = "cdlab-test-page-"
NO_LOGS = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
ROLE = "cdlab-test-codebuild-pages"
ENVIRONMENT = {
    "type": "LINUX_CONTAINER",
    "image": "aws/codebuild/standard:7.0",
    "computeType": "BUILD_GENERAL1_SMALL",
}
BUILDSPEC = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo never runs\n"


def create(cb, name: str) -> None:
    cb.create_project(
        name=name,
        source={"type": "NO_SOURCE", "buildspec": BUILDSPEC},
        artifacts={"type": "NO_ARTIFACTS"},
        environment=ENVIRONMENT,
        serviceRole=role_arn(ROLE),
    )


@pytest.fixture(scope="module")
def projects(cb, client) -> Iterator[list[str]]:
    """COUNT projects, created in the order of their names; their builds cannot write their
    logs, so each fails in PROVISIONING without running a command. Deleted after."""
    make_role(client("iam"), ROLE, trusting("codebuild.amazonaws.com"), allowing(NO_LOGS))
    names = [f"{PREFIX}{n:03d}" for n in range(COUNT)]
    for name in names:
        create(cb, name)
    yield names
    for name in names:
        cb.delete_project(name=name)


@pytest.fixture(scope="module")
def builds(cb, projects: list[str]) -> Iterator[list[str]]:
    """COUNT builds of the first project, in the order they were started; ended after."""
    started = [cb.start_build(projectName=projects[0])["build"]["id"] for _ in range(COUNT)]
    yield started
    for chunk in (started[:100], started[100:]):
        poll(
            lambda ids=chunk: cb.batch_get_builds(ids=ids)["builds"],
            until=lambda found: all(b["buildComplete"] for b in found),
            what="the builds to end",
        )


def walk(cb, operation: str, key: str, **params: Any) -> list[list[str]]:
    """The pages boto3's paginator gives, each page's items."""
    return [p[key] for p in cb.get_paginator(operation).paginate(**params)]


def mine(items: list[str], ours: list[str]) -> list[str]:
    """``items`` that are among ``ours``, in the order of ``items``."""
    wanted = set(ours)
    return [i for i in items if i in wanted]


def test_list_projects_pages_in_every_order(cb, projects: list[str]):
    pages = walk(cb, "list_projects", "projects")
    assert len(pages) >= 2 and len(pages[0]) == 100
    names = [n for p in pages for n in p]
    assert names == sorted(set(names)) and mine(names, projects) == projects
    by_creation = walk(
        cb, "list_projects", "projects", sortBy="CREATED_TIME", sortOrder="DESCENDING"
    )
    assert all(len(p) <= 100 for p in by_creation)
    newest_first = [n for p in by_creation for n in p]
    assert len(newest_first) == len(names)
    assert mine(newest_first, projects) == projects[::-1]


@pytest.mark.slow  # the module's 101 builds
def test_list_builds_for_project_pages_newest_first(cb, builds: list[str], projects: list[str]):
    pages = walk(cb, "list_builds_for_project", "ids", projectName=projects[0])
    assert [len(p) for p in pages] == [100, 1]
    assert [i for p in pages for i in p] == builds[::-1]


@pytest.mark.slow  # the module's 101 builds
def test_list_builds_for_project_keeps_the_first_pages_order(cb, builds, projects):
    """The token carries the order; CodeBuild refuses a sortOrder given with a token."""
    first = cb.list_builds_for_project(projectName=projects[0], sortOrder="ASCENDING")
    assert first["ids"] == builds[:100]
    with pytest.raises(cb.exceptions.InvalidInputException) as info:
        cb.list_builds_for_project(
            projectName=projects[0], sortOrder="ASCENDING", nextToken=first["nextToken"]
        )
    assert "Sort order can't be specified when passing a nextToken" in str(info.value)
    rest = cb.list_builds_for_project(projectName=projects[0], nextToken=first["nextToken"])
    assert rest["ids"] == builds[100:] and "nextToken" not in rest


@pytest.mark.slow  # the module's 101 builds
def test_list_builds_pages_in_both_orders(cb, builds: list[str]):
    newest_first = [i for p in walk(cb, "list_builds", "ids") for i in p]
    assert len(newest_first) == len(set(newest_first))
    assert mine(newest_first, builds) == builds[::-1]
    oldest_first = [i for p in walk(cb, "list_builds", "ids", sortOrder="ASCENDING") for i in p]
    assert oldest_first == newest_first[::-1]


@pytest.mark.slow  # the module's 101 builds
def test_the_cli_walks_the_pages(aws, builds: list[str], projects: list[str]):
    answer = aws("codebuild", "list-builds-for-project", "--project-name", projects[0]).stdout
    assert json.loads(answer)["ids"] == builds[::-1]


FORGED = base64.urlsafe_b64encode(
    b'cdlab-page {"listing": "projects/NAME", "descending": false, "after": [1, 2]}'
).decode()


@pytest.mark.parametrize("token", ["not-a-token", "eyJhIjogMX0=", "W10=", FORGED])
def test_a_token_not_given_by_the_listing_is_refused(cb, projects: list[str], token: str):
    with pytest.raises(ClientError) as info:
        cb.list_projects(nextToken=token)
    assert info.value.response["Error"]["Code"] == "InvalidInputException"


def test_a_token_of_another_listing_is_refused(cb, projects: list[str]):
    token = cb.list_projects()["nextToken"]
    with pytest.raises(cb.exceptions.InvalidInputException):
        cb.list_projects(nextToken=token, sortOrder="DESCENDING")
    with pytest.raises(cb.exceptions.InvalidInputException):
        cb.list_builds(nextToken=token)


def test_a_project_created_between_pages_repeats_no_name(cb, projects: list[str]):
    """The token is a cursor: a name sorting into the first page does not push the first
    page's last name onto the next."""
    first = cb.list_projects()
    assert f"{PREFIX}000a" < first["projects"][-1]
    create(cb, f"{PREFIX}000a")
    try:
        rest = cb.get_paginator("list_projects").paginate(
            PaginationConfig={"StartingToken": first["nextToken"]}
        )
        names = first["projects"] + [n for p in rest for n in p["projects"]]
    finally:
        cb.delete_project(name=f"{PREFIX}000a")
    assert len(names) == len(set(names)) and mine(names, projects) == projects
