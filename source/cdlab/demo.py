"""``cdlab demo``: data -> a factorization machine trained in-process -> one endpoint ->
predictions, with no pipeline (``make run`` runs the main job, the whole pipeline).

Every AWS call goes through boto3 to whatever target the environment names (the local cloud by
default), the same calls the notebooks teach.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import boto3
import numpy as np

from cdlab import data, target
from cdlab.fm.model import artifact_bytes
from cdlab.fm.trainer import RECOMMENDED_HYPERPARAMETERS, train
from cdlab.localcloud.sagemaker.images import fm_image_uri

BUCKET = "cdlab-demo"
ENDPOINT = "cdlab-demo"
ROLE = "arn:aws:iam::123456789012:role/cdlab-demo"
SAMPLE = 1000


def _step(title: str) -> float:
    print(f"==> {title}", flush=True)
    return time.monotonic()


def run() -> int:
    timings: dict[str, float] = {}
    started = _step("readying the local cloud")
    env = target.ready()
    timings["local cloud"] = time.monotonic() - started

    started = _step("preparing MovieLens-format data (generated offline)")
    workdir = Path(tempfile.mkdtemp(prefix="cdlab-demo-"))
    data_dir = data.prepare(None, workdir)
    base, test = data.load_ratings(data_dir, "ua.base"), data.load_ratings(data_dir, "ua.test")
    X, y = data.one_hot(base, data.N_USERS, data.N_ITEMS), base.labels()
    X_test, y_test = data.one_hot(test, data.N_USERS, data.N_ITEMS), test.labels()
    timings["data"] = time.monotonic() - started

    started = _step("training a factorization machine")
    hp = {**RECOMMENDED_HYPERPARAMETERS, "feature_dim": str(X.shape[1])}
    model = train(X, y, hp, log=lambda line: None)
    timings["training"] = time.monotonic() - started

    started = _step("deploying: create-model, create-endpoint-config, create-endpoint")
    s3, sm = boto3.client("s3"), boto3.client("sagemaker")
    stamp = time.strftime("%Y%m%d%H%M%S")
    s3.create_bucket(Bucket=BUCKET)
    key = f"models/{stamp}/model.tar.gz"
    s3.put_object(Bucket=BUCKET, Key=key, Body=artifact_bytes(model))
    name = f"cdlab-demo-{stamp}"
    sm.create_model(
        ModelName=name,
        PrimaryContainer={
            "Image": fm_image_uri(env["AWS_DEFAULT_REGION"]),
            "ModelDataUrl": f"s3://{BUCKET}/{key}",
        },
        ExecutionRoleArn=ROLE,
    )
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InitialInstanceCount": 2,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": 1,
            }
        ],
    )
    existing = {e["EndpointName"] for e in sm.list_endpoints(NameContains=ENDPOINT)["Endpoints"]}
    if ENDPOINT in existing:
        sm.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName=name)
    else:
        sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=name)
    sm.get_waiter("endpoint_in_service").wait(EndpointName=ENDPOINT)
    timings["deploy"] = time.monotonic() - started

    started = _step(f"invoking the endpoint with {SAMPLE} held-out ratings")
    runtime = boto3.client("sagemaker-runtime")
    rows = X_test[:SAMPLE]
    body = {
        "instances": [
            {"data": {"features": {"keys": r.indices.tolist(), "shape": [X.shape[1]],
                                   "values": r.data.tolist()}}}
            for r in rows
        ]
    }  # fmt: skip
    answer = runtime.invoke_endpoint(
        EndpointName=ENDPOINT, ContentType="application/json", Body=json.dumps(body)
    )
    predictions = json.loads(answer["Body"].read())["predictions"]
    labels = np.array([p["predicted_label"] for p in predictions])
    match_rate = float((labels == y_test[:SAMPLE]).mean())
    timings["invoke"] = time.monotonic() - started

    ceiling = data.ceiling(data_dir)
    print()
    print("CD Lab summary")
    print(f"  target          local cloud at {env['AWS_ENDPOINT_URL']}")
    print(f"  data            {len(base)} training / {len(test)} test ratings")
    print(f"  endpoint        {ENDPOINT} (config {name}), 2 instances, InService")
    print(f"  match rate      {match_rate:.3f} on {SAMPLE} held-out ratings")
    print(f"  data's ceiling  {ceiling:.3f} (the best any model can do on this data)")
    print(f"  gate (>= 0.80)  {'passed' if match_rate >= 0.80 else 'FAILED'}")
    print("  times           " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    print("  next            eval \"$(cdlab local env)\"; aws sagemaker describe-endpoint "
          f"--endpoint-name {ENDPOINT}")  # fmt: skip
    return 0 if match_rate >= 0.80 else 1
