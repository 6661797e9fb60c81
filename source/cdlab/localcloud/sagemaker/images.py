"""Which container implementation an image URI names.

The built-in Factorization Machines image of every region (the registries sagemaker-core lists,
read from its data file so that importing the SDK does not slow the local cloud's start) maps to
the kit's FM inference container and trainer. Any other image is unknown: the endpoint or training
job that names it fails with a FailureReason, as SageMaker does for an image it cannot pull.
"""

from __future__ import annotations

import functools
import json
import re
from importlib.metadata import distribution

FM_CONTAINER = "cdlab.fm.serve_container"
FM_TRAINER = "cdlab.fm.train_container"
ALGORITHM_CONFIG = "sagemaker/core/image_uri_config/{}.json"
IMAGE_URI = re.compile(
    r"(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.(?P<domain>amazonaws\.com(?:\.cn)?)"
    r"/(?P<repo>[a-z0-9._/-]+?)(?::(?P<tag>[\w.-]+)|@(?P<digest>sha256:[0-9a-f]{64}))?"
)


class UnknownImage(ValueError):
    pass


@functools.cache
def _registries(algorithm: str) -> dict[str, str]:
    path = distribution("sagemaker-core").locate_file(ALGORITHM_CONFIG.format(algorithm))
    versions = json.loads(path.read_text())["versions"]
    return {
        region: account for v in versions.values() for region, account in v["registries"].items()
    }


def fm_image_uri(region: str) -> str:
    """The built-in Factorization Machines image of ``region``: what
    ``sagemaker.core.image_uris.retrieve("factorization-machines", region)`` answers, without
    importing the SDK."""
    account = _registries("factorization-machines").get(region)
    if account is None:
        raise UnknownImage(f"Factorization Machines is not offered in region {region}.")
    domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{account}.dkr.ecr.{region}.{domain}/factorization-machines:1"


def algorithm_of(image: str) -> str | None:
    """The built-in algorithm whose official image ``image`` is, or None."""
    match = IMAGE_URI.fullmatch(image)
    if not match or match["repo"] != "factorization-machines":
        return None
    if _registries("factorization-machines").get(match["region"]) != match["account"]:
        return None
    return "factorization-machines"


def _elsewhere(image: str, region: str) -> re.Match[str] | None:
    """``image``'s parts when it is in the ECR of another region than ``region``."""
    match = IMAGE_URI.fullmatch(image)
    return match if match is not None and match["region"] != region else None


def model_region_refusal(image: str, region: str) -> str | None:
    """CreateModel's refusal of an image in another region's ECR, in SageMaker's words (it pulls
    no image across regions: docs/aws-compatibility.md, "SageMaker control plane"); None for an
    image of ``region`` or one not in ECR."""
    if _elsewhere(image, region) is None:
        return None
    return (
        f'Region of "{image}" does not match expected region of {region}. Cross region ECR '
        "image pulls are not allowed."
    )


def training_region_refusal(image: str, region: str) -> str | None:
    """CreateTrainingJob's refusal of a training image in another region's ECR, in SageMaker's
    words; None for an image of ``region`` or one not in ECR."""
    match = _elsewhere(image, region)
    if match is None:
        return None
    return (
        f"Invalid DNS suffix '{match['domain']}' for region '{match['region']}' in training "
        f"image. Please provide the valid <region>.<dns-suffix>: '{region}.{match['domain']}'"
    )


def _unknown(image: str, does: str) -> UnknownImage:
    return UnknownImage(
        f"The image '{image}' is not available in the local cloud: it {does} the built-in "
        "Factorization Machines images (sagemaker.core.image_uris.retrieve("
        "'factorization-machines', region))."
    )


def inference_module(image: str) -> str:
    """The Python module that serves ``image``, or UnknownImage with a clear reason."""
    if algorithm_of(image) == "factorization-machines":
        return FM_CONTAINER
    raise _unknown(image, "serves")


def training_module(image: str) -> str:
    """The Python module that trains with ``image``, or UnknownImage with a clear reason."""
    if algorithm_of(image) == "factorization-machines":
        return FM_TRAINER
    raise _unknown(image, "trains")
