"""DeleteEndpoint refuses an endpoint in progress, as AWS does, through boto3 against a cloud that
takes AWS's time (``CDLAB_LATENCY=aws`` at ``CDLAB_TIME_SCALE=60``, so each status lasts
seconds): Creating, Updating (UpdateEndpoint, UpdateEndpointWeightsAndCapacities) and
SystemUpdating (after a restart), each with ``ValidationException: Cannot update in-progress
endpoint "<arn>".``; nothing changes, the endpoint goes on to InService and is deleted then. The
notebooks' ``clean`` waits an endpoint out of Creating, then deletes it; one that ends its
operation (or is deleted) between the refusal and ``clean``'s look at its status is deleted at
once (or counts as deleted). (RollingBack does not last long enough here to reach it on purpose:
the unit tests of DeleteEndpoint cover it.)"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cdlab import notebook
from cdlab.notebook.cleanup import _delete_endpoint
from tests.conftest import small_model
from tests.integration.scaled import FEATURES, ScaledCloud, scaled_cloud
from tests.polling import poll

pytestmark = pytest.mark.slow

MODEL = small_model(1, feature_dim=FEATURES)


@pytest.fixture(scope="module")
def slow_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaledCloud]:
    yield from scaled_cloud(tmp_path_factory, latency="aws")


def refused(cloud: ScaledCloud, name: str) -> tuple[str, str]:
    """DeleteEndpoint's refusal: its code and message."""
    with pytest.raises(ClientError) as info:
        cloud.client("sagemaker").delete_endpoint(EndpointName=name)
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


def in_progress(cloud: ScaledCloud, name: str) -> tuple[str, str]:
    """AWS's refusal of an endpoint in progress, its ARN in the caller's account and region."""
    account = cloud.client("sts").get_caller_identity()["Account"]
    region = cloud.env["AWS_DEFAULT_REGION"]
    arn = f"arn:aws:sagemaker:{region}:{account}:endpoint/{name.lower()}"
    return "ValidationException", f'Cannot update in-progress endpoint "{arn}".'


def status(cloud: ScaledCloud, name: str) -> str:
    return cloud.client("sagemaker").describe_endpoint(EndpointName=name)["EndpointStatus"]


def deleted(cloud: ScaledCloud, name: str) -> None:
    """DeleteEndpoint accepted, and the endpoint gone."""
    cloud.client("sagemaker").delete_endpoint(EndpointName=name)
    poll(lambda: gone(cloud, name), timeout=30, what=f"endpoint {name} gone")


def gone(cloud: ScaledCloud, name: str) -> bool:
    try:
        status(cloud, name)
    except ClientError as e:
        assert e.response["Error"]["Message"].startswith("Could not find endpoint")
        return True
    return False


def test_an_endpoint_creating_is_refused_and_deleted_once_in_service(
    slow_cloud: ScaledCloud,
) -> None:
    name = "Being-Created"
    sm = slow_cloud.client("sagemaker")
    sm.create_endpoint(EndpointName=name, EndpointConfigName=slow_cloud.config("cre", MODEL, 1))
    assert refused(slow_cloud, name) == in_progress(slow_cloud, name)
    assert status(slow_cloud, name) == "Creating"
    assert slow_cloud.wait(name)["EndpointStatus"] == "InService"
    deleted(slow_cloud, name)


def test_an_endpoint_updating_is_refused_and_its_update_goes_on(slow_cloud: ScaledCloud) -> None:
    name = slow_cloud.endpoint("upd", MODEL)
    sm = slow_cloud.client("sagemaker")
    config = slow_cloud.config("upd", small_model(2, feature_dim=FEATURES), 1)
    sm.update_endpoint(EndpointName=name, EndpointConfigName=config)
    assert refused(slow_cloud, name) == in_progress(slow_cloud, name)
    assert status(slow_cloud, name) == "Updating"
    updated = slow_cloud.wait(name)
    assert (updated["EndpointStatus"], updated["EndpointConfigName"]) == ("InService", config)

    sm.update_endpoint_weights_and_capacities(
        EndpointName=name,
        DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 2}],
    )
    assert refused(slow_cloud, name) == in_progress(slow_cloud, name)
    assert status(slow_cloud, name) == "Updating"
    [variant] = slow_cloud.wait(name)["ProductionVariants"]
    assert variant["CurrentInstanceCount"] == 2
    deleted(slow_cloud, name)


def test_an_endpoint_system_updating_after_a_restart_is_refused(slow_cloud: ScaledCloud) -> None:
    """A restart brings each endpoint back SystemUpdating while its instances start again."""
    name = slow_cloud.endpoint("sys", MODEL)
    slow_cloud.restart()
    assert status(slow_cloud, name) == "SystemUpdating"
    assert refused(slow_cloud, name) == in_progress(slow_cloud, name)
    assert slow_cloud.wait(name)["EndpointStatus"] == "InService"
    deleted(slow_cloud, name)


def test_clean_waits_for_an_endpoint_creating_then_deletes_it(
    slow_cloud: ScaledCloud, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A notebook's first cell (``clean``) while an earlier run's endpoint is still Creating:
    a line says it waits, then the endpoint, its config and its model are deleted."""
    for key, value in slow_cloud.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CDLAB_TARGET", "local")
    sm = slow_cloud.client("sagemaker")
    config = slow_cloud.config("cleaned", MODEL, 1)
    sm.create_endpoint(EndpointName="cleaned-endpoint", EndpointConfigName=config)
    cleaned = notebook.clean("cleaned")
    assert ["endpoint", "cleaned-endpoint"] in cleaned.values.tolist()
    assert "endpoint cleaned-endpoint is Creating: waiting" in capsys.readouterr().out
    assert notebook.leftovers("cleaned") == []


class LateLook:
    """A SageMaker client whose first DescribeEndpoint is asked only once ``meanwhile`` has run:
    what happens to the endpoint between DeleteEndpoint's refusal and ``clean``'s look at its
    status."""

    def __init__(self, sm: Any, meanwhile: Callable[[], object]) -> None:
        self.sm, self.meanwhile = sm, meanwhile

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sm, name)

    def describe_endpoint(self, **kwargs: Any) -> Any:
        meanwhile, self.meanwhile = self.meanwhile, lambda: None
        meanwhile()
        return self.sm.describe_endpoint(**kwargs)


@pytest.mark.parametrize("meanwhile", ["in service", "deleted"])
def test_clean_deletes_an_endpoint_that_ended_its_operation_after_the_refusal(
    slow_cloud: ScaledCloud, capsys: pytest.CaptureFixture[str], meanwhile: str
) -> None:
    """DeleteEndpoint refused while the endpoint is Creating, which is InService (or deleted by
    someone else) by the time ``clean`` asks its status: it is deleted again at once, with no
    line saying it waits (it waited for nothing); one gone counts as deleted, no error."""
    name = f"Late-{meanwhile.replace(' ', '-')}"
    sm = slow_cloud.client("sagemaker")
    sm.create_endpoint(EndpointName=name, EndpointConfigName=slow_cloud.config(name, MODEL, 1))

    def ended() -> None:
        assert slow_cloud.wait(name)["EndpointStatus"] == "InService"
        if meanwhile == "deleted":
            deleted(slow_cloud, name)

    _delete_endpoint(LateLook(sm, ended), name, time.monotonic() + 60)
    assert capsys.readouterr().out == ""
    poll(lambda: gone(slow_cloud, name), timeout=30, what=f"endpoint {name} gone")
