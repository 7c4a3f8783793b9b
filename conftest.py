"""Notebook checks on nbmake's own run: each notebook is executed once, by nbmake, and that same
execution is read for clean outputs (no stderr, no log noise, an error in every `raises-exception`
cell and nowhere else) and kept, executed, for the book (`python3 tasks.py book`).
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

ROOT = Path(__file__).resolve().parent
EXECUTED = ROOT / "_build" / "book" / "executed"
# Notebooks run here are headless: steps that wait for the learner act by themselves (lab_support/learner.py).
os.environ.setdefault("LAB_HEADLESS", "1")
NOISE = ("WARN", "level=", "temporalio_sdk_core", "Traceback")


class NotebookOutputError(AssertionError):
    """An executed notebook whose outputs break the lab's rules."""


def output_problems(nb: Any) -> list[str]:
    """What is wrong with an executed notebook's outputs (empty list: clean), one line per problem."""
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        tagged = "raises-exception" in cell.metadata.get("tags", [])
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if tagged and not errors:
            problems.append(f"cell {index} is tagged raises-exception but raised nothing")
        if errors and not tagged:
            problems.append(f"cell {index} raised {errors[0].ename} but is not tagged raises-exception")
        for out in cell.outputs:
            if out.output_type == "stream" and out.name == "stderr":
                problems.append(f"cell {index} wrote to stderr: {out.text[:300]!r}")
                continue
            text = out.get("text", "") + str(out.get("data", {}).get("text/plain", ""))
            noise = [word for word in NOISE if word in text]
            if noise:
                problems.append(f"cell {index} output has log noise ({noise[0]}): {text[:300]!r}")
    return problems


def _phases(nb: Any, started: float, ended: float) -> dict[str, float]:
    """Seconds before the first cell ran (kernel start), inside cells, and after the last (kernel stop), read from
    the kernel's own timestamps (nbclient's record_timing)."""
    from datetime import datetime

    stamps = [c.metadata.get("execution", {}) for c in nb.cells if c.cell_type == "code"]
    stamps = [s for s in stamps if "iopub.execute_input" in s and "shell.execute_reply" in s]
    if not stamps:
        return {}
    first = datetime.fromisoformat(stamps[0]["iopub.execute_input"].replace("Z", "+00:00")).timestamp()
    last = datetime.fromisoformat(stamps[-1]["shell.execute_reply"].replace("Z", "+00:00")).timestamp()
    return {"before_cells": round(first - started, 2), "cells": round(last - first, 2), "after_cells": round(ended - last, 2)}


def _keep(path: Path, nb: Any, started: float, passed: bool) -> None:
    import json

    import nbformat

    from lab_support.book import source_digest

    ended = time.time()
    phases = _phases(nb, started, ended)
    nb.metadata["lab_book"] = {"source_sha256": source_digest(path), "seconds": round(ended - started, 2),
                               "passed": passed, "executed_at": ended, **phases}
    EXECUTED.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(EXECUTED / path.name))
    with (EXECUTED.parent / "timings.jsonl").open("a") as log:  # one line per notebook run, across test runs
        log.write(json.dumps({"notebook": path.name, "seconds": round(ended - started, 2), "passed": passed,
                              "executed_at": round(ended), **phases}) + "\n")


def _not_sent(*args: Any, **kwargs: Any) -> None:
    """nbclient's stand-in for an ipywidgets Output widget (notebook 13's `browse`) sends the widget's outputs back to
    the kernel on the shell channel while it waits on that same channel for the cell's reply; sometimes the reply is
    then noticed only when the cell's timeout (120 s) runs out: jupyter/nbclient#312, still open. The kernel never
    reads those outputs back, so they are not sent; the executed notebook keeps them (nbclient's widget_state)."""


def ipc_sockets(km: Any) -> Any:
    """Put a jupyter_client kernel manager on IPC sockets (files in the temp folder) instead of TCP ports; returns it.

    On TCP, jupyter_client picks five free ports and the kernel binds them seconds later, once it has imported
    ipykernel; on a busy machine another process took one in between ("Address already in use": the kernel died
    before replying to kernel_info; seen in a 6-worker run). Files have no such race."""
    km.transport = "ipc"
    km.ip = os.path.join(tempfile.gettempdir(), f"lab-kernel-{uuid.uuid4().hex[:12]}")  # + "-1" ... "-5"
    return km


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """Around nbmake's run of a notebook: keep the executed notebook, then check its outputs."""
    if not getattr(item, "nbmake", False):
        return (yield)
    from nbclient import NotebookClient
    from nbclient.output_widget import OutputWidget
    from nbmake import pytest_items

    runs: list[Any] = []
    original = pytest_items.NotebookRun.execute
    create_kernel_manager = NotebookClient.create_kernel_manager

    def execute(run: Any) -> Any:
        result = original(run)
        runs.append(result)
        return result

    started, passed = time.time(), False
    try:
        with mock.patch.object(pytest_items.NotebookRun, "execute", execute), \
                mock.patch.object(OutputWidget, "_publish_msg", _not_sent), \
                mock.patch.object(NotebookClient, "create_kernel_manager",
                                  lambda client: ipc_sockets(create_kernel_manager(client))):
            outcome = yield
        problems = output_problems(runs[0].nb)
        if problems:
            raise NotebookOutputError(f"{Path(item.path).name}: " + "\n".join(problems))
        passed = True
        return outcome
    finally:
        if runs:
            _keep(Path(item.path), runs[0].nb, started, passed)


def _chunk_sizes(total: int, workers: int) -> list[int]:
    """How pytest-xdist's worksteal scheduler first splits `total` items over `workers` idle workers (contiguous)."""
    sizes, left = [], total
    for i in range(workers):
        sizes.append(left // (workers - i))
        left -= sizes[-1]
    return sizes


NOTEBOOK_SECONDS = 30.0  # a notebook's typical share of a parallel run; a test marked `long(s)` says its own


def _expected(item: pytest.Item) -> float:
    """Seconds an item is expected to take, for dealing: a notebook 30, a `long(seconds)` test its mark, others 0."""
    if getattr(item, "nbmake", False):
        return NOTEBOOK_SECONDS
    mark = item.get_closest_marker("long")
    return float(mark.args[0]) if mark is not None and mark.args else 0.0


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "long(seconds): a test that takes about `seconds`; started early under xdist")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under xdist, deal the long items (notebooks, `long` tests) longest first, each to the worker with the least
    expected time so far, at the head of that worker's first chunk: every worker starts with its share of them,
    instead of one worker getting them all (or the longest last) and finishing minutes after the others.
    Static weights only: every worker must order the items identically."""
    workers = getattr(config, "workerinput", {}).get("workercount") or config.getoption("numprocesses", None)
    if not isinstance(workers, int) or workers < 2:
        return
    long_items = sorted((i for i in items if _expected(i) > 0), key=_expected, reverse=True)  # stable: file order
    loads: list[float] = [0.0] * workers
    heads: list[list[pytest.Item]] = [[] for _ in range(workers)]
    for item in long_items:
        least = loads.index(min(loads))
        heads[least].append(item)
        loads[least] += _expected(item)
    others = iter([i for i in items if _expected(i) == 0])
    ordered: list[pytest.Item] = []
    for worker, size in enumerate(_chunk_sizes(len(items), workers)):
        ordered += heads[worker] + [next(others, None) for _ in range(max(0, size - len(heads[worker])))]
    ordered = [i for i in ordered if i is not None] + list(others)
    items[:] = ordered
