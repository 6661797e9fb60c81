"""SageMaker SDK v2, unmodified, through a whole Factorization Machines flow on the local cloud.

Run by ``test_sdk_v2.py`` with a throwaway environment's Python that has ``sagemaker`` 2.x (it
cannot share the kit's environment), and the local cloud's variables (``AWS_ENDPOINT_URL``, keys,
region). It never imports the kit. Usage:

    python sdkv2_flow.py BUCKET ROLE_ARN RESULT_JSON

``record_set`` -> ``fit(logs=True)`` -> ``deploy`` -> ``predict`` (recordio-protobuf both ways) ->
the same rows through a JSON ``Predictor`` and a CSV-in, JSON-lines-out one -> ``delete_model`` ->
``delete_endpoint``; what the test checks is written to RESULT_JSON. The session is given its
default bucket: left to name it itself, SDK v2 asks STS at a fixed regional URL, which ignores
``AWS_ENDPOINT_URL``.
"""

import json
import sys

import numpy as np
import sagemaker
from botocore.exceptions import ClientError
from sagemaker.amazon.factorization_machines import FactorizationMachines
from sagemaker.deserializers import JSONDeserializer, JSONLinesDeserializer
from sagemaker.predictor import Predictor
from sagemaker.serializers import CSVSerializer, JSONSerializer

ROWS, FEATURE_DIM, PREDICTED = 200, 50, 10


def data() -> tuple[np.ndarray, np.ndarray]:
    """Sparse 0/1 rows whose label a hidden linear rule decides."""
    rng = np.random.default_rng(0)
    X = (rng.random((ROWS, FEATURE_DIM)) < 0.1).astype(np.float32)
    y = (X @ rng.standard_normal(FEATURE_DIM) > 0).astype(np.float32)
    return X, y


def gone(describe, **name: str) -> bool:
    try:
        describe(**name)
    except ClientError:
        return True
    return False


def main(bucket: str, role: str, result_path: str) -> None:
    session = sagemaker.Session(default_bucket=bucket)
    X, y = data()
    fm = FactorizationMachines(
        role=role,
        instance_count=1,
        instance_type="ml.m5.large",
        num_factors=4,
        predictor_type="binary_classifier",
        epochs=5,
        mini_batch_size=50,
        sagemaker_session=session,
    )
    fm.fit(fm.record_set(X, labels=y), logs=True)
    job = session.describe_training_job(fm.latest_training_job.name)

    predictor = fm.deploy(initial_instance_count=1, instance_type="ml.m5.large")
    records = predictor.predict(X[:PREDICTED])
    as_json = Predictor(
        predictor.endpoint_name,
        session,
        serializer=JSONSerializer(),
        deserializer=JSONDeserializer(),
    ).predict({"instances": [{"features": row.tolist()} for row in X[:PREDICTED]]})
    as_jsonlines = Predictor(
        predictor.endpoint_name,
        session,
        serializer=CSVSerializer(),
        deserializer=JSONLinesDeserializer(),
    ).predict(X[:PREDICTED])

    # delete_model reads the endpoint config, so it must come first.
    model_name = session.sagemaker_client.describe_endpoint_config(
        EndpointConfigName=predictor.endpoint_name
    )["ProductionVariants"][0]["ModelName"]
    predictor.delete_model()
    predictor.delete_endpoint()
    sm = session.sagemaker_client
    sm.get_waiter("endpoint_deleted").wait(EndpointName=predictor.endpoint_name)
    result = {
        "sagemaker_version": sagemaker.__version__,
        "image": fm.training_image_uri(),
        "training_job_status": job["TrainingJobStatus"],
        "records": [
            {
                "features": list(r.features),
                "label": {k: list(v.float32_tensor.values) for k, v in r.label.items()},
            }
            for r in records
        ],
        "json": as_json,
        "jsonlines": as_jsonlines,
        "endpoint_gone": gone(sm.describe_endpoint, EndpointName=predictor.endpoint_name),
        "endpoint_config_gone": gone(
            sm.describe_endpoint_config, EndpointConfigName=predictor.endpoint_name
        ),
        "model_gone": gone(sm.describe_model, ModelName=model_name),
    }
    with open(result_path, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(*sys.argv[1:])
