"""Scaling activities are kept in the state store: the story survives a restart, and an
activity a restart cut short ends Failed, saying why."""

from __future__ import annotations

from pathlib import Path

from cdlab.localcloud.autoscaling.autoscaler import ACTIVITY, Autoscaler
from cdlab.localcloud.context import RequestContext
from cdlab.localcloud.state.store import Store


def activity(activity_id: str, status: str, start: float) -> dict:
    return {
        "ActivityId": activity_id, "ServiceNamespace": "sagemaker",
        "ResourceId": "endpoint/e/variant/AllTraffic",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        "Description": "Setting desired instance count to 2.", "Cause": "alarm",
        "StartTime": start, "StatusCode": status,
    }  # fmt: skip


def test_kept_activities_come_back_newest_first_and_an_interrupted_one_failed(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "state.db")
    store.put(ACTIVITY, "old", activity("old", "Successful", 1.0))
    store.put(ACTIVITY, "cut", activity("cut", "InProgress", 2.0))

    story = Autoscaler(
        metrics=None, capacity=None, store=store, moto=None
    ).describe_scaling_activities(RequestContext.internal(), {"ServiceNamespace": "sagemaker"})[
        "ScalingActivities"
    ]

    assert [(a["ActivityId"], a["StatusCode"]) for a in story] == [
        ("cut", "Failed"), ("old", "Successful"),
    ]  # fmt: skip
    assert story[0]["StatusMessage"] == "The local cloud stopped before the change was fulfilled."
    assert store.get(ACTIVITY, "cut")["StatusCode"] == "Failed"  # saved, not only in memory
    store.close()


def test_max_results_pages_the_activities(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    for n in range(3):
        store.put(ACTIVITY, f"a{n}", activity(f"a{n}", "Successful", float(n)))
    autoscaler = Autoscaler(metrics=None, capacity=None, store=store, moto=None)
    params = {"ServiceNamespace": "sagemaker", "MaxResults": 2}
    first = autoscaler.describe_scaling_activities(RequestContext.internal(), params)
    second = autoscaler.describe_scaling_activities(
        RequestContext.internal(), {**params, "NextToken": first["NextToken"]}
    )
    assert [a["ActivityId"] for a in first["ScalingActivities"]] == ["a2", "a1"]
    assert [a["ActivityId"] for a in second["ScalingActivities"]] == ["a0"]
    assert "NextToken" not in second
    store.close()
