"""workers: in-kernel and subprocess workers, real SIGKILLs, no orphans, no silent hangs."""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta

import psutil
import pytest
from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from lab_support.server import LabError
from lab_support.workers import KernelWorker, SubprocessWorker, WorkflowTaskFailed, build_id, wait_result, wait_running
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


async def test_no_worker_is_read_from_the_task_queue(lab):
    queue = f"nobody-{uuid.uuid4().hex[:6]}"
    handle = await lab.client.start_workflow(SupportAgent.run, Ticket("4", "x"), id=f"nw-{uuid.uuid4().hex[:6]}",
                                             task_queue=queue)
    with pytest.raises(TimeoutError, match=f"no worker has polled task queue '{queue}' for workflow tasks"):
        await wait_result(handle, timeout=1)
    with pytest.raises(TimeoutError, match="no worker has polled"):
        await wait_running(handle, timeout=1)
    await handle.terminate()


@activity.defn
async def overloaded_model() -> str:
    raise ApplicationError("model overloaded (HTTP 529)")


@workflow.defn(sandboxed=False)
class RetriesSlowly:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity(
            overloaded_model, start_to_close_timeout=timedelta(seconds=5),
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=60)))


async def test_an_activity_waiting_for_its_retry_is_named_with_attempt_failure_and_delay(lab):
    queue = f"retry-{uuid.uuid4().hex[:6]}"
    async with Worker(lab.client, task_queue=queue, build_id=build_id(__file__),
                      workflows=[RetriesSlowly], activities=[overloaded_model]):
        handle = await lab.client.start_workflow(RetriesSlowly.run, id=f"rs-{uuid.uuid4().hex[:6]}", task_queue=queue)
        with pytest.raises(TimeoutError) as err:
            await wait_result(handle, timeout=2)
        await handle.terminate()
    text = str(err.value)
    assert "activity overloaded_model is waiting for its retry: attempt 2 in" in text, text
    assert "last failure: model overloaded (HTTP 529)" in text and "no worker" not in text, text


@pytest.mark.long(15)  # seconds in a full run: started early (conftest.py)
async def test_a_dead_server_is_said_within_the_grace_not_after_the_timeout(tmp_path):
    from lab_support.server import ServerProcess

    server = await ServerProcess(tmp_path / "dies.db").start()
    client = (await server.lab()).client
    handle = await client.start_workflow(SupportAgent.run, Ticket("6", "x"), id=f"dead-{uuid.uuid4().hex[:6]}",
                                         task_queue="nobody")
    waiting = asyncio.create_task(wait_result(handle, timeout=120, grace=3))
    await asyncio.sleep(1)
    killed = time.monotonic()
    server.kill()
    with pytest.raises(LabError, match=f"server at {server.address} has not answered") as err:
        await waiting
    assert time.monotonic() - killed < 60, "said long before the 120 s timeout"
    assert "Fix:" in str(err.value)
    with pytest.raises(LabError, match="has not answered"):
        await wait_running(handle, timeout=120, grace=3)


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


async def test_wait_running_with_heartbeat_waits_for_the_workers_first_heartbeat(lab, tmp_path):
    from lab_support.ledger import Ledger
    from labs.cancellation.workflows import CrawlAgent, Job

    ledger = Ledger(tmp_path / "l.db")
    async with KernelWorker(lab, "labs.cancellation.worker", ledger=str(ledger.path)) as worker:
        silent, beating = [await lab.client.start_workflow(
            CrawlAgent.run, Job("hb", steps=1, heartbeats=beats), id=f"hb-{uuid.uuid4().hex[:6]}",
            task_queue=worker.task_queue) for beats in (False, True)]
        assert await wait_running(silent, nth=1) == "crawl_silently"  # handed out to the worker ...
        with pytest.raises(TimeoutError):                               # ... but it never heartbeats
            await wait_running(silent, nth=1, heartbeat=True, timeout=1)
        assert await wait_running(beating, nth=1, heartbeat=True) == "crawl"
        [pending] = (await beating.describe()).raw_description.pending_activities
        assert pending.HasField("last_heartbeat_time")
        await wait_result(silent)
        await wait_result(beating)


