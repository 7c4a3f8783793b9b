"""Workers two ways: inside the kernel (restartable after code edits) or as a process you can SIGKILL.

A lab's `labs/<topic>/worker.py` defines `worker_options(**config) -> dict` (workflows, activities and
other `Worker` options) and ends with `if __name__ == "__main__": main(worker_options)`, so both
`KernelWorker(lab, "labs.<topic>.worker")` and `python -m labs.<topic>.worker` run the same code.
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import importlib
import importlib.util
import inspect
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
import warnings
from pathlib import Path
from typing import Any, Callable, Collection

from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor, Worker

from .procs import kill_group, watch_parent
from .server import (Lab, LabError, _log_dir, ensure_reachable, quiet_runtime, register_queue, server_reachable,
                     server_unreachable, unknown_workflow)

_live: set["SubprocessWorker"] = set()


class WorkflowTaskFailed(LabError):
    """The worker keeps failing a workflow task (bad workflow code); the workflow is stuck, not failed."""


def _options(module: str, config: dict[str, Any]) -> dict[str, Any]:
    return _with_build_id(importlib.import_module(module).worker_options, config)


def build_id(path: str | Path) -> str:
    """A worker build id for code in `path`'s folder: the folder's name and a hash of its .py files (str). Pass it as
    Worker(build_id=...): the SDK's default hashes the bytecode of every loaded module, 0.26 s of CPU in a kernel with
    pandas and matplotlib loaded (temporalio/worker/_worker.py, load_default_build_id)."""
    folder = Path(path).parent
    digest = hashlib.md5(usedforsecurity=False)
    for source in sorted(folder.glob("*.py")):
        digest.update(source.read_bytes())
    return f"{folder.name}-{digest.hexdigest()[:12]}"


def _with_build_id(worker_options: Callable[..., dict[str, Any]], config: dict[str, Any]) -> dict[str, Any]:
    """worker_options(**config), with the build id of its lab package unless it sets one or a deployment."""
    options = worker_options(**config)
    if not {"build_id", "deployment_config"} & options.keys():
        options["build_id"] = build_id(inspect.getfile(worker_options))
    return options


_SOURCES: dict[str, tuple[str, Any, bool]] = {}  # workflow module -> (file, compiled code, is package) at worker start


class _Snapshot:
    """Import hook: the sandbox's fresh import of a workflow module (one per workflow run) reads the source
    recorded when its KernelWorker (re)started, so new runs never mix edited workflow code with old activities."""

    @staticmethod
    def find_spec(name: str, path: Any = None, target: Any = None) -> Any:
        if name not in _SOURCES or name in sys.modules:  # a reload in the kernel itself reads the file
            return None
        file, _, package = _SOURCES[name]
        return importlib.util.spec_from_file_location(
            name, file, loader=_Snapshot(), submodule_search_locations=[os.path.dirname(file)] if package else None)

    @staticmethod
    def create_module(spec: Any) -> None:
        return None

    @staticmethod
    def exec_module(module: Any) -> None:
        exec(_SOURCES[module.__name__][1], module.__dict__)  # compiled once, run once per workflow run


def _snapshot(options: dict[str, Any]) -> None:
    """Record the source of the modules defining the worker's workflows (kept until a restart re-reads them)."""
    if _Snapshot not in sys.meta_path:
        sys.meta_path.insert(0, _Snapshot)  # type: ignore[arg-type]
    for cls in options.get("workflows", []):
        module = sys.modules.get(cls.__module__)
        file = getattr(module, "__file__", None)
        if file and file.endswith(".py") and cls.__module__ not in _SOURCES:
            with open(file, "rb") as f:
                code = compile(f.read(), file, "exec", dont_inherit=True)
            _SOURCES[cls.__module__] = (file, code, hasattr(module, "__path__"))


