"""Faults the local cloud survives: instances killed or hung, the cloud itself SIGKILLed (during
traffic and during an update), a state dir that is full or read-only, saved state the cloud
cannot start an endpoint from, an instance it cannot replace, and one it replaces on a
later try.

Processes are always found by pid as children of the test's own cloud, never by name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from cdlab.fm.model import artifact_bytes
from cdlab.localcloud import control
from cdlab.localcloud.sagemaker.documents import ENDPOINT
from cdlab.localcloud.state.store import Store
from tests.conftest import free_port, small_model
from tests.integration.private_cloud import NO_RETRIES, PrivateCloud, Traffic, alive
from tests.integration.test_endpoints import ROW
from tests.polling import poll
from tests.roles import make_execution_roles
from tests.unit.test_train_container import HYPERPARAMETERS, dataset, recordio

pytestmark = pytest.mark.slow

EXPECTED = {seed: small_model(seed).predict(ROW[None, :])[0]["score"] for seed in (1, 2)}


def test_killed_instance_loses_no_request_and_is_replaced(private: PrivateCloud) -> None:
    private.up()
    private.deploy("kill", count=2)
    before = private.instance_pids("kill")
    assert len(before) == 2
    with Traffic(private, "kill") as traffic:
        poll(lambda: traffic.answered, until=lambda n: n > 50, what="traffic to flow")
        os.kill(before[0], signal.SIGKILL)
        poll(
            lambda: private.instance_pids("kill"),
            until=lambda pids: len(pids) == 2 and before[0] not in pids,
            what="a replacement instance",
        )
        answered_at_replacement = traffic.answered
        poll(
            lambda: traffic.answered,
            until=lambda n: n > answered_at_replacement + 50,
            what="more traffic",
        )
    assert traffic.failures == [], traffic.failures[:3]
    assert traffic.answered > 100
    described = private.client("sagemaker").describe_endpoint(EndpointName="kill")
    assert described["EndpointStatus"] == "InService"
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 2
    assert private.score("kill") == pytest.approx(EXPECTED[1])


def test_hung_instance_times_out_with_a_model_error(private: PrivateCloud, monkeypatch) -> None:
    monkeypatch.setenv("CDLAB_INVOCATION_TIMEOUT", "2")
    private.up()
    private.deploy("hang", count=1)
    [pid] = private.instance_pids("hang")
    runtime = private.client("sagemaker-runtime", NO_RETRIES)
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(ClientError) as info:
            runtime.invoke_endpoint(EndpointName="hang", ContentType="application/json", Body="{}")
        elapsed = time.monotonic() - started
    finally:
        os.kill(pid, signal.SIGCONT)
    error = info.value.response
    assert error["Error"]["Code"] == "ModelError"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert "no answer within 2 seconds" in error["Error"]["Message"]
    assert 1.5 < elapsed < 10
    assert private.score("hang") == pytest.approx(EXPECTED[1])


def test_cloud_sigkilled_mid_traffic_comes_back_with_everything(private: PrivateCloud) -> None:
    private.up()
    s3, sm = private.client("s3"), private.client("sagemaker")
    private.deploy("kept", count=2, bucket="kept")
    s3.put_object(
        Bucket="kept", Key="notes.csv", Body=b"a,b\n", ContentType="text/csv",
        Metadata={"owner": "lab"},
    )  # fmt: skip
    upload = s3.create_multipart_upload(Bucket="kept", Key="big.bin")
    part = s3.upload_part(
        Bucket="kept", Key="big.bin", UploadId=upload["UploadId"], PartNumber=1, Body=b"x" * 1000
    )
    s3.complete_multipart_upload(
        Bucket="kept", Key="big.bin", UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )  # fmt: skip
    s3.copy_object(Bucket="kept", Key="copy.csv", CopySource={"Bucket": "kept", "Key": "notes.csv"})
    s3.put_object(Bucket="kept", Key="gone-1", Body=b"1")
    s3.put_object(Bucket="kept", Key="gone-2", Body=b"2")
    s3.delete_object(Bucket="kept", Key="gone-1")
    s3.delete_objects(Bucket="kept", Delete={"Objects": [{"Key": "gone-2"}]})
    s3.create_bucket(Bucket="removed")
    s3.delete_bucket(Bucket="removed")
    job = train_small_job(private)
    before = {o["Key"] for o in s3.list_objects_v2(Bucket="kept")["Contents"]}
    instances = private.instance_pids("kept")

    with Traffic(private, "kept") as traffic:
        poll(lambda: traffic.answered, until=lambda n: n > 20, what="traffic to flow")
        private.kill()
    poll(
        lambda: [pid for pid in instances if alive(pid)],
        until=lambda living: living == [],
        what="orphaned instances to exit",
    )

    private.up()
    s3, sm = private.client("s3"), private.client("sagemaker")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="kept")
    assert private.score("kept") == pytest.approx(EXPECTED[1])
    assert (
        sm.describe_endpoint(EndpointName="kept")["ProductionVariants"][0]["CurrentInstanceCount"]
        == 2
    )
    assert sm.describe_model(ModelName="kept")["ModelName"] == "kept"
    assert sm.describe_endpoint_config(EndpointConfigName="kept")["EndpointConfigName"] == "kept"
    assert sm.describe_training_job(TrainingJobName=job)["TrainingJobStatus"] == "Completed"
    assert {o["Key"] for o in s3.list_objects_v2(Bucket="kept")["Contents"]} == before
    assert {"big.bin", "copy.csv", "notes.csv", "kept/model.tar.gz"} <= before
    assert not before & {"gone-1", "gone-2"}
    notes = s3.get_object(Bucket="kept", Key="notes.csv")
    assert notes["Body"].read() == b"a,b\n"
    assert notes["ContentType"] == "text/csv" and notes["Metadata"] == {"owner": "lab"}
    assert s3.get_object(Bucket="kept", Key="big.bin")["Body"].read() == b"x" * 1000
    assert s3.get_object(Bucket="kept", Key="copy.csv")["Body"].read() == b"a,b\n"
    artifacts = sm.describe_training_job(TrainingJobName=job)["ModelArtifacts"]["S3ModelArtifacts"]
    bucket, key = artifacts.removeprefix("s3://").split("/", 1)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read()[:2] == b"\x1f\x8b"  # gzip
    assert "removed" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def train_small_job(cloud: PrivateCloud) -> str:
    """A finished training job whose model.tar.gz the local cloud itself wrote to S3."""
    s3, sm = cloud.client("s3"), cloud.client("sagemaker")
    make_execution_roles(cloud.client("iam"))
    s3.put_object(Bucket="kept", Key="train/part-0.rec", Body=recordio(*dataset(200, 1)))
    sm.create_training_job(
        TrainingJobName="kept-job",
        RoleArn="arn:aws:iam::123456789012:role/cdlab-training",
        AlgorithmSpecification={
            "TrainingImage": sm.describe_model(ModelName="kept")["PrimaryContainer"]["Image"],
            "TrainingInputMode": "File",
        },
        HyperParameters=HYPERPARAMETERS | {"epochs": "1"},
        InputDataConfig=[{
            "ChannelName": "train",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://kept/train/"}},
        }],
        OutputDataConfig={"S3OutputPath": "s3://kept/output/"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )  # fmt: skip
    sm.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName="kept-job")
    return "kept-job"


def test_update_interrupted_by_a_crash_comes_back_on_one_config(private: PrivateCloud) -> None:
    private.up()
    private.deploy("upd", seed=1, count=2)
    s3, sm = private.client("s3"), private.client("sagemaker")
    s3.put_object(Bucket="models", Key="upd-2.tar.gz", Body=artifact_bytes(small_model(2)))
    private.config("upd-2", "s3://models/upd-2.tar.gz", 2)
    sm.update_endpoint(EndpointName="upd", EndpointConfigName="upd-2")
    assert sm.describe_endpoint(EndpointName="upd")["EndpointStatus"] == "Updating"
    private.kill()

    private.up()
    sm = private.client("sagemaker")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="upd")
    described = sm.describe_endpoint(EndpointName="upd")
    seed = {"upd": 1, "upd-2": 2}[described["EndpointConfigName"]]
    scores = {round(private.score("upd"), 6) for _ in range(20)}
    assert scores == {round(EXPECTED[seed], 6)}
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 2
    assert "PendingDeploymentSummary" not in described
    poll(
        lambda: instances_of_home(private.home),
        until=lambda pids: len(pids) == 2,
        what="no orphaned instance",
    )


def test_an_endpoint_it_cannot_start_from_its_state_fails_and_can_be_deleted(
    private: PrivateCloud,
) -> None:
    """Saved state the start-up did not foresee (here a deployment that names no image, as an
    older state format might) fails the endpoint with a reason pointing to the log, where it
    stayed SystemUpdating for good."""
    private.up()
    private.deploy("stale", count=1)
    assert control.down(private.home)
    with contextlib.closing(Store(private.home / "state.db")) as store:
        doc = store.get(ENDPOINT, "stale")
        assert doc is not None
        for variant in doc["_Deployed"]:
            del variant["Image"]
        store.put(ENDPOINT, "stale", doc)

    private.up()
    sm = private.client("sagemaker")
    described = poll(
        lambda: sm.describe_endpoint(EndpointName="stale"),
        until=lambda d: d["EndpointStatus"] != "SystemUpdating",
        what="the endpoint out of SystemUpdating",
    )
    assert described["EndpointStatus"] == "Failed"
    assert (
        "The local cloud failed on this endpoint (KeyError('Image'))"
        in (described["FailureReason"])
    )
    assert "logs/cloud.log" in described["FailureReason"]
    assert "a lifecycle step of endpoint stale failed" in control.log_file(private.home).read_text()
    assert private.instance_pids("stale") == []
    sm.delete_endpoint(EndpointName="stale")
    sm.get_waiter("endpoint_deleted").wait(EndpointName="stale")


def replacement_failure_logged(private: PrivateCloud) -> str:
    """The cloud's log, once it says a replacement failed."""
    return poll(
        control.log_file(private.home).read_text,
        until=lambda text: "could not replace instance" in text,
        what="the failed replacement in the cloud's log",
    )


