"""What notebook 09 deletes of CloudWatch Logs: the notebooks' endpoint groups, and Lab 3's: its
two build projects' groups and its QA and prod endpoints' groups, named after the lab's stack and
no other (participants sharing an account for Lab 3 each have a stack of their own)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from cdlab import notebook

LAB = [
    "/aws/codebuild/cdlab-lab3-build",
    "/aws/codebuild/cdlab-lab3-test",
    "/aws/sagemaker/Endpoints/prod-cdlab-lab3",
    "/aws/sagemaker/Endpoints/qa-cdlab-lab3-1a2b3c4d-20250102030405",
    "/aws/sagemaker/Endpoints/qa-cdlab-lab3-e5f6-20250102040506",
]
OTHERS = [
    "/aws/codebuild/cdlab-lab30-build",  # the stacks cdlab-lab30, cdlab-lab3-x and cdlab-lab3x
    "/aws/codebuild/cdlab-lab3-x-build",
    "/aws/sagemaker/Endpoints/prod-cdlab-lab3x",
    "/aws/sagemaker/Endpoints/qa-cdlab-lab3-x-1a2b3c4d-20250102030405",
    "/aws/sagemaker/Endpoints/cdlab-nbgroups-endpoint",  # a notebook's
    "/aws/sagemaker/TrainingJobs",
]


@pytest.fixture
def groups(client) -> Iterator[object]:
    """Every group of LAB and OTHERS made; those left deleted after."""
    logs = client("logs")
    for group in LAB + OTHERS:
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName=group)
    yield logs
    for group in LAB + OTHERS:
        with contextlib.suppress(logs.exceptions.ResourceNotFoundException):
            logs.delete_log_group(logGroupName=group)


def test_lab_log_groups_are_the_lab_stacks_and_no_others(groups) -> None:
    assert notebook.lab_log_groups("cdlab-lab3") == LAB
    assert notebook.log_groups("cdlab-nbgroups") == [
        "/aws/sagemaker/Endpoints/cdlab-nbgroups-endpoint"
    ]


def test_deleting_them_leaves_the_others(groups) -> None:
    for group in notebook.lab_log_groups("cdlab-lab3"):
        groups.delete_log_group(logGroupName=group)
    assert notebook.lab_log_groups("cdlab-lab3") == []
    pages = groups.get_paginator("describe_log_groups").paginate()
    left = [group["logGroupName"] for page in pages for group in page["logGroups"]]
    assert set(OTHERS) <= set(left)
