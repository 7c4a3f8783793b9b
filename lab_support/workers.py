"""Workers two ways: inside the kernel (restartable after code edits) or as a process you can SIGKILL.

A lab's `labs/<topic>/worker.py` defines `worker_options(**config) -> dict` (workflows, activities and
other `Worker` options) and ends with `if __name__ == "__main__": main(worker_options)`, so both
`KernelWorker(lab, "labs.<topic>.worker")` and `python -m labs.<topic>.worker` run the same code.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib
import json
import os
import select
import signal
import subprocess
import sys
import time
import uuid
from typing import Any, Callable, Collection

from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from .procs import kill_group, watch_parent
from .server import Lab, LabError, _log_dir, quiet_runtime, unknown_workflow

_live: set["SubprocessWorker"] = set()


class WorkflowTaskFailed(LabError):
    """The worker keeps failing a workflow task (bad workflow code); the workflow is stuck, not failed."""


def _options(module: str, config: dict[str, Any]) -> dict[str, Any]:
    return importlib.import_module(module).worker_options(**config)


def _reload(module: str) -> None:
    """Re-import every loaded module of the lab package that `module` belongs to (worker module last)."""
    package = module.rsplit(".", 1)[0]
    names = sorted(n for n in sys.modules if n == package or n.startswith(package + "."))
    for name in [n for n in names if n != module] + [module]:
        if name in sys.modules:
            importlib.reload(sys.modules[name])


class KernelWorker:
    """A worker running as a background task in this kernel (or any asyncio program)."""

    def __init__(self, lab: Lab | Client, module: str, task_queue: str | None = None, **config: Any) -> None:
        self.client = lab.client if isinstance(lab, Lab) else lab
        self.module, self.config = module, config
        self.task_queue = task_queue or f"{module.split('.')[-2]}-{uuid.uuid4().hex[:6]}"
        self._worker: Worker | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def alive(self) -> bool:
        """True while the worker is polling its task queue."""
        return self._task is not None and not self._task.done()

    async def start(self) -> "KernelWorker":
        """Build the worker from the lab module and start polling."""
        if self.alive:
            return self
        self._worker = Worker(self.client, task_queue=self.task_queue, **_options(self.module, self.config))
        self._task = asyncio.create_task(self._worker.run(), name=f"worker:{self.task_queue}")
        await asyncio.sleep(0)  # let it start polling
        return self

    async def stop(self) -> None:
        """Shut down gracefully (in-flight activities get the graceful timeout); re-raise a crash."""
        if self._worker is not None and self.alive:
            await self._worker.shutdown()
        if self._task is not None:
            task, self._task = self._task, None
            await asyncio.gather(task, return_exceptions=False)

    async def restart(self, reload: bool = True) -> "KernelWorker":
        """Stop, re-import the lab's code (so edits in labs/ take effect) and start again."""
        await self.stop()
        if reload:
            _reload(self.module)
        return await self.start()

    async def __aenter__(self) -> "KernelWorker":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def __repr__(self) -> str:
        return f"KernelWorker({self.module}, task_queue={self.task_queue!r}, alive={self.alive})"