def test_an_instance_it_cannot_replace_is_logged_and_the_others_serve_on(
    private: PrivateCloud,
) -> None:
    """A replacement that fails in a way nobody foresaw (here the deployment saved with an image
    that is not a string, as an older state format might, so the launcher fails) is logged
    naming the instance; the endpoint stays InService and its other instance serves."""
    private.up()
    private.deploy("unfit", count=2)
    with contextlib.closing(Store(private.home / "state.db")) as store:
        doc = store.get(ENDPOINT, "unfit")
        assert doc is not None
        for variant in doc["_Deployed"]:
            variant["Image"] = None
        store.put(ENDPOINT, "unfit", doc)
    killed, survivor = private.instance_pids("unfit")
    os.kill(killed, signal.SIGKILL)

    text = replacement_failure_logged(private)
    assert "of unfit/AllTraffic; the endpoint serves on without it" in text
    assert "TypeError: expected string" in text
    poll(
        lambda: private.instance_pids("unfit"),
        until=lambda pids: pids == [survivor],
        what="no replacement left running, the other instance serving",
    )
    sm = private.client("sagemaker")
    assert sm.describe_endpoint(EndpointName="unfit")["EndpointStatus"] == "InService"
    for _ in range(10):
        assert private.score("unfit") == pytest.approx(EXPECTED[1])


