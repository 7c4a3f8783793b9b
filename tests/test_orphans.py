"""A kernel restarted before its clean-up cell: the workflows it left RUNNING on a persistent server are settled."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus

from lab_support import server
from lab_support.server import ORPHANED, ServerProcess, settle_orphans_at, setup
from lab_support.workers import KernelWorker

from .conftest import python_child

ROOT = Path(__file__).resolve().parent.parent

# A notebook's kernel: setup() against the lab's server, a worker of each kind, a plan waiting for approval on each.
KERNEL = """
import asyncio, json, uuid
from lab_support import setup, KernelWorker, SubprocessWorker
from labs.approval.workflows import Goal, PlanApproval

async def main():
    lab = await setup()
    kw = await KernelWorker(lab, "labs.approval.worker", ledger={ledger!r}).start()
    sw = SubprocessWorker(lab, "labs.approval.worker", ledger={ledger!r}).start()
    ids = []
    for worker in (kw, sw):
        h = await lab.client.start_workflow(PlanApproval.run, Goal("a trip"), id=f"plan-{{uuid.uuid4().hex[:6]}}",
                                            task_queue=worker.task_queue)
        while (await h.query(PlanApproval.state)).stage != "waiting for approval":
            await asyncio.sleep(0.1)
        ids.append(h.id)
    print(json.dumps({{"ids": ids, "queues": [kw.task_queue, sw.task_queue], "worker": sw.pid}}), flush=True)
    await asyncio.sleep(120)  # the learner walks away; then the kernel is restarted

asyncio.run(main())
"""


def _kernel(tmp_path: Path, address: str) -> tuple[subprocess.Popen[bytes], dict]:
    """Start a "kernel" process against `address` (its own state dir); returns it and what it started."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
    env.update(TEMPORAL_ADDRESS=address, LAB_STATE_DIR=str(tmp_path / "state"), PYTHONPATH=str(ROOT))
    code = KERNEL.format(ledger=str(tmp_path / f"ledger-{uuid.uuid4().hex[:6]}.db"))
    kernel = subprocess.Popen(python_child(code), stdout=subprocess.PIPE, env=env, cwd=ROOT)
    assert kernel.stdout is not None
    line = kernel.stdout.readline()
    assert line, f"the kernel exited ({kernel.wait()})"
    return kernel, json.loads(line)


async def _listed(client, workflow_ids: list[str], timeout: float = 30) -> None:
    """Wait until visibility lists each of `workflow_ids` as RUNNING: it can lag a start by a moment under load, and
    settling reads that list (a workflow started a moment before the kernel died is the next setup's to miss)."""
    deadline = asyncio.get_running_loop().time() + timeout
    query = " OR ".join(f'WorkflowId="{i}"' for i in workflow_ids)
    while {w.id async for w in client.list_workflows(f'ExecutionStatus="Running" AND ({query})')} != set(workflow_ids):
        assert asyncio.get_running_loop().time() < deadline, f"visibility did not list {workflow_ids} in {timeout} s"
        await asyncio.sleep(0.1)


async def _terminated_reason(lab, workflow_id: str) -> str | None:
    async for event in lab.client.get_workflow_handle(workflow_id).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
            return event.workflow_execution_terminated_event_attributes.reason
    return None


