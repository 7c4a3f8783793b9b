"""Traces of the operated agent: a span file per worker process, replay-safe vs naive spans, a waterfall.

A worker started with `trace_dir=...` installs an OpenTelemetry tracer provider whose exporter appends
each finished span, as one JSON line, to `<trace_dir>/spans-<pid>.jsonl` at once (SimpleSpanProcessor),
so the spans of a worker that is SIGKILLed later are already on disk. Nothing leaves the machine.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import pandas as pd
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry import trace  # imported here, outside the workflow sandbox (this module is passed through)
from temporalio import workflow


class JsonLinesExporter:
    """An OpenTelemetry SpanExporter writing one JSON object per span to a file (flushed per span)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Opened now: spans from workflow code are exported inside the sandbox, where `open` is not allowed.
        self.file = open(self.path, "a", buffering=1)
        self.pid = os.getpid()

    def export(self, spans: Sequence[Any]) -> Any:
        for s in spans:
            self.file.write(json.dumps({
                "name": s.name, "trace_id": f"{s.context.trace_id:032x}", "span_id": f"{s.context.span_id:016x}",
                "parent_id": f"{s.parent.span_id:016x}" if s.parent else None, "start": s.start_time / 1e9,
                "end": (s.end_time or s.start_time) / 1e9, "pid": self.pid,
                "attributes": {k: str(v) for k, v in (s.attributes or {}).items()}}) + "\n")
        self.file.flush()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.file.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def tracer_provider(path: str | Path) -> Any:
    """A TracerProvider exporting every span to `path` as soon as it ends."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesExporter(path)))  # type: ignore[arg-type]
    return provider


def install(trace_dir: str | Path) -> Any:
    """Make this process's global tracer provider write to `<trace_dir>/spans-<pid>.jsonl`; returns it."""
    provider = tracer_provider(Path(trace_dir) / f"spans-{os.getpid()}.jsonl")
    trace.set_tracer_provider(provider)
    return provider


@contextmanager
def naive_span(name: str, enabled: bool) -> Iterator[None]:
    """A span opened straight from workflow code: it is emitted again every time the workflow replays."""
    if not enabled:
        yield
        return
    with workflow.unsafe.sandbox_unrestricted():
        span = trace.get_tracer("naive").start_span(f"naive {name}")
    try:
        yield
    finally:
        with workflow.unsafe.sandbox_unrestricted():
            span.end()


def read_spans(trace_dir: str | Path) -> pd.DataFrame:
    """Every span written under `trace_dir` (all worker processes), oldest first."""
    rows = [json.loads(line) for f in sorted(Path(trace_dir).glob("spans-*.jsonl")) for line in f.read_text().splitlines()]
    df = pd.DataFrame(rows, columns=["name", "trace_id", "span_id", "parent_id", "start", "end", "pid", "attributes"])
    return df.sort_values("start", kind="stable").reset_index(drop=True)


def waterfall(spans: pd.DataFrame, title: str = "trace", marks: dict[str, float] | None = None) -> Any:
    """A waterfall picture: one bar per span (start → end), in start order, coloured by process; `marks`: label -> epoch s."""
    from lab_support.plots import LabFigure

    t0 = spans["start"].min()
    fig = LabFigure(figsize=(11, 1 + 0.22 * len(spans)), layout="constrained")
    ax = fig.add_subplot()
    colors = {pid: c for pid, c in zip(spans["pid"].unique(), ["#3182bd", "#e6550d", "#31a354", "#756bb1"] * 4)}
    for i, row in enumerate(spans.itertuples(index=False)):
        width = max(row.end - row.start, (spans["end"].max() - t0) / 400)
        ax.broken_barh([(row.start - t0, width)], (i - 0.4, 0.8), facecolors=colors[row.pid])
    for label, when in (marks or {}).items():
        ax.axvline(when - t0, color="black", ls="--", lw=1)
        ax.annotate(f" {label}", (when - t0, len(spans) - 1), fontsize=8, va="center")
    ax.set_yticks(range(len(spans)), list(spans["name"]), fontsize=7)
    ax.set_ylim(len(spans) - 0.4, -0.6)
    ax.set_xlabel("seconds since the first span")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title + " (colour = worker process)")
    return fig


def traced_client(client: Any, trace_dir: str | Path) -> Any:
    """The same connection with a TracingInterceptor: starting a workflow opens the trace (spans to this process's file)."""
    from temporalio.client import Client
    from temporalio.contrib.opentelemetry import TracingInterceptor

    tracer = tracer_provider(Path(trace_dir) / f"spans-{os.getpid()}.jsonl").get_tracer("temporal")
    return Client(client.service_client, namespace=client.namespace, data_converter=client.data_converter,
                  interceptors=[TracingInterceptor(tracer)])