def test_a_replacement_that_cannot_start_is_tried_again_until_it_starts(
    private: PrivateCloud,
) -> None:
    """A replacement whose model cannot be read (here its artifact moved away) fails with a
    known error, is logged, and is tried again: once the artifact is back, the endpoint has
    its two instances again, as SageMaker goes on replacing an unhealthy instance."""
    private.up()
    private.deploy("retried", count=2)
    (artifact,) = (private.home / "artifacts").glob("*.tar.gz")
    hidden = artifact.with_name("hidden")
    artifact.rename(hidden)
    killed, survivor = private.instance_pids("retried")
    os.kill(killed, signal.SIGKILL)

    text = replacement_failure_logged(private)
    assert "of retried/AllTraffic: " in text
    assert "trying again in" in text
    assert private.instance_pids("retried") == [survivor]
    hidden.rename(artifact)

    pids = poll(
        lambda: private.instance_pids("retried"),
        until=lambda pids: len(pids) == 2,
        what="a replacement started on a later try",
    )
    assert survivor in pids and killed not in pids
    sm = private.client("sagemaker")
    assert sm.describe_endpoint(EndpointName="retried")["EndpointStatus"] == "InService"
    for _ in range(10):
        assert private.score("retried") == pytest.approx(EXPECTED[1])


def instances_of_home(home: Path) -> list[int]:
    """Pids of every instance process serving from ``home`` (orphans of a dead cloud too)."""
    found = []
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            cmdline = (proc / "cmdline").read_bytes()
            if b"cdlab.fm.serve_container" in cmdline and str(home).encode() in cmdline:
                found.append(int(proc.name))
    return [pid for pid in found if alive(pid)]


