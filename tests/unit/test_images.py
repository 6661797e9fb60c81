"""Image URIs: the built-in FM image of every region is served; nothing else is."""

from __future__ import annotations

import pytest

from cdlab.localcloud.sagemaker import images


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "ap-southeast-2", "cn-north-1"])
def test_fm_image_uri_is_what_sagemaker_core_retrieves(region: str) -> None:
    from sagemaker.core import image_uris

    expected = image_uris.retrieve("factorization-machines", region)
    assert images.fm_image_uri(region) == expected
    assert images.inference_module(expected) == images.FM_CONTAINER


@pytest.mark.parametrize(
    "image",
    [
        "123.dkr.ecr.amazonaws.com/algo",
        "111111111111.dkr.ecr.us-east-1.amazonaws.com/factorization-machines:1",
        "382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1",
    ],
)
def test_other_images_are_unknown_with_a_clear_reason(image: str) -> None:
    assert images.algorithm_of(image) is None
    with pytest.raises(images.UnknownImage, match="not available in the local cloud"):
        images.inference_module(image)


@pytest.mark.parametrize("suffix", [":1", "@sha256:" + "0" * 64, ""])
def test_an_image_of_another_region_is_refused_tagged_pinned_or_bare(suffix: str) -> None:
    image = f"174872318107.dkr.ecr.us-west-2.amazonaws.com/factorization-machines{suffix}"
    assert images.model_region_refusal(image, "us-west-2") is None
    assert images.model_region_refusal(image, "us-east-1") == (
        f'Region of "{image}" does not match expected region of us-east-1. Cross region ECR '
        "image pulls are not allowed."
    )
    assert images.training_region_refusal(image, "us-east-1") == (
        "Invalid DNS suffix 'amazonaws.com' for region 'us-west-2' in training image. Please "
        "provide the valid <region>.<dns-suffix>: 'us-east-1.amazonaws.com'"
    )
    assert images.model_region_refusal("my-registry.example/fm:1", "us-east-1") is None
