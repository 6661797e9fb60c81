"""Clients that speak the wire protocol a test chooses. botocore speaks the first protocol of a
service's model that it supports, in its own order (awsJson before RPC v2 CBOR and query), so
boto3 sends CloudWatch awsJson although the model lists RPC v2 CBOR first; a client of another
protocol is made from the model with only that protocol listed, found first on its data path."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import boto3
import botocore.session
from botocore.config import Config


def speaking(service: str, protocol: str, root: Path, **config: Any) -> Any:
    """A client of ``service`` (made from the environment, as the ``client`` fixture's are) that
    speaks ``protocol`` (``smithy-rpc-v2-cbor``, ``query``, ``json``) with botocore's own
    serializer and parser; its model is written under ``root``."""
    doc = botocore.session.get_session().get_component("data_loader")
    published = doc.load_service_model(service, "service-2")  # the loader's, shared: not changed
    metadata = {**published["metadata"], "protocol": protocol, "protocols": [protocol]}
    model = {**published, "metadata": metadata}
    folder = root / service / model["metadata"]["apiVersion"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "service-2.json").write_text(json.dumps(model))
    session = botocore.session.Session()
    search = [str(root), os.environ.get("AWS_DATA_PATH", "")]
    session.set_config_variable("data_path", os.pathsep.join(search))
    made = boto3.Session(botocore_session=session).client(service, config=Config(**config))
    assert made.meta.service_model.resolved_protocol == protocol
    return made
