"""Small helpers the notebooks share: data and models on demand, traffic, plots, cleanup.

Everything goes through boto3 from the environment that ``cdlab.target.ready`` set, so a notebook
that uses these helpers runs unchanged on the local cloud and on AWS. Names are the notebooks' own:
every resource a notebook creates has a name that contains its prefix (``cdlab-nb03`` ...), which
is how ``clean`` finds the leftovers of an earlier run, and how the cleanup notebook finds them all.

Notebooks call them as ``notebook.X`` after ``from cdlab import notebook``; each lives in a module
of its own job: ``workspace`` (names and places), ``models`` (channels and models on demand),
``traffic`` (requests to an endpoint), ``plots``, ``watching`` (an endpoint as it changes),
``cleanup``, ``lab_pipeline`` (Lab 3's commits and pipeline runs; ``lab_aws`` on AWS) and
``pipeline_view`` (Lab 3's stages and buildspecs).
"""

from __future__ import annotations

from cdlab.notebook.cleanup import ENDPOINT_LOGS, Leftover, clean, leftovers, log_groups
from cdlab.notebook.lab_pipeline import (
    MATCH_RATE,
    PIPELINE_DONE,
    PipelineRun,
    approve,
    commit,
    lab_checkout,
    run_pipeline,
)
from cdlab.notebook.models import (
    GLUE_DATABASE,
    RESULT_KEY,
    TRAINING_PREFIX,
    channels,
    corrupted_copy,
    trained_model,
)
from cdlab.notebook.pipeline_view import buildspec, stages
from cdlab.notebook.plots import label_models, plot_over_time
from cdlab.notebook.traffic import (
    TRAFFIC_LIMIT_SECONDS,
    Answer,
    Traffic,
    held_out_request,
    predict,
)
from cdlab.notebook.watching import time_scale, watch_endpoint
from cdlab.notebook.workspace import PREFIX, ensure_bucket, repository, workdir
from cdlab.steps.training import channel  # notebooks show the request with it

__all__ = [
    "ENDPOINT_LOGS",
    "GLUE_DATABASE",
    "MATCH_RATE",
    "PIPELINE_DONE",
    "PREFIX",
    "RESULT_KEY",
    "TRAFFIC_LIMIT_SECONDS",
    "TRAINING_PREFIX",
    "Answer",
    "Leftover",
    "PipelineRun",
    "Traffic",
    "approve",
    "buildspec",
    "channel",
    "channels",
    "clean",
    "commit",
    "corrupted_copy",
    "ensure_bucket",
    "held_out_request",
    "lab_checkout",
    "label_models",
    "leftovers",
    "log_groups",
    "plot_over_time",
    "predict",
    "repository",
    "run_pipeline",
    "stages",
    "time_scale",
    "trained_model",
    "watch_endpoint",
    "workdir",
]