def _fresh_bytecode(module: str) -> None:
    """Make the lab package's cached bytecode check its source's hash, so no import ever runs a stale .pyc."""
    import py_compile

    spec = importlib.util.find_spec(module.rsplit(".", 1)[0])
    for folder in (spec.submodule_search_locations or []) if spec else []:
        for file in os.listdir(folder):
            if file.endswith(".py"):
                try:
                    py_compile.compile(os.path.join(folder, file), quiet=2,
                                       invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
                except OSError:  # a read-only checkout: Python compiles from source anyway
                    pass


def _reload(module: str) -> None:
    """Re-import every loaded module of the lab package that `module` belongs to from disk (worker module last)."""
    package = module.rsplit(".", 1)[0]
    names = sorted(n for n in sys.modules if n == package or n.startswith(package + "."))
    _fresh_bytecode(module)  # same-size saves within one second would otherwise reload an old .pyc
    for name in [n for n in names if n != module] + [module]:
        _SOURCES.pop(name, None)
        if name in sys.modules:
            importlib.reload(sys.modules[name])


class BlockedEventLoop(UserWarning):
    """An `async def` activity made a blocking call and stalled the kernel's event loop."""


class _Watchdog(Interceptor):
    """Notes which `async def` activities run; a thread warns once per activity that stalls the loop > `limit` s."""

    def __init__(self, limit: float = 1.0) -> None:
        self.limit, self.tick, self.tick_cpu, self.native_id = limit, time.monotonic(), 0.0, 0
        self.running: dict[object, tuple[str, Any]] = {}
        self.blocked: dict[str, float] = {}  # activity type -> longest stall seen (s)

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        watchdog = self

        class Inbound(ActivityInboundInterceptor):
            async def execute_activity(self, input: ExecuteActivityInput) -> Any:
                fn = inspect.unwrap(getattr(input.fn, "__func__", input.fn))
                code = getattr(fn, "__code__", None)
                if code is None or not inspect.iscoroutinefunction(fn):  # sync ones run in the activity_executor
                    return await super().execute_activity(input)
                key = object()
                watchdog.running[key] = (activity.info().activity_type, code)
                try:
                    return await super().execute_activity(input)
                finally:
                    del watchdog.running[key]

        return Inbound(next)

    async def run(self) -> None:
        """Tick on the event loop and watch the ticks from a thread, until cancelled."""
        loop_thread, stop = threading.get_ident(), threading.Event()
        self.native_id = threading.get_native_id()
        threading.Thread(target=self._watch, args=(loop_thread, stop), name="loop-watchdog", daemon=True).start()
        try:
            while True:
                self.tick, self.tick_cpu = time.monotonic(), time.thread_time()
                await asyncio.sleep(0.1)
        finally:
            stop.set()

    def _loop_thread_state(self, loop_thread: int) -> tuple[float | None, str]:
        """The loop thread's CPU seconds since its last tick and its scheduler state (Linux: R running, S/D
        waiting in a call); (None, "?") where the system does not say."""
        try:
            cpu = time.clock_gettime(time.pthread_getcpuclockid(loop_thread)) - self.tick_cpu
            with open(f"/proc/self/task/{self.native_id}/stat") as f:
                return cpu, f.read().rsplit(")", 1)[1].split()[0]
        except (AttributeError, OSError, IndexError):
            return None, "?"

    def _watch(self, loop_thread: int, stop: threading.Event) -> None:
        waiting = samples = 0  # of this stall: how often the loop thread sat in a blocking call
        while not stop.wait(0.25):
            stalled = time.monotonic() - self.tick
            if stalled < 0.2:
                waiting = samples = 0
            cpu, state = self._loop_thread_state(loop_thread)
            samples += 1
            waiting += state in ("S", "D")
            if stalled < self.limit or not self.running:
                continue
            # A loop stalled by the activity either waits in a blocking call (sleep, sync I/O) or computes. On a
            # machine so busy that the thread barely runs, neither holds: that is starvation, not a blocking call.
            if cpu is not None and cpu < self.limit / 2 and waiting * 2 < samples:
                continue
            codes = {code: name for name, code in list(self.running.values())}
            frame = sys._current_frames().get(loop_thread)
            while frame is not None and frame.f_code not in codes:  # which activity is on the stack right now?
                frame = frame.f_back
            if frame is None:
                continue
            name = codes[frame.f_code]
            if name not in self.blocked:
                warnings.warn(
                    f"Activity {name!r} has blocked this kernel's event loop for {stalled:.1f} s: it is `async def` "
                    "but makes a blocking call (time.sleep, requests, a sync client). Heartbeats, timers, other "
                    "workflows and this notebook stall meanwhile. Fix: await an async call (asyncio.sleep, "
                    "httpx.AsyncClient), or make it a plain `def` activity and give the worker an activity_executor.",
                    BlockedEventLoop, stacklevel=1)
            self.blocked[name] = max(self.blocked.get(name, 0.0), stalled)


class KernelWorker:
    """A worker running as a background task in this kernel (or any asyncio program).

    `blocked` maps each `async def` activity that stalled the event loop > 1 s to its longest stall (s)."""

    def __init__(self, lab: Lab | Client, module: str, task_queue: str | None = None, **config: Any) -> None:
        self.client = lab.client if isinstance(lab, Lab) else lab
        self.lab = lab if isinstance(lab, Lab) else None
        self.module, self.config = module, config
        self.task_queue = task_queue or f"{module.split('.')[-2]}-{uuid.uuid4().hex[:6]}"
        self._worker: Worker | None = None
        self._task: asyncio.Task[None] | None = None
        self._watchdog = _Watchdog()
        self._ticking: asyncio.Task[None] | None = None
        if self.lab is not None:
            self.lab.workers.append(self)  # lab.close() stops it

    @property
    def alive(self) -> bool:
        """True while the worker is polling its task queue."""
        return self._task is not None and not self._task.done()

    @property
    def blocked(self) -> dict[str, float]:
        """Activity type -> longest event-loop stall it caused (s); a BlockedEventLoop warning named each once."""
        return dict(self._watchdog.blocked)

    async def start(self) -> "KernelWorker":
        """Build the worker from the lab module and start polling."""
        if self.alive:
            return self
        _fresh_bytecode(self.module)  # later reloads in this package (restart, check) then read the file on disk
        options = _options(self.module, self.config)
        _snapshot(options)  # each new workflow run then uses the code loaded now
        options["interceptors"] = [*options.get("interceptors", []), self._watchdog]
        self._worker = Worker(self.client, task_queue=self.task_queue, **options)
        self._task = asyncio.create_task(self._worker.run(), name=f"worker:{self.task_queue}")
        self._ticking = asyncio.create_task(self._watchdog.run(), name=f"watchdog:{self.task_queue}")
        if self.lab is not None:  # this kernel owns the queue: settled by a later setup() if the kernel dies first
            register_queue(self.lab, self.task_queue)
        await asyncio.sleep(0)  # let it start polling
        return self

    async def stop(self) -> None:
        """Shut down gracefully (in-flight activities get the graceful timeout); re-raise a crash."""
        if self._ticking is not None:
            self._ticking.cancel()
            self._ticking = None
        if self._worker is not None and self.alive:
            await self._worker.shutdown()
        if self._task is not None:
            task, self._task = self._task, None
            await asyncio.gather(task, return_exceptions=False)

    async def restart(self, reload: bool = True) -> "KernelWorker":
        """Stop, re-import the lab's code from disk (edits to workflows AND activities take effect) and start again."""
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
        lab.workers.append(self)  # lab.close() stops it
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
        _fresh_bytecode(self.module)  # the new process imports the code on disk now
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
            logged = log.tell()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", self.module], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=log, env=env, start_new_session=True,
            )
        _live.add(self)
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else b""
        if not line.startswith(b"READY"):
            exited = ready and not line  # end of output: the process is exiting
            kill_group(self.proc)
            if not exited:
                raise LabError(f"Worker {self.module} did not start within {timeout:g}s; see {self.log_file}.")
            with open(self.log_file, errors="replace") as f:
                f.seek(logged)
                lines = [ln for ln in f.read().splitlines() if ln.strip()] or [""]
            last = next((ln for ln in reversed(lines) if "Error:" in ln), lines[-1])  # the exception, not a dump
            if "connect" in last.lower():
                raise LabError(f"Worker {self.module} could not reach the Temporal server at {self.lab.address} "
                               f"({last[:160]}). Fix: is the server running? Re-run the setup cell or start the lab.")
            raise LabError(f"Worker {self.module} exited while starting: {last[:300]} (see {self.log_file}).")
        register_queue(self.lab, self.task_queue)  # owned by this kernel (the worker process dies with it)
        return self

    def kill(self) -> float:
        """SIGKILL the worker process (a real crash); returns the time of the kill."""
        assert self.proc is not None, "start() the worker first"
        at = time.time()
        kill_group(self.proc, signal.SIGKILL)
        self.kills += 1
        return at

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM: the worker stops polling and exits; in-flight activities are cancelled at once unless its options
        set `graceful_shutdown_timeout` (the SDK's default is 0, temporalio/worker/_worker.py; lesson 09 sets it)."""
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
    worker = Worker(client, task_queue=os.environ["LAB_TASK_QUEUE"],
                    **_with_build_id(options, json.loads(os.environ.get("LAB_WORKER_CONFIG", "{}"))))
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


# Workflow task failures that are part of normal operation, not bad workflow code: a signal raced a command (the
# server asks for a new task, e.g. during continue-as-new), a sticky queue was reset, or the run was reset
# (`rerun_from`: the new run's history ends its copied part with a WorkflowTaskFailed, cause RESET_WORKFLOW)
_ROUTINE_TASK_FAILURES = {"WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND", "WORKFLOW_TASK_FAILED_CAUSE_RESET_STICKY_TASK_QUEUE",
                          "WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW"}


async def _last_task_failure(handle: WorkflowHandle[Any, Any]) -> str | None:
    from temporalio.api.enums.v1 import WorkflowTaskFailedCause

    failure = None
    async for event in handle.fetch_history_events():
        which = event.WhichOneof("attributes") or ""
        if which == "workflow_task_failed_event_attributes":
            attrs = event.workflow_task_failed_event_attributes
            if WorkflowTaskFailedCause.Name(attrs.cause) not in _ROUTINE_TASK_FAILURES:
                failure = attrs.failure.message
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
                       timeout: float = 30.0, nth: int | None = None, grace: float = 10.0,
                       heartbeat: bool = False) -> str:
    """Wait until the server has handed an activity of the workflow (of a type in `activity`, or its `nth` scheduled
    one) to a worker; with `heartbeat`, until that worker's first heartbeat reached the server.

    Returns the activity type; TimeoutError says what the workflow waits for instead; LabError if the server is
    silent for `grace` s."""
    wanted = {activity} if isinstance(activity, str) else set(activity or ())
    from temporalio.api.enums.v1 import PendingActivityState

    # With `nth`, only that activity counts: one that just finished can still be listed as running
    # for a few milliseconds, and a crash timed on it would hit its report in flight.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        asked = time.monotonic()
        try:
            nth_id = None
            if nth is not None:
                nth_id, closed = await _nth_activity(handle, nth)
                if closed:
                    raise LabError(f"Activity #{nth} of {handle.id!r} has already finished; wait for an earlier point.")
            if nth is None or nth_id is not None:
                for pending in (await handle.describe()).raw_description.pending_activities:
                    if (pending.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
                            and (not wanted or pending.activity_type.name in wanted)
                            and (nth_id is None or pending.activity_id == nth_id)
                            # "Started" is written before the task is sent: a crash of the server in between
                            # loses the task, and the attempt runs only after its start-to-close timeout.
                            and (not heartbeat or pending.HasField("last_heartbeat_time"))):
                        return pending.activity_type.name
        except RPCError as e:
            if e.status == RPCStatusCode.NOT_FOUND:
                raise unknown_workflow(handle.id) from None
            if e.status not in _TRANSIENT:
                raise
            await ensure_reachable(handle._client, grace - (time.monotonic() - asked))  # raises if it stays silent
        await asyncio.sleep(0.03)
    which = f"activity #{nth}" if nth is not None else "activity"
    raise TimeoutError(f"No {which} of {handle.id!r} started running within {timeout:g}s: {await diagnose(handle)}")


