"""The notebooks' shared helpers that need no cloud: labelling answers and plotting them."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.colors
import pandas as pd
from matplotlib.collections import PolyCollection

from cdlab import notebook


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
