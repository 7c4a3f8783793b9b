"""Lesson 00's picture: which step each process executed, and when, read from the ledger."""

from __future__ import annotations

from typing import Mapping

import pandas as pd
from matplotlib.figure import Figure

from lab_support.plots import LabFigure

from .steps import STEPS


def plot_runs(effects: pd.DataFrame, kills: Mapping[str, float]) -> Figure:
    """One panel per actor: step executed vs seconds since its first step, one colour per OS process."""
    actors = list(kills)
    fig = LabFigure(figsize=(11, 3.8), layout="constrained")
    axes = fig.subplots(1, len(actors) + 1, gridspec_kw={"width_ratios": [3] * len(actors) + [1.3]})
    for ax, actor in zip(axes, actors):
        rows = effects[effects["actor"] == actor]
        t0 = rows["started"].min()
        for i, (pid, group) in enumerate(rows.groupby("pid", sort=False)):
            label = "first process" if i == 0 else "after restart"
            ax.plot(group["finished"] - t0, group["step"], "o-", label=f"{label} (pid {pid})")
        ax.axvline(kills[actor] - t0, color="black", ls="--", lw=1)
        ax.annotate(" SIGKILL", (kills[actor] - t0, len(STEPS) + 0.3), fontsize=8)
        ax.set(title=f"{actor}: {len(rows)} tool calls for {len(STEPS)} steps", xlabel="seconds",
               ylabel="step completed", ylim=(0.5, len(STEPS) + 0.8), yticks=range(1, len(STEPS) + 1))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    counts = effects.groupby("actor").size().reindex(actors)
    axes[-1].bar(counts.index, counts.values, color=["#de2d26", "#31a354"][: len(actors)])
    axes[-1].axhline(len(STEPS), color="black", ls=":", lw=1)
    axes[-1].set(title="side effects", ylabel="tool calls executed")
    fig.suptitle("The same 8-step agent, SIGKILLed after step 4 and restarted")
    return fig