@contextlib.contextmanager
def tmpfs(path: Path, options: str) -> Iterator[Path]:
    """A small tmpfs at ``path`` (root may mount one; skipped where mounting is not allowed)."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        control.down(path)  # a cloud kept there must stop before its state dir goes away
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(directory: Path) -> Path:
    """Write a file until the filesystem is full; returns it (delete it to free the space)."""
    filler = directory / "filler"
    with contextlib.suppress(OSError), filler.open("wb") as f:
        while True:
            f.write(b"\0" * (1 << 20))
            f.flush()
    return filler


def state_is_whole(home: Path) -> bool:
    with contextlib.closing(sqlite3.connect(home / "state.db")) as db:
        return db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def configs_until_refused(sm) -> tuple[list[str], str]:
    """Create endpoint configs (SQLite writes only) until the full disk refuses one; returns
    the names saved and the name refused, after checking the refusal's error."""
    saved: list[str] = []
    for i in range(2000):
        name = f"fill-{i}"
        try:
            sm.create_endpoint_config(
                EndpointConfigName=name,
                ProductionVariants=[{"VariantName": "v", "ModelName": "full",
                                     "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}],
            )  # fmt: skip
        except ClientError as e:
            error = e.response["Error"]
            assert error["Code"] == "InternalFailure"
            assert "could not save its state in" in error["Message"]
            assert "database or disk is full" in error["Message"]
            assert "nothing was changed" in error["Message"]
            return saved, name
        saved.append(name)
    raise AssertionError("the full disk never refused a write")


def test_full_disk_is_a_clear_internal_failure_and_corrupts_nothing(
    private: PrivateCloud,
) -> None:
    with tmpfs(private.home, "size=48m"):
        private.up()
        private.deploy("full", count=1)
        s3 = private.client("s3", NO_RETRIES)
        sm = private.client("sagemaker", NO_RETRIES)
        s3.put_object(Bucket="models", Key="next.tar.gz", Body=artifact_bytes(small_model(2)))
        filler = fill(private.home)
        try:
            with pytest.raises(ClientError) as info:
                private.config("next", "s3://models/next.tar.gz", 1)
            assert info.value.response["Error"]["Code"] == "InternalFailure"
            assert "No space left on device" in info.value.response["Error"]["Message"]
            with pytest.raises(ClientError) as info:
                s3.put_object(Bucket="models", Key="lost.bin", Body=b"x" * 100_000)
            assert info.value.response["Error"]["Code"] == "InternalError"
            assert "could not save S3 bucket models" in info.value.response["Error"]["Message"]
            assert private.score("full") == pytest.approx(EXPECTED[1])
            saved, refused = configs_until_refused(sm)
            iam = private.client("iam", NO_RETRIES)
            with pytest.raises(ClientError) as info:  # a change moto would only keep in memory
                iam.create_role(RoleName="unsaved", AssumeRolePolicyDocument="{}")
            assert info.value.response["Error"]["Code"] == "InternalFailure"
            assert "could not save its state in" in info.value.response["Error"]["Message"]
        finally:
            filler.unlink()
        assert state_is_whole(private.home)
        with pytest.raises(iam.exceptions.NoSuchEntityException):
            iam.get_role(RoleName="unsaved")
        with pytest.raises(ClientError):
            sm.describe_model(ModelName="next")
        for name in saved:
            assert sm.describe_endpoint_config(EndpointConfigName=name)["ProductionVariants"]
        with pytest.raises(ClientError):
            sm.describe_endpoint_config(EndpointConfigName=refused)
        private.config("next", "s3://models/next.tar.gz", 1)
        control.down(private.home)
        private.up()
        sm = private.client("sagemaker")
        sm.get_waiter("endpoint_in_service").wait(EndpointName="full")
        assert sm.describe_endpoint_config(EndpointConfigName="next")["ProductionVariants"]
        assert private.score("full") == pytest.approx(EXPECTED[1])


def test_up_with_a_read_only_home_says_so(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "home", "size=1m,ro") as home:
        result = subprocess.run(
            [sys.executable, "-m", "cdlab.cli", "local", "up"],
            env={**os.environ, "CDLAB_HOME": str(home), "CDLAB_PORT": str(free_port())},
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode == 1
    assert f"cannot keep its state in {home}: Read-only file system" in result.stderr
    assert "Traceback" not in result.stderr