_TRANSIENT = (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED)


async def _polled(client: Client, task_queue: str, kind: str) -> bool:
    """True if the server lists a worker that recently polled `task_queue` for `kind` ("workflow"/"activity") tasks."""
    from temporalio.api.enums.v1 import TaskQueueType
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

    which = TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW if kind == "workflow" else TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY
    response = await client.workflow_service.describe_task_queue(DescribeTaskQueueRequest(
        namespace=client.namespace, task_queue=TaskQueue(name=task_queue), task_queue_type=which))
    return bool(response.pollers)


def _ago(ts: Any) -> float:
    """Seconds since a protobuf Timestamp (negative: in the future)."""
    return time.time() - (ts.seconds + ts.nanos / 1e9)


async def diagnose(handle: WorkflowHandle[Any, Any]) -> str:
    """What a workflow is waiting for, in one or more sentences read from the server (describe, task queue, history)."""
    from temporalio.api.enums.v1 import PendingActivityState, WorkflowExecutionStatus

    client: Client = handle._client
    if not await server_reachable(client):
        return f"the Temporal server at {client.service_client.config.target_host} does not answer."
    try:
        raw = (await handle.describe()).raw_description
    except RPCError as e:
        return f"describing it failed: {e.message}."
    status = raw.workflow_execution_info.status
    if status != WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING:
        return f"it is no longer running ({WorkflowExecutionStatus.Name(status).rsplit('_', 1)[-1]})."
    queue = raw.execution_config.task_queue.name
    said = []
    task = raw.pending_workflow_task
    if raw.HasField("pending_workflow_task") and task.attempt > 1:
        said.append(f"its workflow task keeps failing (attempt {task.attempt}): {await _last_task_failure(handle)}")
    for p in raw.pending_activities:
        name, attempt = p.activity_type.name, p.attempt
        failure = f", last failure: {p.last_failure.message}" if p.HasField("last_failure") else ""
        if p.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED:
            said.append(f"activity {name} is running (attempt {attempt}, started {_ago(p.last_started_time):.0f} s ago"
                        f"{failure}).")
        elif p.HasField("next_attempt_schedule_time") and attempt > 1:
            wait = -_ago(p.next_attempt_schedule_time)
            said.append(f"activity {name} is waiting for its retry: attempt {attempt} "
                        f"{f'in {wait:.0f} s' if wait > 0 else 'is due now'}{failure}.")
        elif p.state == PendingActivityState.PENDING_ACTIVITY_STATE_PAUSED or p.paused:
            said.append(f"activity {name} is paused (attempt {attempt}{failure}).")
        else:
            said.append(f"activity {name} is scheduled (attempt {attempt}{failure}) but no worker has picked it up.")
    wants = {"workflow"} if raw.HasField("pending_workflow_task") else set()
    if any(p.state == PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED for p in raw.pending_activities):
        wants.add("activity")
    for kind in sorted(wants):
        if not await _polled(client, queue, kind):
            said.append(f"no worker has polled task queue {queue!r} for {kind} tasks: start a worker on it "
                        "(`await KernelWorker(lab, 'labs.<lesson>.worker', task_queue=...).start()`).")
    if not said:
        said.append("no activity or workflow task is pending: it waits for a timer, a signal, an update or a child.")
    return " ".join(said)


