"""Notebook 07's probe against the local cloud: each probe's match rate is the share of held-out
labels the endpoint's labels match, and each is a datapoint in CloudWatch for the alarm."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from cdlab import data
from cdlab.fm.model import FMModel, artifact_bytes
from cdlab.notebook import PROBE_METRIC, PROBE_NAMESPACE, MatchRateProbe, held_out_request
from tests.polling import poll


@pytest.fixture
def always_yes(s3, sm, bucket: str, fm_image: str) -> Iterator[str]:
    """An endpoint whose model says 1 (a good rating) to every row: bad, yet never failing."""
    features = data.N_USERS + data.N_ITEMS
    model = FMModel(10.0, np.zeros(features, np.float32), np.zeros((features, 2), np.float32),
                    "binary_classifier")  # fmt: skip
    s3.put_object(Bucket=bucket, Key="probe/model.tar.gz", Body=artifact_bytes(model))
    sm.create_model(
        ModelName="probe-always-yes",
        PrimaryContainer={"Image": fm_image, "ModelDataUrl": f"s3://{bucket}/probe/model.tar.gz"},
        ExecutionRoleArn="arn:aws:iam::123456789012:role/me",
    )
    config = "probe-always-yes-config"
    sm.create_endpoint_config(EndpointConfigName=config, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": "probe-always-yes", "InitialInstanceCount": 1,
         "InstanceType": "ml.m5.large", "InitialVariantWeight": 1}])  # fmt: skip
    sm.create_endpoint(EndpointName="probe-always-yes", EndpointConfigName=config)
    sm.get_waiter("endpoint_in_service").wait(EndpointName="probe-always-yes")
    yield "probe-always-yes"
    sm.delete_endpoint(EndpointName="probe-always-yes")
    sm.get_waiter("endpoint_deleted").wait(EndpointName="probe-always-yes")
    sm.delete_endpoint_config(EndpointConfigName=config)
    sm.delete_model(ModelName="probe-always-yes")


@pytest.mark.slow  # a test endpoint's traffic
def test_the_probe_puts_the_share_of_matching_labels_to_cloudwatch(always_yes: str, client):
    _, labels = held_out_request(50)
    with MatchRateProbe(always_yes, rows=50, every=0.3) as probe:
        poll(lambda: len(probe.frame()), until=lambda n: n >= 3, what="three probes")
    probes = probe.frame()
    assert len(probes) >= 3 and probes["error"].isna().all()
    assert probes["match_rate"].tolist() == [pytest.approx(np.mean(labels))] * len(probes)
    now = datetime.now(UTC)
    stats = client("cloudwatch").get_metric_statistics(
        Namespace=PROBE_NAMESPACE,
        MetricName=PROBE_METRIC,
        Dimensions=probe.dimensions(),
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
        Period=3600,
        Statistics=["SampleCount", "Average"],
    )["Datapoints"]
    assert sum(p["SampleCount"] for p in stats) == len(probes)
    assert stats[0]["Average"] == pytest.approx(np.mean(labels))
