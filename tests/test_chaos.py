"""The chaos panel, driven through the Python API its buttons call (and through the buttons themselves)."""

from __future__ import annotations

import os
import signal
import time
import uuid

import pytest

from lab_support import Ledger, SubprocessWorker
from lab_support.chaos import ChaosPanel
from lab_support.server import LabError, ServerProcess
from lab_support.workers import wait_running
from labs.why_durable.steps import STEPS, perform
from labs.why_durable.workflows import ResearchAgent, ResearchRequest


async def test_kill_button_sigkills_the_worker_and_the_run_still_completes_once(lab) -> None:
    ledger = Ledger.new("test-chaos")
    worker = SubprocessWorker(lab, "labs.why_durable.worker", ledger=str(ledger.path)).start()
    try:
        handle = await lab.client.start_workflow(
            ResearchAgent.run, ResearchRequest("chaos"), id=f"chaos-{uuid.uuid4().hex[:6]}",
            task_queue=worker.task_queue)
        panel = ChaosPanel(handle, worker=worker, ledger=ledger)
        await wait_running(handle, nth=3)
        old, pid = worker.proc, worker.pid
        panel.buttons["Kill worker"].click()  # what the learner's click does
        await panel.actions[-1]
        assert old.returncode == -signal.SIGKILL, "the worker died of SIGKILL"
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # the old process is gone
        panel.buttons["Restart worker"].click()
        await panel.actions[-1]
        assert worker.alive and worker.pid != pid and not panel.errors
        report = await panel.wait()
        assert len(report.notes) == len(STEPS)
        durable = ledger.frame("durable")
        assert sorted(durable["step"]) == list(range(1, len(STEPS) + 1)), "each side effect once"
        assert panel.status == "completed" and "completed" in panel._status.value
        assert "0</b> duplicates" in panel._ledger.value and f"<b>{len(STEPS)}</b> side effects" in panel._ledger.value
        assert [label for _, label in panel.faults] == [f"worker SIGKILL (pid {pid})", "worker restarted"]
        assert len(panel.redraws) >= 2 and bytes(panel._image.value[:4]) == b"\x89PNG"
        assert panel._loop_task is not None and panel._loop_task.done(), "no redraws after the workflow closed"
    finally:
        worker.stop()


async def test_a_button_error_shows_in_the_panel(lab, tmp_path) -> None:
    never_started = SubprocessWorker(lab, "labs.why_durable.worker", ledger="unused.db")
    server = ServerProcess(tmp_path / "never-started.db")
    panel = ChaosPanel(lab.client.get_workflow_handle(f"no-such-{uuid.uuid4().hex[:6]}"), worker=never_started,
                       server=server)
    try:
        panel.buttons["Kill worker"].click()
        await panel.actions[-1]
        assert "Kill worker failed" in panel.errors[-1] and "not running" in panel.errors[-1]
        assert "not running" in panel._error.value
        panel.buttons["Kill server"].click()
        await panel.actions[-1]
        assert "Kill server failed" in panel.errors[-1] and "not running" in panel._error.value
        assert panel.buttons["429 storm"].disabled and not panel.buttons["Kill server"].disabled
        panel.press("429 storm")  # the Python API behind a disabled button still explains itself
        await panel.actions[-1]
        assert "local model" in panel.errors[-1]
        with pytest.raises(LabError, match="inject"):
            panel.inject("boom")
        assert panel.faults == [], "nothing that failed is marked as a fault"
    finally:
        panel.stop()


async def test_without_a_widget_frontend_it_says_so_in_one_line(lab) -> None:
    from IPython.core.formatters import DisplayFormatter

    panel = ChaosPanel(lab.client.get_workflow_handle("some-run"))
    try:
        data, _ = DisplayFormatter().format(panel)
        text = data["text/plain"]
        assert "\n" not in text and "JupyterLab" in text and "ipywidgets" in text
        assert "panel.kill_worker()" in text and "await panel.wait()" in text
        assert "application/vnd.jupyter.widget-view+json" in data  # a widget frontend draws the panel instead
    finally:
        panel.stop()


async def test_the_model_buttons_arm_real_faults_in_the_local_model(lab) -> None:
    import httpx

    from lab_support.llm import start_model

    model = start_model(fake=True)
    panel = ChaosPanel(lab.client.get_workflow_handle("some-run"), model=model)
    try:
        panel.buttons["500 burst"].click()
        await panel.actions[-1]
        panel.inject("429", times=1, retry_after=0.25)
        async with httpx.AsyncClient() as http:
            for _ in range(5):
                await http.post(f"{model.base_url}/chat/completions", json={
                    "model": model.name, "messages": [{"role": "user", "content": "hi"}]})
        assert list(model.requests()["status"]) == [500, 500, 500, 429, 200]
        assert [label for _, label in panel.faults] == ["500 burst x3 armed", "429 storm x1 armed"]
    finally:
        panel.stop()
        model.stop()


async def test_lesson_00s_worker_runs_each_step_at_the_chosen_pace(tmp_path) -> None:
    from labs.why_durable.worker import worker_options

    tools = worker_options(str(tmp_path / "l.db"), step_seconds=0.7)["activities"][0].__self__
    assert tools.step_seconds == 0.7
    started = time.monotonic()
    await perform(1, str(tmp_path / "l.db"), actor="t", seconds=0.7)
    assert time.monotonic() - started >= 0.7
    assert Ledger(tmp_path / "l.db").count("t") == 1


async def test_an_unchanged_history_is_drawn_again_only_live_to_grow_the_bars(lab) -> None:
    import asyncio

    handle = await lab.client.start_workflow(  # no worker polls this queue: the history stays as it is
        ResearchAgent.run, ResearchRequest("still"), id=f"still-{uuid.uuid4().hex[:6]}", task_queue="nobody")
    headless_panel, live_panel = ChaosPanel(handle, refresh=0.1), ChaosPanel(handle, refresh=0.1)
    live_panel.grow_every = 0.4  # what a live panel does every 2 s
    try:
        assert headless_panel.grow_every is None, "the test command runs headless"
        deadline = time.monotonic() + 20
        while live_panel.pictures < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert live_panel.pictures >= 3, f"live, the picture is drawn again as the clock moves: {live_panel.pictures}"
        assert len(headless_panel.redraws) >= 3 and headless_panel.pictures == 1, "headless: read often, drawn once"
    finally:
        headless_panel.stop(), live_panel.stop()
        await handle.terminate(reason="test over")