async def wait_result(handle: WorkflowHandle[Any, Any], timeout: float = 60.0, grace: float = 10.0) -> Any:
    """Await a workflow's result (any type) within `timeout` s.

    Raises WorkflowTaskFailed at once if its workflow task keeps failing, LabError if the server is silent for
    `grace` s, and TimeoutError saying what the workflow waits for (read from the server)."""
    result = asyncio.ensure_future(handle.result())
    deadline = time.monotonic() + timeout
    silent_since: float | None = None
    try:
        while True:
            done, _ = await asyncio.wait({result}, timeout=0.5)
            if done:
                try:
                    return result.result()
                except RPCError as e:
                    if e.status == RPCStatusCode.NOT_FOUND:
                        raise unknown_workflow(handle.id) from None
                    if e.status not in _TRANSIENT:
                        raise
                    result = asyncio.ensure_future(handle.result())  # the server is restarting: ask again
            asked = time.monotonic()
            try:
                failure = await asyncio.wait_for(_last_task_failure(handle), 5)
                silent_since = None
            except (RPCError, asyncio.TimeoutError) as e:
                if isinstance(e, RPCError) and e.status == RPCStatusCode.NOT_FOUND:
                    raise unknown_workflow(handle.id) from None
                if isinstance(e, RPCError) and e.status not in _TRANSIENT:
                    raise
                failure = None  # the server may be restarting: wait up to `grace` s
                silent_since = silent_since or asked
                if time.monotonic() - silent_since >= grace and not await server_reachable(handle._client):
                    raise server_unreachable(handle._client, time.monotonic() - silent_since) from None
            if failure:
                raise WorkflowTaskFailed(
                    f"Workflow {handle.id!r} is stuck: its workflow task failed with: {failure}\n"
                    "The workflow is still RUNNING and retries the task. Fix the workflow code in labs/, "
                    "then `await worker.restart()`; or terminate it with `await handle.terminate()`."
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"No result from {handle.id!r} after {timeout:g}s: {await diagnose(handle)}")
    finally:
        result.cancel()
