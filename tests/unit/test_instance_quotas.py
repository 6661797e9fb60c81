"""``CDLAB_SAGEMAKER_QUOTAS`` as the local cloud reads it at its start: Service Quotas' names,
each with its limit; anything else is said wrong at once, not ignored."""

from __future__ import annotations

import pytest

from cdlab.config import ConfigError
from cdlab.localcloud.sagemaker.quotas import parse


def test_quota_names_and_limits_are_read_whitespace_and_empty_entries_aside() -> None:
    setting = (
        " ml.m5.large  for endpoint usage = 4 ,ml.t2.medium for endpoint usage=0,,"
        "ml.c5.xlarge for training job usage=1, ml.c5.xlarge for spot training job usage=2"
    )
    assert parse(setting) == {
        "ml.m5.large for endpoint usage": 4,
        "ml.t2.medium for endpoint usage": 0,
        "ml.c5.xlarge for training job usage": 1,
        "ml.c5.xlarge for spot training job usage": 2,
    }
    assert parse("") == {}


@pytest.mark.parametrize(
    ("setting", "said"),
    [
        ("ml.m5.large for endpoints=4", "'ml.m5.large for endpoints=4' names no quota"),
        ("m5.large for endpoint usage=4", "'m5.large for endpoint usage=4' names no quota"),
        ("ml.m5.large for endpoint usage", "names no quota"),
        ("ml.m5.large for endpoint usage=four", "the limit must be a number of instances"),
        ("ml.m5.large for endpoint usage=-1", "the limit must be a number of instances"),
        # str.isdigit() holds for these, and int() refuses the first, reads the second as 3
        (
            "ml.m5.large for endpoint usage=\u00b2",
            "'ml.m5.large for endpoint usage=\u00b2': the limit",
        ),
        ("ml.m5.large for endpoint usage=\u0663", "the limit must be a number of instances"),
        (
            "ml.m5.large for endpoint usage=4, ml.m5.large  for endpoint usage=2",
            "'ml.m5.large  for endpoint usage=2': the quota 'ml.m5.large for endpoint usage' is "
            "named twice",
        ),
    ],
)
def test_a_setting_the_cloud_would_not_enforce_is_refused(setting: str, said: str) -> None:
    with pytest.raises(ConfigError, match="CDLAB_SAGEMAKER_QUOTAS") as info:
        parse(setting)
    assert said in str(info.value)
