"""How fast the cloud's time passes, as the cloud itself says.

The local cloud's health check (``/_cdlab/health`` on ``AWS_ENDPOINT_URL``) reports the
``CDLAB_TIME_SCALE`` it was started with; AWS has no such endpoint and its time is real time. So
code that sizes its polls in the cloud's time asks here, and never which target it runs on.
"""

from __future__ import annotations

import contextlib
import json
import os
import urllib.request

from cdlab import config


def time_scale() -> float:
    """How many times faster than real time the cloud's time passes: 1 where clients go to AWS's
    own endpoints; the local cloud's scale from its health check, else this process's own
    (``make lab`` sets both the same)."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        return 1.0
    with (
        contextlib.suppress(OSError, ValueError, KeyError),
        urllib.request.urlopen(f"{endpoint}/_cdlab/health", timeout=2) as response,
    ):
        return float(json.load(response)["time_scale"])
    return config.time_scale()
