"""The notebooks' shared helpers that need no cloud: labelling answers and plotting them."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.colors
import pandas as pd
from matplotlib.collections import PolyCollection

from cdlab import notebook
from cdlab.notebook.workspace import role_arn


def answers() -> pd.DataFrame:
    return pd.DataFrame(
        [
            notebook.Answer(0.1, "AllTraffic", 0.2, None),
            notebook.Answer(0.6, "AllTraffic", 0.2001, None),
            notebook.Answer(1.1, "", None, "ModelError: boom"),
            notebook.Answer(1.6, "AllTraffic", 0.9, None),
        ]
    )


def test_answers_are_labelled_by_the_nearest_known_score():
    labels = notebook.label_models(answers(), {"model1": 0.2, "model2": 0.9})
    assert labels.tolist() == ["model1", "model1", "failed", "model2"]


def test_plot_stacks_one_area_per_group_and_failures_are_red():
    frame = answers()
    labels = notebook.label_models(frame, {"model1": 0.2, "model2": 0.9})
    fig = notebook.plot_over_time(frame, labels, "title", {"update": 1.0}, bin_seconds=0.5)
    ax = fig.axes[0]
    areas = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["failed", "model1", "model2"]
    assert matplotlib.colors.same_color(areas[0].get_facecolor()[0][:3], "tab:red")
    assert ax.get_title() == "title"


def test_shares_add_up_to_one_in_every_bin():
    frame = answers()
    fig = notebook.plot_over_time(frame, frame["variant"], "t", share=True, bin_seconds=1.0)
    ax = fig.axes[0]
    tops = [
        c.get_paths()[0].vertices[:, 1].max()
        for c in ax.collections
        if isinstance(c, PolyCollection)
    ]
    assert ax.get_ylabel() == "share of answers" and max(tops) == 1.0


def test_scaling_plot_puts_time_in_cloudwatch_minutes():
    """At time scale 60 a CloudWatch minute lasts a second: 30 real seconds are 30 minutes."""
    metric = pd.Series({0.0: 100.0, 10.0: 900.0, 20.0: 300.0}, name="InvocationsPerInstance")
    counts = pd.DataFrame({"time": [0.0, 12.0, 30.0], "instances": [1, 3, 1]})
    fig = notebook.plot_scaling(metric, 500, counts, 1.0, "title", {"load stops": 20.0})
    ax, right = fig.axes
    assert ax.get_xlabel() == "minutes (CloudWatch time)"
    [step] = right.get_lines()
    assert list(step.get_xdata()) == [0.0, 12.0, 30.0] and right.get_ylim() == (0, 4)
    slow = notebook.plot_scaling(metric, 500, counts, 60.0, "title")  # AWS: a minute is a minute
    assert list(slow.axes[1].get_lines()[0].get_xdata()) == [0.0, 0.2, 0.5]


def test_panels_one_per_column_asked_for():
    table = pd.DataFrame({"a": [1, 2], "b": [3, 4], "c": [5, 6]}, index=[0.0, 1.0])
    fig = notebook.plot_panels(table, {"a": "A per minute", "c": "C per minute"})
    assert [ax.get_title() for ax in fig.axes] == ["A per minute", "C per minute"]
    assert {ax.get_xlabel() for ax in fig.axes} == {"minutes (CloudWatch time)"}


def test_learning_curve_marks_the_held_out_accuracy_and_the_ceiling():
    curve = pd.DataFrame({"epoch": [1, 2, 3], "train accuracy": [0.7, 0.8, 0.9]})
    fig = notebook.plot_learning_curve(curve, 0.85, 0.88, "title")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["train accuracy", "held-out accuracy 0.850", "ceiling 0.880 (held-out data)"]


def test_the_default_role_is_the_notebooks_role_in_the_callers_account_and_partition():
    """From GetCallerIdentity's answer: its account, and the partition of its ARN (an assumed
    role's session in AWS China is ``arn:aws-cn:sts::...``)."""
    user = {"Account": "111122223333", "Arn": "arn:aws:iam::111122223333:user/participant"}
    session = {"Account": "444455556666", "Arn": "arn:aws-cn:sts::444455556666:assumed-role/r/s"}
    assert role_arn(user) == "arn:aws:iam::111122223333:role/cdlab-notebooks"
    assert role_arn(session) == "arn:aws-cn:iam::444455556666:role/cdlab-notebooks"
