"""Scaling activities are kept in the state store: the story survives a restart, and an
activity a restart cut short ends Failed, saying why; not scaled activities are listed only when
asked for, and after a restart each policy's reasons since the last scaling are known."""

from __future__ import annotations

from pathlib import Path

from cdlab.localcloud.autoscaling import notscaled
from cdlab.localcloud.autoscaling.autoscaler import ACTIVITY, DIMENSION, Autoscaler
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


def not_scaled(policy: str, code: str, start: float) -> dict:
    cause = notscaled.alarm_cause("TargetTracking-high", policy)
    kept = notscaled.activity("endpoint/e/variant/AllTraffic", DIMENSION, cause, {"Code": code})
    return {**kept, "ActivityId": f"{policy}-{code}", "StartTime": start}


def test_not_scaled_activities_are_listed_only_when_asked_for_in_the_same_pages(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "state.db")
    store.put(ACTIVITY, "a0", activity("a0", "Successful", 0.0))
    kept = not_scaled("p", notscaled.AT_MAX, 1.0)
    store.put(ACTIVITY, kept["ActivityId"], kept)
    store.put(ACTIVITY, "a2", activity("a2", "Successful", 2.0))
    autoscaler = Autoscaler(metrics=None, capacity=None, store=store, moto=None)

    def listed(**params: object) -> list[str]:
        found = autoscaler.describe_scaling_activities(
            RequestContext.internal(), {"ServiceNamespace": "sagemaker", **params}
        )
        return [a["ActivityId"] for a in found["ScalingActivities"]]

    assert listed() == listed(IncludeNotScaledActivities=False) == ["a2", "a0"]
    assert listed(IncludeNotScaledActivities=True) == ["a2", kept["ActivityId"], "a0"]
    first = autoscaler.describe_scaling_activities(
        RequestContext.internal(),
        {"ServiceNamespace": "sagemaker", "IncludeNotScaledActivities": True, "MaxResults": 2},
    )
    assert [a["ActivityId"] for a in first["ScalingActivities"]] == ["a2", kept["ActivityId"]]
    store.close()


def test_reasons_recorded_since_the_target_last_scaled_are_known_after_a_restart() -> None:
    newest_first = [
        not_scaled("p", notscaled.AT_MAX, 3.0),
        activity("scaled", "Successful", 2.0),
        not_scaled("q", notscaled.AT_MIN, 1.0),  # before the target scaled: may come again
    ]
    recorded = notscaled.Recorded(newest_first)
    resource = "endpoint/e/variant/AllTraffic"
    assert not recorded.first(resource, "p", notscaled.AT_MAX)
    assert recorded.first(resource, "q", notscaled.AT_MIN)
    assert not recorded.first(resource, "q", notscaled.AT_MIN)
    assert recorded.first(resource, "p", notscaled.AT_DESIRED)
    recorded.scaled(resource)
    assert recorded.first(resource, "p", notscaled.AT_MAX)
