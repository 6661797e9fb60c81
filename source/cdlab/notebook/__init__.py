"""Small helpers the notebooks share: data and models on demand, traffic, plots, cleanup.

Everything goes through boto3 from the environment that ``cdlab.target.ready`` set, so a notebook
that uses these helpers runs unchanged on the local cloud and on AWS. Names are the notebooks' own:
every resource a notebook creates has a name that contains its prefix (``cdlab-nb03`` ...), which
is how ``clean`` finds the leftovers of an earlier run, and how the cleanup notebook finds them all.

Notebooks call them as ``notebook.X`` after ``from cdlab import notebook``; each lives in a module
of its own job: ``workspace`` (names and places), ``models`` (channels and models on demand),
``traffic`` (requests to an endpoint), ``metrics`` (a variant's CloudWatch series), ``logs`` (a
log stream's lines, every page of them), ``plots``,
``watching`` (an endpoint as it changes), ``clock`` (waits and timeouts in the target's time,
sized for AWS), ``canary`` (a match-rate probe whose metric an alarm watches), ``cleanup``,
``billing`` (what could still cost money), ``lab_pipeline`` (Lab 3's commits and the pipeline's
executions followed) and ``pipeline_view`` (Lab 3's deployed stages and buildspecs).
"""

from __future__ import annotations

from cdlab.notebook import clock
from cdlab.notebook.billing import billable
from cdlab.notebook.canary import (
    PROBE_METRIC,
    PROBE_NAMESPACE,
    MatchRateProbe,
    plot_match_rate,
)
from cdlab.notebook.cleanup import (
    ENDPOINT_LOGS,
    Leftover,
    clean,
    lab_log_groups,
    leftovers,
    log_groups,
)
from cdlab.notebook.lab_pipeline import (
    PipelineRun,
    commit,
    first_runs,
    follow,
    lab_checkout,
    stack_outputs,
)
from cdlab.notebook.logs import log_lines
from cdlab.notebook.metrics import INSTANCES, variant_metric
from cdlab.notebook.models import (
    GLUE_DATABASE,
    RESULT_KEY,
    TRAINING_PREFIX,
    channels,
    trained_model,
)
from cdlab.notebook.pipeline_view import buildspec, stages
from cdlab.notebook.plots import (
    label_models,
    plot_learning_curve,
    plot_over_time,
    plot_panels,
    plot_scaling,
)
from cdlab.notebook.traffic import (
    Answer,
    Traffic,
    dense_request,
    held_out_request,
    predict,
)
from cdlab.notebook.watching import watch_endpoint
from cdlab.notebook.workspace import (
    PREFIX,
    default_bucket,
    default_role,
    ensure_bucket,
    repository,
    workdir,
)
from cdlab.steps.training import channel  # notebooks show the request with it
from cdlab.target import region  # the session's, which the notebooks' clients call

time_scale = clock.scale  # the notebooks' name for it

__all__ = [
    "ENDPOINT_LOGS",
    "GLUE_DATABASE",
    "INSTANCES",
    "PREFIX",
    "PROBE_METRIC",
    "PROBE_NAMESPACE",
    "RESULT_KEY",
    "TRAINING_PREFIX",
    "Answer",
    "Leftover",
    "MatchRateProbe",
    "PipelineRun",
    "Traffic",
    "billable",
    "buildspec",
    "channel",
    "channels",
    "clean",
    "clock",
    "commit",
    "default_bucket",
    "default_role",
    "dense_request",
    "ensure_bucket",
    "first_runs",
    "follow",
    "held_out_request",
    "lab_checkout",
    "lab_log_groups",
    "label_models",
    "leftovers",
    "log_groups",
    "log_lines",
    "plot_learning_curve",
    "plot_match_rate",
    "plot_over_time",
    "plot_panels",
    "plot_scaling",
    "predict",
    "region",
    "repository",
    "stack_outputs",
    "stages",
    "time_scale",
    "trained_model",
    "variant_metric",
    "watch_endpoint",
    "workdir",
]
