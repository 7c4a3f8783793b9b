"""Beyond one laptop: a server the lab did not start, a SIGKILLed server, and connection errors."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid

import pytest

from lab_support.ledger import Ledger
from lab_support.server import LabError, ServerProcess, connect, find_binary, setup
from lab_support.workers import KernelWorker, SubprocessWorker, wait_result, wait_running
from labs.replay.activities import Ticket
from labs.replay.workflows import SupportAgent
from labs.why_durable.steps import STEPS
from labs.why_durable.workflows import ResearchAgent, ResearchRequest


@pytest.fixture
async def external(tmp_path):
    server = await ServerProcess(tmp_path / "temporal.db", port=17233 + (uuid.uuid4().int % 500)).start()
    yield server
    server.kill()


async def test_lab_runs_against_a_server_it_did_not_start(external, monkeypatch):
    monkeypatch.setenv("TEMPORAL_ADDRESS", external.address)
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "default")
    lab = await setup()
    assert lab.kind == "existing" and lab.address == external.address and lab.env is None
    async with KernelWorker(lab, "labs.replay.worker") as worker:
        handle = await lab.client.start_workflow(SupportAgent.run, Ticket("1", "refund"), id=f"ext-{uuid.uuid4().hex[:6]}",
                                                 task_queue=worker.task_queue)
        await wait_result(handle)
    listed = subprocess.run([find_binary("temporal"), "workflow", "list", "--address", external.address],
                            capture_output=True, text=True, check=True).stdout
    assert handle.id in listed


async def test_server_sigkill_and_restart_loses_and_repeats_nothing(external, tmp_path):
    lab = await external.lab()
    ledger = Ledger(tmp_path / "l.db")
    worker = SubprocessWorker(lab, "labs.why_durable.worker", ledger=str(ledger.path)).start()
    try:
        handle = await lab.client.start_workflow(ResearchAgent.run, ResearchRequest("s", heartbeat_timeout=30),
                                                 id=f"srv-{uuid.uuid4().hex[:6]}", task_queue=worker.task_queue)
        await wait_running(handle, nth=4)  # step 4 is running: it finishes while the server is down
        killed = external.kill()
        assert external.proc.poll() is not None and not external.proc.returncode == 0
        await asyncio.sleep(1)  # down for longer than the running step needs to finish
        await external.start()
        back = time.time()
        report = await wait_result(handle, timeout=60)
    finally:
        worker.stop()
    effects = ledger.frame("durable")
    assert len(report.notes) == len(STEPS)
    assert sorted(effects["step"]) == list(range(1, len(STEPS) + 1)), "each side effect exactly once"
    during = effects[(effects["finished"] > killed) & (effects["finished"] < back)]
    assert list(during["attempt"]) == [1], "the step that finished during the outage was reported late, not redone"
    assert (effects["finished"] > back).sum() >= len(STEPS) - 4, "the run went on after the restart"
    # How long resumption takes is measured by benchmarks/bench.py, not asserted here.


async def test_tls_against_a_plain_server_fails_fast_with_a_fix(external, monkeypatch):
    monkeypatch.setenv("TEMPORAL_ADDRESS", external.address)
    monkeypatch.setenv("TEMPORAL_TLS", "true")
    started = time.monotonic()
    with pytest.raises(LabError, match="Fix: the server did not accept a TLS connection"):
        await connect(timeout=5)
    assert time.monotonic() - started < 8


async def test_server_process_reports_a_busy_port(external):
    with pytest.raises(LabError, match="already in use"):
        await ServerProcess(external.db_file.with_name("other.db"), port=external.port).start()


async def test_api_key_on_a_plain_server_names_the_fix_and_never_the_key(external, monkeypatch):
    monkeypatch.setenv("TEMPORAL_ADDRESS", external.address)
    monkeypatch.setenv("TEMPORAL_API_KEY", "secret-key-value-123")
    with pytest.raises(LabError) as err:
        await connect(timeout=5)
    assert "TEMPORAL_API_KEY" in str(err.value) and "secret-key-value-123" not in str(err.value)