async def test_setup_terminates_what_a_killed_kernel_left_running_and_nothing_else(tmp_path, monkeypatch, capsys):
    lab_server = await ServerProcess(tmp_path / "lab.db").start()  # the lab's persistent server
    monkeypatch.setattr(server, "QUEUES", tmp_path / "state" / "task-queues")  # the kernels' registry
    monkeypatch.setenv("TEMPORAL_ADDRESS", lab_server.address)
    kernel = worker = None
    try:
        # a live kernel (this process) with a plan waiting on its own worker's queue
        mine = await lab_server.lab()
        worker = await KernelWorker(mine, "labs.approval.worker", ledger=str(tmp_path / "mine.db")).start()
        from labs.approval.workflows import Goal, PlanApproval

        kept = await mine.client.start_workflow(PlanApproval.run, Goal("keep"), id=f"keep-{uuid.uuid4().hex[:6]}",
                                                task_queue=worker.task_queue)
        # a workflow on a queue nobody registered (another tool's): never touched
        tool = await lab_server.lab()
        other = await tool.client.start_workflow(PlanApproval.run, Goal("other"), id=f"other-{uuid.uuid4().hex[:6]}",
                                                 task_queue=f"not-registered-{uuid.uuid4().hex[:6]}")
        kernel, started = _kernel(tmp_path, lab_server.address)
        # an entry whose pid is alive (ours) but started at another time: the pid was reused, the owner is dead
        reused_queue = f"reused-{uuid.uuid4().hex[:6]}"
        reused = await tool.client.start_workflow(PlanApproval.run, Goal("reused"), id=f"reused-{uuid.uuid4().hex[:6]}",
                                                  task_queue=reused_queue)
        server._entry_file(reused_queue, os.getpid()).write_text(json.dumps(
            {"queue": reused_queue, "pid": os.getpid(), "started": 1.0, "address": mine.address, "namespace": "default"}))
        entries = {json.loads(f.read_text())["queue"]: json.loads(f.read_text()) for f in server.QUEUES.glob("*.json")}
        assert set(started["queues"]) | {worker.task_queue} <= set(entries)
        assert {entries[q]["pid"] for q in started["queues"]} == {kernel.pid}, "owned by the kernel, not its worker"
        await _listed(tool.client, [*started["ids"], reused.id])
        kernel.send_signal(signal.SIGKILL)  # Kernel -> Restart: no clean-up cell ran
        kernel.wait()

        lab = await setup()  # the next notebook's setup cell
        assert lab.persistent
        said = capsys.readouterr().out
        assert "terminated 3 workflow(s)" in said and started["ids"][0] in said, said
        for workflow_id in [*started["ids"], reused.id]:
            assert (await lab.client.get_workflow_handle(workflow_id).describe()).status == \
                WorkflowExecutionStatus.TERMINATED
            assert await _terminated_reason(lab, workflow_id) == ORPHANED
        assert "kernel stopped (restart, shutdown or Ctrl-C) before the clean-up cell" in ORPHANED
        left = {json.loads(f.read_text())["queue"] for f in server.QUEUES.glob("*.json")}
        assert left == {worker.task_queue}, "the dead owners' entries are dropped, the live kernel's stays"
        for handle in (kept, other):
            assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING

        await asyncio.to_thread(settle_orphans_at, lab_server.address)  # the launcher's call: nothing left to settle, nothing said
        assert capsys.readouterr().out == ""

        await mine.close(worker, grace=10)  # the clean-up cell: cancels its plan, drops its entry
        kept = lab.client.get_workflow_handle(kept.id)
        assert (await kept.describe()).status == WorkflowExecutionStatus.CANCELED
        assert not list(server.QUEUES.glob("*.json"))
        await other.terminate()
    finally:
        if kernel is not None and kernel.poll() is None:
            kernel.kill()
            kernel.wait()
        if worker is not None:
            await worker.stop()  # before its server goes: a worker left polling a dead server hangs the loop's close
        lab_server.kill()


async def test_the_lab_command_settles_what_kernels_of_the_last_lab_left_running(tmp_path):
    """`python3 tasks.py lab` after a Ctrl-C that killed the kernels: the launcher terminates their orphans at start."""
    import psutil

    from tests.test_launch import _lines, _stop

    from lab_support.procs import free_port

    lab_server = await ServerProcess(tmp_path / "ext.db").start()
    try:
        tool = await lab_server.lab()
        queue = f"approval-{uuid.uuid4().hex[:6]}"
        from labs.approval.workflows import Goal, PlanApproval

        orphan = await tool.client.start_workflow(PlanApproval.run, Goal("x"), id=f"plan-{uuid.uuid4().hex[:6]}",
                                                  task_queue=queue)
        await _listed(tool.client, [orphan.id])
        gone = subprocess.Popen(python_child("pass"))  # the kernel of the last lab, long dead
        started = psutil.Process(gone.pid).create_time()
        gone.wait()
        queues = tmp_path / "task-queues"
        queues.mkdir()
        (queues / f"{queue}.{gone.pid}.json").write_text(json.dumps(
            {"queue": queue, "pid": gone.pid, "started": started, "address": lab_server.address, "namespace": "default"}))
        env = dict(os.environ, TEMPORAL_ADDRESS=lab_server.address, LAB_STATE_DIR=str(tmp_path),
                   LAB_JUPYTER_PORT=str(free_port()), JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"))
        launcher = subprocess.Popen([sys.executable, "-m", "lab_support.launch"], env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT)
        try:
            await asyncio.to_thread(_lines, launcher, 2)  # the server it uses, then what it settled (before Jupyter)
        finally:
            out = _stop(launcher)
        assert "terminated 1 workflow(s) left running by a notebook whose kernel stopped" in out, out
        assert (await orphan.describe()).status == WorkflowExecutionStatus.TERMINATED
        assert await _terminated_reason(tool, orphan.id) == ORPHANED
        assert not list(queues.iterdir())
    finally:
        lab_server.kill()