async def test_both_kinds_of_worker_stamp_a_build_id_hashed_from_the_lab_package(lab, tmp_path):
    import hashlib
    from pathlib import Path

    import labs.why_durable
    from labs.why_durable.workflows import ResearchAgent, ResearchRequest

    sources = sorted(Path(labs.why_durable.__file__).parent.glob("*.py"))
    expected = "why_durable-" + hashlib.md5(b"".join(p.read_bytes() for p in sources)).hexdigest()[:12]
    config = dict(ledger=str(tmp_path / "l.db"), step_seconds=0.01)
    for worker in (await KernelWorker(lab, "labs.why_durable.worker", **config).start(),
                   SubprocessWorker(lab, "labs.why_durable.worker", **config).start()):
        handle = await lab.client.start_workflow(ResearchAgent.run, ResearchRequest("b"), id=f"b-{uuid.uuid4().hex[:6]}",
                                                 task_queue=worker.task_queue)
        await wait_result(handle)
        stamped = {e.workflow_task_completed_event_attributes.worker_version.build_id
                   async for e in handle.fetch_history_events() if e.HasField("workflow_task_completed_event_attributes")}
        assert stamped == {expected}, type(worker).__name__
        stopped = worker.stop()
        if inspect.isawaitable(stopped):
            await stopped


def test_subprocess_worker_that_cannot_start_says_where_to_look(lab):
    with pytest.raises(LabError, match="exited while starting: .*No module named 'labs.no_such_module'") as err:
        SubprocessWorker(lab, "labs.no_such_module.worker").start(timeout=10)
    assert "worker-" in str(err.value), "names its log file"


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


async def test_a_blocking_async_activity_is_named_once_and_a_sync_one_is_not(lab):
    from lab_support.workers import BlockedEventLoop
    from labs.replay.workflows import LoopWatch

    async with KernelWorker(lab, "labs.replay.worker") as worker:
        async def stall(blocking: bool) -> float:
            handle = await lab.client.start_workflow(LoopWatch.run, blocking, id=f"loop-{uuid.uuid4().hex[:6]}",
                                                     task_queue=worker.task_queue)
            return await wait_result(handle, timeout=30)

        with pytest.warns(BlockedEventLoop, match="'fetch_blocking' has blocked this kernel's event loop") as caught:
            assert await stall(True) > 1.0  # the watcher's own record of the stall
        assert len(caught) == 1 and list(worker.blocked) == ["fetch_blocking"], [str(w.message) for w in caught]
        longest = await stall(False)  # the same call as a sync activity in the executor
        assert longest < 1.0, f"the loop stalled {longest:.2f} s with the call in the executor"
        assert list(worker.blocked) == ["fetch_blocking"]


async def test_a_starved_loop_is_not_called_blocked(lab, monkeypatch):
    """On a machine so busy that the loop thread barely runs (little CPU, runnable, not in a call), a stall is
    starvation, not a blocking call: no warning (seen under load: a first model call's lazy imports, 1.2 s)."""
    import warnings

    from lab_support.workers import BlockedEventLoop, _Watchdog
    from labs.replay.workflows import LoopWatch

    monkeypatch.setattr(_Watchdog, "_loop_thread_state", lambda self, thread: (0.05, "R"))
    async with KernelWorker(lab, "labs.replay.worker") as worker:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            handle = await lab.client.start_workflow(LoopWatch.run, True, id=f"loop-{uuid.uuid4().hex[:6]}",
                                                     task_queue=worker.task_queue)
            assert await wait_result(handle, timeout=30) > 1.0  # the loop did stall
        assert not [w for w in caught if issubclass(w.category, BlockedEventLoop)] and not worker.blocked


_EDITABLE = {
    "__init__.py": "",
    "activities.py": (
        "from temporalio import activity\n\n\n@activity.defn\nasync def version() -> str:\n    return 'A1'\n"),
    "workflows.py": (
        "from temporalio import workflow\n\nwith workflow.unsafe.imports_passed_through():\n"
        "    from .activities import version\n\n\n@workflow.defn\nclass Versions:\n    @workflow.run\n"
        "    async def run(self) -> str:\n        from datetime import timedelta\n\n"
        "        got = await workflow.execute_activity(version, start_to_close_timeout=timedelta(seconds=5))\n"
        "        return 'W1+' + got\n"),
    "worker.py": (
        "from .activities import version\nfrom .workflows import Versions\n\n\n"
        "def worker_options():\n    return {'workflows': [Versions], 'activities': [version]}\n\n\n"
        "if __name__ == '__main__':\n    from lab_support.workers import main\n\n    main(worker_options)\n"),
}


def _edit(folder, name, old, new, keep_mtime=False):
    path = folder / name
    stat = path.stat()
    path.write_text(path.read_text().replace(old, new))
    if keep_mtime:  # a second save within the same second, same size: the .pyc looks valid
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


