"""Plots for the notebooks: which model gave each answer, answers per model or variant in time
bins, a scaling story (a tracked metric, its target and the instance count), and side-by-side
metric panels. Per-minute metrics are plotted over the cloud's minutes, whatever its time scale."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

MINUTES = "minutes (CloudWatch time)"


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


def plot_scaling(
    metric: pd.Series,
    target: float,
    counts: pd.DataFrame,
    minute: float,
    title: str,
    events: dict[str, float] | None = None,
) -> Figure:
    """A tracked metric (indexed by the cloud's minutes) against its target, and the instance
    count over time (``counts``: ``time`` in real seconds, ``instances``), on twin axes; vertical
    lines mark ``events`` (name -> real seconds). The x-axis is in the cloud's minutes."""
    fig, ax = plt.subplots(figsize=(11, 3.8))
    ax.plot(metric.index, metric.values, "o-", color="tab:blue", label=f"{metric.name} per minute")
    ax.axhline(target, color="tab:blue", linestyle=":", label=f"target {target:g}")
    ax.set(xlabel=MINUTES, ylabel=str(metric.name))
    right = ax.twinx()
    right.step(counts["time"] / minute, counts["instances"], where="post", color="tab:red",
               label="instances")  # fmt: skip
    right.set(ylabel="instances", ylim=(0, counts["instances"].max() + 1))
    for name, at in (events or {}).items():
        ax.axvline(at / minute, color="black", linestyle="--", linewidth=1)
        ax.annotate(name, (at / minute, 0.95), xycoords=("data", "axes fraction"), ha="right",
                    fontsize=8)  # fmt: skip
    handles = [*ax.get_legend_handles_labels()[0], *right.get_legend_handles_labels()[0]]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.1, 1.0))
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_panels(table: pd.DataFrame, titles: dict[str, str]) -> Figure:
    """One small plot per column of ``table`` (indexed by the cloud's minutes), side by side,
    titled by ``titles`` (column -> title)."""
    fig, axes = plt.subplots(1, len(titles), figsize=(4 * len(titles), 3.2), sharex=True)
    for ax, (column, title) in zip(axes, titles.items(), strict=True):
        table[column].plot(ax=ax, marker="o", title=title)
        ax.set(xlabel=MINUTES, ylim=(0, None))
    fig.tight_layout()
    return fig


def plot_learning_curve(
    curve: pd.DataFrame, held_out: float, ceiling: float | None, title: str
) -> Figure:
    """Training accuracy per epoch (``curve``: ``epoch``, ``train accuracy``), the held-out
    accuracy at the last epoch as a star, and the data's ceiling when it is known."""
    ax = curve.plot(x="epoch", y="train accuracy", marker="o", figsize=(7, 3.5))
    ax.plot(curve["epoch"].iloc[-1], held_out, "r*", markersize=14,
            label=f"held-out accuracy {held_out:.3f}")  # fmt: skip
    if ceiling:
        ax.axhline(ceiling, color="tab:green", linestyle="--",
                   label=f"ceiling {ceiling:.3f} (held-out data)")  # fmt: skip
    ax.legend()
    ax.set(ylabel="accuracy", title=title)
    return ax.figure