class SubprocessWorker:
    """A worker in its own OS process (`python -m <module>`): start, SIGKILL, restart. Dies with us."""

    def __init__(self, lab: Lab, module: str, task_queue: str | None = None, metrics_port: int | None = None,
                 **config: Any) -> None:
        self.lab, self.module, self.config, self.metrics_port = lab, module, config, metrics_port
        self.task_queue = task_queue or f"{module.split('.')[-2]}-{uuid.uuid4().hex[:6]}"
        self.log_file = _log_dir() / f"worker-{self.task_queue}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.kills = 0

    @property
    def pid(self) -> int | None:
        """Process id of the running worker, if any."""
        return self.proc.pid if self.alive and self.proc else None

    def metrics(self) -> str:
        """The worker's Prometheus metrics text (start it with metrics_port=...)."""
        import urllib.request

        if not self.metrics_port:
            raise LabError("This worker exposes no metrics. Fix: create it with metrics_port=free_port().")
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as response:
            return response.read().decode()

    @property
    def alive(self) -> bool:
        """True while the worker process runs."""
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 30.0) -> "SubprocessWorker":
        """Start the process and wait until its worker is polling."""
        if self.alive:
            return self
        inherited = {k: v for k, v in os.environ.items() if self.lab.kind == "existing" or not k.startswith("TEMPORAL_")}
        env = dict(
            inherited,
            TEMPORAL_ADDRESS=self.lab.address,
            TEMPORAL_NAMESPACE=self.lab.namespace,
            LAB_TASK_QUEUE=self.task_queue,
            LAB_WORKER_CONFIG=json.dumps(self.config),
            PYTHONUNBUFFERED="1",
        )
        if self.metrics_port:
            env["LAB_METRICS_PORT"] = str(self.metrics_port)
        with open(self.log_file, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", self.module], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=log, env=env, start_new_session=True,
            )
        _live.add(self)
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else b""
        if not line.startswith(b"READY"):
            kill_group(self.proc)
            raise LabError(f"Worker {self.module} did not start within {timeout:g}s; see {self.log_file}.")
        return self

    def kill(self) -> float:
        """SIGKILL the worker process (a real crash); returns the time of the kill."""
        assert self.proc is not None, "start() the worker first"
        at = time.time()
        kill_group(self.proc, signal.SIGKILL)
        self.kills += 1
        return at

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM: the worker stops polling, lets in-flight activities finish, then exits."""
        if self.proc is not None:
            kill_group(self.proc, signal.SIGTERM, wait=timeout)
            _live.discard(self)
            return self.proc.returncode
        return None

    def restart(self) -> "SubprocessWorker":
        """Start a fresh process on the same task queue (after a kill or stop)."""
        if self.alive:
            self.stop()
        return self.start()

    def __enter__(self) -> "SubprocessWorker":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"SubprocessWorker({self.module}, pid={self.pid}, task_queue={self.task_queue!r})"


def _kill_all() -> None:
    for w in list(_live):
        if w.alive and w.proc is not None:
            kill_group(w.proc)


atexit.register(_kill_all)


async def _serve(options: Callable[..., dict[str, Any]]) -> None:
    from temporalio.envconfig import ClientConfig

    config = dict(ClientConfig.load_client_connect_config())
    runtime = quiet_runtime()
    if os.environ.get("LAB_METRICS_PORT"):  # expose this worker's SDK metrics for Prometheus (loopback only)
        from temporalio.runtime import LoggingConfig, PrometheusConfig, Runtime, TelemetryConfig, TelemetryFilter

        runtime = Runtime(telemetry=TelemetryConfig(
            logging=LoggingConfig(filter=TelemetryFilter("ERROR", "ERROR")),
            metrics=PrometheusConfig(bind_address=f"127.0.0.1:{os.environ['LAB_METRICS_PORT']}",
                                     durations_as_seconds=True)))
    client = await Client.connect(**config, runtime=runtime)
    worker = Worker(
        client, task_queue=os.environ["LAB_TASK_QUEUE"], **options(**json.loads(os.environ.get("LAB_WORKER_CONFIG", "{}")))
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with worker:
        print("READY", flush=True)
        os.dup2(2, 1)  # anything printed later goes to the log, not the readiness pipe
        await stop.wait()


def main(options: Callable[..., dict[str, Any]]) -> None:
    """Entry point of `python -m labs.<topic>.worker`: serve until SIGTERM, die with the parent."""
    watch_parent()
    asyncio.run(_serve(options))
    sys.stdout.flush()
    os._exit(0)  # avoids the SDK's occasional abort at interpreter exit


async def _last_task_failure(handle: WorkflowHandle[Any, Any]) -> str | None:
    failure = None
    async for event in handle.fetch_history_events():
        which = event.WhichOneof("attributes") or ""
        if which == "workflow_task_failed_event_attributes":
            failure = event.workflow_task_failed_event_attributes.failure.message
        elif which.startswith("workflow_task_completed"):
            failure = None
    return failure


_ACTIVITY_CLOSED = {f"activity_task_{end}_event_attributes" for end in ("completed", "failed", "timed_out", "canceled")}


async def _nth_activity(handle: WorkflowHandle[Any, Any], nth: int) -> tuple[str | None, bool]:
    """The activity id of the workflow's nth scheduled activity (None if not yet scheduled), and whether it has closed."""
    scheduled, closed = [], set()
    async for e in handle.fetch_history_events():
        which = e.WhichOneof("attributes") or ""
        if which == "activity_task_scheduled_event_attributes":
            scheduled.append((e.event_id, e.activity_task_scheduled_event_attributes.activity_id))
        elif which in _ACTIVITY_CLOSED:
            closed.add(getattr(e, which).scheduled_event_id)
    if len(scheduled) < nth:
        return None, False
    event_id, activity_id = scheduled[nth - 1]
    return activity_id, event_id in closed


async def wait_running(handle: WorkflowHandle[Any, Any], activity: str | Collection[str] | None = None,
                       timeout: float = 30.0, nth: int | None = None) -> str:
    """Wait until a worker is executing an activity of the workflow (of a type in `activity`, or its `nth` scheduled one)."""
    wanted = {activity} if isinstance(activity, str) else set(activity or ())
    from temporalio.api.enums.v1 import PendingActivityState

    # With `nth`, only that activity counts: one that just finished can still be listed as running
    # for a few milliseconds, and a crash timed on it would hit its report in flight.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        nth_id = None
        if nth is not None:
            nth_id, closed = await _nth_activity(handle, nth)
            if closed:
                raise LabError(f"Activity #{nth} of {handle.id!r} has already finished; wait for an earlier point.")
        if nth is None or nth_id is not None:
            for pending in (await handle.describe()).raw_description.pending_activities:
                if (pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
                        and (not wanted or pending.activity_type.name in wanted)
                        and (nth_id is None or pending.activity_id == nth_id)):
                    return pending.activity_type.name
        await asyncio.sleep(0.03)
    which = f"activity #{nth}" if nth is not None else "activity"
    raise TimeoutError(f"No {which} of {handle.id!r} started running within {timeout:g}s.")


async def wait_result(handle: WorkflowHandle[Any, Any], timeout: float = 60.0) -> Any:
    """Await a workflow's result, but raise at once if its workflow task keeps failing (no silent hang)."""
    result = asyncio.ensure_future(handle.result())
    deadline = time.monotonic() + timeout
    try:
        while True:
            done, _ = await asyncio.wait({result}, timeout=0.5)
            if done:
                try:
                    return result.result()
                except RPCError as e:
                    if e.status == RPCStatusCode.NOT_FOUND:
                        raise unknown_workflow(handle.id) from None
                    if e.status not in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
                        raise
                    result = asyncio.ensure_future(handle.result())  # the server is restarting: ask again
                    await asyncio.sleep(0.2)
            try:
                failure = await _last_task_failure(handle)
            except RPCError as e:
                if e.status == RPCStatusCode.NOT_FOUND:
                    raise unknown_workflow(handle.id) from None
                if e.status not in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
                    raise
                failure = None  # the server is restarting: keep waiting
            if failure:
                raise WorkflowTaskFailed(
                    f"Workflow {handle.id!r} is stuck: its workflow task failed with: {failure}\n"
                    "The workflow is still RUNNING and retries the task. Fix the workflow code in labs/, "
                    "then `await worker.restart()`; or terminate it with `await handle.terminate()`."
                )
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"No result from {handle.id!r} after {timeout:g}s. Is a worker polling its task queue?"
                )
    finally:
        result.cancel()