async def _editable_worker(lab, tmp_path, monkeypatch):
    package = f"editable_{uuid.uuid4().hex[:8]}"
    folder = tmp_path / package
    folder.mkdir()
    for name, text in _EDITABLE.items():
        (folder / name).write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", False)  # as in a learner's Python: imports leave .pyc files
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    worker = await KernelWorker(lab, f"{package}.worker").start()

    async def run() -> str:
        handle = await lab.client.start_workflow("Versions", id=f"v-{uuid.uuid4().hex[:6]}", task_queue=worker.task_queue)
        return await wait_result(handle, timeout=20)

    return folder, worker, run


async def test_restart_sees_same_size_saves_within_one_second(lab, tmp_path, monkeypatch):
    folder, worker, run = await _editable_worker(lab, tmp_path, monkeypatch)
    try:
        assert await run() == "W1+A1"
        _edit(folder, "activities.py", "'A1'", "'A2'")
        _edit(folder, "workflows.py", "'W1+'", "'W2+'")
        await worker.restart()
        assert await run() == "W2+A2"
        _edit(folder, "activities.py", "'A2'", "'A3'", keep_mtime=True)
        _edit(folder, "workflows.py", "'W2+'", "'W3+'", keep_mtime=True)
        await worker.restart()
        assert await run() == "W3+A3"
    finally:
        await worker.stop()


async def test_without_restart_new_runs_keep_the_code_the_worker_started_with(lab, tmp_path, monkeypatch):
    folder, worker, run = await _editable_worker(lab, tmp_path, monkeypatch)
    try:
        assert await run() == "W1+A1"
        _edit(folder, "activities.py", "'A1'", "'A22'")
        _edit(folder, "workflows.py", "'W1+'", "'W22+'")
        assert await run() == "W1+A1", "no mix of new workflow code with old activity code"
        await worker.restart()
        assert await run() == "W22+A22"
    finally:
        await worker.stop()


async def test_a_subprocess_worker_runs_the_code_on_disk_even_after_a_same_size_save(lab, tmp_path, monkeypatch):
    folder, kernel_worker, _ = await _editable_worker(lab, tmp_path, monkeypatch)
    await kernel_worker.stop()  # its start left .pyc files behind, as any import does
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    module = kernel_worker.module
    _edit(folder, "activities.py", "'A1'", "'A4'", keep_mtime=True)
    worker = SubprocessWorker(lab, module).start()
    try:
        handle = await lab.client.start_workflow("Versions", id=f"v-{uuid.uuid4().hex[:6]}", task_queue=worker.task_queue)
        assert await wait_result(handle, timeout=20) == "W1+A4"
    finally:
        worker.stop()


async def test_wait_running_on_a_failing_workflow_task_says_so(lab):
    async with KernelWorker(lab, "labs.replay.worker") as worker:
        handle = await lab.client.start_workflow(StampedAgent.run, Ticket("7", "crash"),
                                                 id=f"stamp-{uuid.uuid4().hex[:6]}", task_queue=worker.task_queue)
        with pytest.raises(WorkflowTaskFailed):
            await wait_result(handle, timeout=20)  # now the workflow task has failed at least once
        with pytest.raises(TimeoutError, match="its workflow task keeps failing .*datetime.datetime.now") as err:
            await wait_running(handle, "draft_reply", timeout=1)
        assert "no worker" not in str(err.value)
        await handle.terminate()


async def test_after_a_worker_starts_any_reload_in_its_package_sees_a_same_size_save(lab, tmp_path, monkeypatch):
    import importlib

    package = f"editable_{uuid.uuid4().hex[:8]}"  # e.g. check() reloading labs/<lesson>/exercise.py
    folder = tmp_path / package
    folder.mkdir()
    for name, text in _EDITABLE.items():
        (folder / name).write_text(text)
    (folder / "exercise.py").write_text("ANSWER = 'X1'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    exercise = importlib.import_module(f"{package}.exercise")  # leaves a .pyc
    worker = await KernelWorker(lab, f"{package}.worker").start()
    await worker.stop()
    _edit(folder, "exercise.py", "'X1'", "'X2'", keep_mtime=True)
    assert importlib.reload(exercise).ANSWER == "X2"


async def test_a_subprocess_worker_that_cannot_reach_the_server_says_so(tmp_path):
    from lab_support.server import ServerProcess

    server = await ServerProcess(tmp_path / "gone.db").start()
    lab = await server.lab()
    server.kill()
    with pytest.raises(LabError, match=f"could not reach the Temporal server at {server.address}"):
        SubprocessWorker(lab, "labs.replay.worker").start()
