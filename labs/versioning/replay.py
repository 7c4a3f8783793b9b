"""Which code replays which history: the replay-test matrix of lesson 08."""

from __future__ import annotations

import importlib
from typing import Iterable

import pandas as pd
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

GENERATIONS = ["v1", "v2", "v3", "v4", "v2_unpatched"]


def workflow_of(generation: str) -> type:
    """The ResearchPipeline class of one generation."""
    return importlib.import_module(f"labs.versioning.{generation}").ResearchPipeline


async def replays(generation: str, history: WorkflowHistory) -> str:
    """'ok' if `generation`'s code replays `history`, else the error code (TMPRL1100 = non-determinism)."""
    result = await Replayer(workflows=[workflow_of(generation)]).replay_workflow(history, raise_on_replay_failure=False)
    if result.replay_failure is None:
        return "ok"
    text = str(result.replay_failure)
    return "TMPRL1100" if "TMPRL1100" in text or "Nondeterminism" in text else type(result.replay_failure).__name__


async def matrix(histories: dict[str, WorkflowHistory], generations: Iterable[str] = GENERATIONS) -> pd.DataFrame:
    """Rows: code generations; columns: histories recorded by each generation."""
    rows = {g: {h: await replays(g, hist) for h, hist in histories.items()} for g in generations}
    return pd.DataFrame(rows).T.rename_axis(index="code", columns="history from")
