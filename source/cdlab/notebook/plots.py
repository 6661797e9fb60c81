"""Plots of answers over time: which model gave each answer, and answers per model or variant
in time bins."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure


def label_models(answers: pd.DataFrame, scores: dict[str, float]) -> pd.Series:
    """Which model gave each answer, by the score it gave the request (nearest known score);
    failed requests are labelled ``failed``."""
    names, known = list(scores), pd.Series(scores)

    def nearest(score: float | None) -> str:
        if score is None or pd.isna(score):
            return "failed"
        return names[int((known - score).abs().argmin())]

    return answers["score"].map(nearest)


def plot_over_time(
    answers: pd.DataFrame,
    by: pd.Series,
    title: str,
    events: dict[str, float] | None = None,
    bin_seconds: float = 0.5,
    share: bool = False,
) -> Figure:
    """Answers per group (model or variant) in time bins, stacked: counts, or shares when
    ``share``; vertical lines mark ``events`` (name -> seconds)."""
    bins = (answers["time"] // bin_seconds) * bin_seconds
    table = pd.crosstab(bins, by).sort_index()
    if share:
        table = table.div(table.sum(axis=1), axis=0)
    palette = iter(plt.rcParams["axes.prop_cycle"].by_key()["color"])
    colors = ["tab:red" if str(c).startswith("failed") else next(palette) for c in table.columns]
    fig, ax = plt.subplots(figsize=(9, 3.5))
    ax.stackplot(
        table.index, table.T.values, labels=table.columns, colors=colors, step="post", alpha=0.85
    )
    for name, at in (events or {}).items():
        ax.axvline(at, color="black", linestyle="--", linewidth=1)
        ax.annotate(name, (at, 1.0), xycoords=("data", "axes fraction"), rotation=90,
                    va="top", ha="right", fontsize=8)  # fmt: skip
    ax.set_xlabel("seconds")
    ax.set_ylabel("share of answers" if share else f"answers per {bin_seconds:g} s")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig
