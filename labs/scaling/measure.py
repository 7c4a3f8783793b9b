"""Lesson 10's measurements, read from real histories: throughput and schedule-to-start latency."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pandas as pd
from temporalio.client import Client

from lab_support.history import fetch_history, to_frame
from lab_support.workers import wait_result

from .workflows import AgentBurst, Burst


async def run_burst(client: Client, agent_queue: str, burst: Burst) -> tuple[pd.DataFrame, float]:
    """Run one AgentBurst; return one row per activity (name, queued seconds, run seconds) and wall time."""
    started = time.monotonic()
    handle = await client.start_workflow(AgentBurst.run, burst, id=f"burst-{uuid.uuid4().hex[:6]}", task_queue=agent_queue)
    await wait_result(handle, timeout=120)
    wall = time.monotonic() - started
    events = to_frame(await fetch_history(handle))
    acts = events[events["category"] == "activity"].pivot_table(index="lane", columns="type", values="t", aggfunc="first")
    rows = pd.DataFrame({
        "kind": [lane.split(" #")[0] for lane in acts.index],
        "queued_s": acts["ActivityTaskStarted"] - acts["ActivityTaskScheduled"],
        "run_s": acts["ActivityTaskCompleted"] - acts["ActivityTaskStarted"],
    }).reset_index(drop=True)
    return rows, wall


def summary(rows: pd.DataFrame, wall: float, **labels: Any) -> dict[str, Any]:
    """Throughput and schedule-to-start percentiles for one run."""
    llm = rows[rows["kind"] == "call_llm"]
    tools = rows[rows["kind"] == "run_tool"]
    out = dict(labels)
    out.update({
        "model calls/s": round(len(llm) / wall, 1),
        "model queued p50 (s)": round(float(llm["queued_s"].median()), 2) if len(llm) else None,
        "model queued p95 (s)": round(float(llm["queued_s"].quantile(0.95)), 2) if len(llm) else None,
        "tool queued p95 (s)": round(float(tools["queued_s"].quantile(0.95)), 2) if len(tools) else None,
        "wall (s)": round(wall, 2),
    })
    return out


def schedule_to_start_from_metrics(metrics_text: str) -> pd.DataFrame:
    """Cumulative histogram buckets of `temporal_activity_schedule_to_start_latency` from Prometheus text."""
    rows = []
    for line in metrics_text.splitlines():
        if line.startswith("temporal_activity_schedule_to_start_latency") and "_bucket{" in line:
            le = line.split('le="', 1)[1].split('"', 1)[0]
            rows.append({"le": float("inf") if le == "+Inf" else float(le), "count": float(line.rsplit(" ", 1)[1])})
    df = pd.DataFrame(rows, columns=["le", "count"])
    return df.groupby("le", as_index=False)["count"].sum() if len(df) else df
