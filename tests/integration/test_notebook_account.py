"""The notebooks' account-wide helpers against the local cloud: the session's region, the default
bucket named after account and region, and the list of what could still bill."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdlab import execution_role, notebook
from cdlab.localcloud.autoscaling.autoscaler import DIMENSION


def test_the_region_is_the_sessions(aws_env, monkeypatch: pytest.MonkeyPatch) -> None:
    assert notebook.region() == aws_env["AWS_DEFAULT_REGION"] == "us-east-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert notebook.region() == "eu-west-1"


def test_no_region_anywhere_is_a_clear_error(
    aws_env, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "config").write_text("[default]\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    with pytest.raises(ValueError, match="aws configure"):
        notebook.region()


def test_the_default_bucket_names_region_and_account(aws_env) -> None:
    assert notebook.default_bucket() == "cdlab-us-east-1-123456789012"


def test_the_default_role_is_the_one_the_local_target_makes(aws_env, client) -> None:
    assert notebook.default_role() == execution_role.ensure(client("iam"))
    assert notebook.default_role() == "arn:aws:iam::123456789012:role/cdlab-notebooks"


def test_billable_lists_what_carries_the_prefix_until_it_is_deleted(
    aws_env, sm, client, upload_model, fm_image: str
) -> None:
    cloudwatch = client("cloudwatch")
    sm.create_model(
        ModelName="cdlab-nbbill-model",
        PrimaryContainer={"Image": fm_image, "ModelDataUrl": upload_model(3)},
        ExecutionRoleArn="arn:aws:iam::123456789012:role/me",
    )
    cloudwatch.put_metric_alarm(
        AlarmName="cdlab-nbbill-alarm", Namespace="CDLab/Notebooks", MetricName="MatchRate",
        Statistic="Average", Period=60, EvaluationPeriods=1, Threshold=0.75,
        ComparisonOperator="LessThanThreshold",
    )  # fmt: skip
    try:
        left = notebook.billable("cdlab-nbbill")
        assert left["model"] == ["cdlab-nbbill-model"]
        assert left["alarm"] == ["cdlab-nbbill-alarm"]
        assert sorted(kind for kind, names in left.items() if names) == ["alarm", "model"]
        assert "training-job in progress" in left and "endpoint" in left
    finally:
        sm.delete_model(ModelName="cdlab-nbbill-model")
        cloudwatch.delete_alarms(AlarmNames=["cdlab-nbbill-alarm"])
    assert all(names == [] for names in notebook.billable("cdlab-nbbill").values())


def test_leftovers_reads_every_page_of_scalable_targets_and_alarms(client) -> None:
    """A leftover past the first page of DescribeScalableTargets (50 targets an answer, on AWS
    and from moto) is found all the same, and so is one past the 50th alarm."""
    autoscaling, cloudwatch = client("application-autoscaling"), client("cloudwatch")
    ids = [f"endpoint/cdlab-nbpage-{n}/variant/AllTraffic" for n in range(51)]
    alarms = [f"cdlab-nbpage-alarm-{n}" for n in range(51)]
    target = {"ServiceNamespace": "sagemaker", "ScalableDimension": DIMENSION}
    try:
        for resource_id in ids:
            autoscaling.register_scalable_target(
                **target, ResourceId=resource_id, MinCapacity=1, MaxCapacity=2
            )
        for name in alarms:
            cloudwatch.put_metric_alarm(
                AlarmName=name, Namespace="CDLab/Notebooks", MetricName="MatchRate",
                Statistic="Average", Period=60, EvaluationPeriods=1, Threshold=0.75,
                ComparisonOperator="LessThanThreshold",
            )  # fmt: skip
        left = notebook.leftovers("cdlab-nbpage")
        assert sorted(i.name for i in left if i.kind == "scalable-target") == sorted(ids)
        assert sorted(i.name for i in left if i.kind == "alarm") == sorted(alarms)
    finally:
        for resource_id in ids:
            autoscaling.deregister_scalable_target(**target, ResourceId=resource_id)
        cloudwatch.delete_alarms(AlarmNames=alarms)
