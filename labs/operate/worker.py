"""Worker for lesson 13. Run: python -m labs.operate.worker (LAB_* variables, see lab_support.workers)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from .activities import OperateActivities
from .workflows import OperateAgent


def worker_options(ledger: str, model_url: str | None, model_name: str, model_offline: bool,
                   tool_version: str = "v1", tool_seconds: float = 0.0, trace_dir: str | None = None) -> dict[str, Any]:
    """Workflows, activities and options; `tool_version` picks the tool's code, `trace_dir` turns tracing on."""
    acts = OperateActivities(model_url, model_name, model_offline, ledger, tool_version, tool_seconds)
    options: dict[str, Any] = {
        "workflows": [OperateAgent],
        "activities": [acts.call_model, acts.price],
        "sticky_queue_schedule_to_start_timeout": timedelta(seconds=1),  # a killed worker's runs move on fast
    }
    if trace_dir:
        from temporalio.contrib.opentelemetry import TracingInterceptor

        from .tracing import install

        options["interceptors"] = [TracingInterceptor(install(trace_dir).get_tracer("temporal"))]
    return options


if __name__ == "__main__":
    from lab_support.workers import main

    main(worker_options)
