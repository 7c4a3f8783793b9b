"""workers: in-kernel and subprocess workers, real SIGKILLs, no orphans, no silent hangs."""

from __future__ import annotations

import signal
import subprocess
import uuid

import psutil
import pytest

from lab_support.server import LabError
from lab_support.workers import KernelWorker, SubprocessWorker, WorkflowTaskFailed, wait_result, wait_running
from labs.replay.activities import Ticket
from labs.replay.workflows import StampedAgent, SupportAgent

from .conftest import python_child


async def test_kernel_worker_start_stop_restart(lab):
    worker = KernelWorker(lab, "labs.replay.worker")
    assert not worker.alive
    await worker.start()
    assert worker.alive
    handle = await lab.client.start_workflow(SupportAgent.run, Ticket("1", "password reset"),
                                             id=f"kw-{uuid.uuid4().hex[:6]}", task_queue=worker.task_queue)
    assert (await wait_result(handle)).label == "account"
    await worker.restart()  # re-imports labs.replay.*
    assert worker.alive
    handle = await lab.client.start_workflow(SupportAgent.run, Ticket("2", "refund"),
                                             id=f"kw-{uuid.uuid4().hex[:6]}", task_queue=worker.task_queue)
    assert (await wait_result(handle)).label == "billing"
    await worker.stop()
    assert not worker.alive


async def test_failing_workflow_task_is_surfaced_not_a_hang(lab):
    async with KernelWorker(lab, "labs.replay.worker") as worker:
        handle = await lab.client.start_workflow(StampedAgent.run, Ticket("3", "crash"),
                                                 id=f"stamp-{uuid.uuid4().hex[:6]}", task_queue=worker.task_queue)
        with pytest.raises(WorkflowTaskFailed, match="datetime.datetime.now") as err:
            await wait_result(handle, timeout=20)
        assert "still RUNNING" in str(err.value)
        await handle.terminate()


async def test_unknown_workflow_id(lab):
    with pytest.raises(LabError, match="No workflow with id 'nope-123'"):
        await wait_result(lab.client.get_workflow_handle("nope-123"), timeout=5)


async def test_no_worker_times_out_with_a_question(lab):
    handle = await lab.client.start_workflow(SupportAgent.run, Ticket("4", "x"), id=f"nw-{uuid.uuid4().hex[:6]}",
                                             task_queue="nobody-listens")
    with pytest.raises(TimeoutError, match="Is a worker polling"):
        await wait_result(handle, timeout=1)
    await handle.terminate()


async def test_subprocess_worker_runs_kill_restart(lab):
    worker = SubprocessWorker(lab, "labs.replay.worker").start()
    first = worker.pid
    assert worker.alive and psutil.pid_exists(first)
    worker.kill()
    assert not worker.alive and worker.kills == 1
    assert not psutil.pid_exists(first) or psutil.Process(first).status() == psutil.STATUS_ZOMBIE
    worker.restart()
    assert worker.pid != first
    handle = await lab.client.start_workflow(SupportAgent.run, Ticket("5", "error on save"),
                                             id=f"sw-{uuid.uuid4().hex[:6]}", task_queue=worker.task_queue)
    assert (await wait_result(handle)).label == "bug"
    assert worker.stop() == 0  # graceful SIGTERM exit


async def test_wait_running_waits_for_the_nth_activity_and_refuses_a_finished_one(lab, tmp_path):
    from lab_support.ledger import Ledger
    from labs.why_durable.workflows import ResearchAgent, ResearchRequest

    ledger = Ledger(tmp_path / "l.db")
    async with KernelWorker(lab, "labs.why_durable.worker", ledger=str(ledger.path)) as worker:
        handle = await lab.client.start_workflow(ResearchAgent.run, ResearchRequest("n"), id=f"nth-{uuid.uuid4().hex[:6]}",
                                                 task_queue=worker.task_queue)
        assert await wait_running(handle, nth=3) == "run_step"
        assert list(ledger.frame("durable")["step"]) == [1, 2], "step 3 is running, not done"
        with pytest.raises(LabError, match="already finished"):
            await wait_running(handle, nth=2)
        await wait_result(handle)


def test_subprocess_worker_that_cannot_start_says_where_to_look(lab):
    with pytest.raises(LabError, match="did not start"):
        SubprocessWorker(lab, "labs.no_such_module.worker").start(timeout=10)


def test_killed_parent_leaves_no_worker_behind(lab):
    code = (
        "import asyncio\n"
        "from lab_support.server import Lab\n"
        "from lab_support.workers import SubprocessWorker\n"
        "from temporalio.client import Client\n"
        f"client = asyncio.run(Client.connect({lab.address!r}))\n"
        f"w = SubprocessWorker(Lab(client, {lab.address!r}, 'default', kind='dev'), 'labs.replay.worker').start()\n"
        "print(w.pid, flush=True)\n"
        "import time; time.sleep(60)\n"
    )
    parent = subprocess.Popen(python_child(code), stdout=subprocess.PIPE)
    assert parent.stdout is not None
    pid = int(parent.stdout.readline())
    child = psutil.Process(pid)
    parent.send_signal(signal.SIGKILL)  # like a killed Jupyter kernel
    parent.wait()
    gone, alive = psutil.wait_procs([child], timeout=5)
    assert not alive
