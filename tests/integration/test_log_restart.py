"""CloudWatch Logs events the local cloud writes itself (training jobs', endpoint instances')
survive a SIGKILL: the same messages with the same timestamps, and a deleted group stays deleted."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.integration.private_cloud import PrivateCloud
from tests.integration.test_faults import train_small_job
from tests.polling import poll

pytestmark = pytest.mark.slow

TRAINING = "/aws/sagemaker/TrainingJobs"
KEPT, DROPPED = "/aws/sagemaker/Endpoints/kept", "/aws/sagemaker/Endpoints/dropped"

Events = dict[tuple[str, str], list[tuple[int, str]]]


def streams(logs, group: str) -> list[str]:
    try:
        found = logs.describe_log_streams(logGroupName=group)["logStreams"]
    except ClientError as e:
        assert e.response["Error"]["Code"] == "ResourceNotFoundException"
        return []
    return [s["logStreamName"] for s in found]


def events(logs, group: str, stream: str) -> list[tuple[int, str]]:
    answer = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)
    return [(e["timestamp"], e["message"]) for e in answer["events"]]


def logged(logs, group: str) -> bool:
    """Whether the group's (only) stream has events yet."""
    return any(events(logs, group, stream) for stream in streams(logs, group))


def test_the_clouds_log_events_survive_a_sigkill(private: PrivateCloud) -> None:
    private.up()
    logs = private.client("logs")
    logs.create_log_group(logGroupName=TRAINING)  # a user's: the journal brings it back first
    logs.put_retention_policy(logGroupName=TRAINING, retentionInDays=7)
    private.deploy("kept", count=1, bucket="kept")
    private.deploy("dropped", count=1, bucket="kept")
    job = train_small_job(private)
    poll(lambda: logged(logs, KEPT) and logged(logs, DROPPED), what="instance log lines")
    before: Events = {
        (group, stream): events(logs, group, stream)
        for group in (TRAINING, KEPT)
        for stream in streams(logs, group)
    }
    assert [s.split("/")[0] for g, s in before if g == TRAINING] == [job]
    assert len(before) == 2 and all(before.values())
    dropped = streams(logs, DROPPED)
    assert len(dropped) == 1
    logs.delete_log_group(logGroupName=DROPPED)

    private.kill()
    private.up()
    logs = private.client("logs")
    after: Events = {(group, stream): events(logs, group, stream) for group, stream in before}
    assert after == before
    [training] = logs.describe_log_groups(logGroupNamePrefix=TRAINING)["logGroups"]
    assert training["retentionInDays"] == 7
    assert not set(dropped) & set(streams(logs, DROPPED))
