"""The lab command: dev server + JupyterLab on 127.0.0.1, state kept, Ctrl-C leaves nothing behind."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import psutil
import pytest
from temporalio.client import Client

from lab_support.procs import free_port


def _start(tmp_path, ports):
    env = dict(os.environ, LAB_STATE_DIR=str(tmp_path), LAB_TEMPORAL_PORT=str(ports[0]),
               LAB_UI_PORT=str(ports[1]), LAB_JUPYTER_PORT=str(ports[2]), JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"))
    env.pop("TEMPORAL_ADDRESS", None)
    return subprocess.Popen([sys.executable, "-m", "lab_support.launch"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)


def _wait_jupyter(port: int, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=2) as r:
                return json.loads(r.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def _stop(proc) -> str:
    tree = [proc.pid] + [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    os.kill(proc.pid, signal.SIGINT)  # Ctrl-C
    out, _ = proc.communicate(timeout=60)
    procs = [psutil.Process(p) for p in tree if psutil.pid_exists(p)]
    _, alive = psutil.wait_procs(procs, timeout=10)
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], "Ctrl-C left processes behind"
    return out.decode(errors="replace")


def _run_notebook_against(address: str, name: str) -> None:
    """Execute a notebook in a kernel that sees the lab's variables, as JupyterLab's kernels do."""
    import nbformat
    from nbclient import NotebookClient

    folder = Path(__file__).parent.parent / "notebooks"
    nb = nbformat.read(folder / name, as_version=4)
    old = dict(os.environ)
    os.environ.update(TEMPORAL_ADDRESS=address, TEMPORAL_NAMESPACE="default")
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    first_output = nb.cells[[c.cell_type for c in nb.cells].index("code")].outputs
    assert f"existing server at {address}" in str(first_output)


def test_lab_command_serves_on_loopback_keeps_state_and_cleans_up(tmp_path):
    ports = [free_port(), free_port(), free_port()]
    lab = _start(tmp_path, ports)
    try:
        assert "version" in _wait_jupyter(ports[2])
        tree = [lab.pid] + [c.pid for c in psutil.Process(lab.pid).children(recursive=True)]
        listening = {(c.laddr.ip, c.laddr.port) for c in psutil.net_connections("tcp")
                     if c.status == psutil.CONN_LISTEN and c.pid in tree}
        assert {p for _, p in listening} >= set(ports)
        assert all(ip == "127.0.0.1" for ip, _ in listening), listening
        with pytest.raises(urllib.error.HTTPError):  # the token is kept: the API needs it
            urllib.request.urlopen(f"http://127.0.0.1:{ports[2]}/api/contents", timeout=5)
        workflow_id = f"kept-{uuid.uuid4().hex[:6]}"

        async def start_one():
            client = await Client.connect(f"127.0.0.1:{ports[0]}")
            await client.start_workflow("Nobody", id=workflow_id, task_queue="nobody")

        asyncio.run(start_one())

        _run_notebook_against(f"127.0.0.1:{ports[0]}", "01_workflows_activities_replay.ipynb")

        async def agents_ran_there():
            client = await Client.connect(f"127.0.0.1:{ports[0]}")
            return [w.workflow_type async for w in client.list_workflows()]

        assert "SupportAgent" in asyncio.run(agents_ran_there())
    finally:
        out = _stop(lab)
    assert "Web UI: http://127.0.0.1:" in out and "token=" in out

    lab = _start(tmp_path, ports)  # state survives a restart of the lab
    try:
        _wait_jupyter(ports[2])

        async def still_there():
            client = await Client.connect(f"127.0.0.1:{ports[0]}")
            return (await client.get_workflow_handle(workflow_id).describe()).id

        assert asyncio.run(still_there()) == workflow_id
    finally:
        _stop(lab)


def test_busy_port_is_a_clear_error(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = s.getsockname()[1]
        lab = _start(tmp_path, [busy, free_port(), free_port()])
        out, _ = lab.communicate(timeout=30)
    assert lab.returncode == 2
    assert f"Port {busy}" in out.decode() and "LAB_TEMPORAL_PORT=" in out.decode()


async def test_lab_command_uses_an_existing_server_and_starts_none(tmp_path):
    from lab_support.server import ServerProcess

    server = await ServerProcess(tmp_path / "ext.db").start()
    try:
        env = dict(os.environ, TEMPORAL_ADDRESS=server.address, LAB_STATE_DIR=str(tmp_path),
                   LAB_JUPYTER_PORT=str(free_port()), JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"))
        lab = subprocess.Popen([sys.executable, "-m", "lab_support.launch"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)
        try:
            await asyncio.to_thread(_wait_jupyter, int(env["LAB_JUPYTER_PORT"]))
            tree = psutil.Process(lab.pid).children(recursive=True)
            assert not [p for p in tree if "start-dev" in " ".join(p.cmdline())], "no dev server of its own"
        finally:
            out = _stop(lab)
        assert f"Using the Temporal server at {server.address}" in out
    finally:
        server.kill()


def test_unreachable_existing_server_is_a_clear_error(tmp_path):
    env = dict(os.environ, TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}", LAB_STATE_DIR=str(tmp_path))
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "lab_support.launch"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and "Fix:" in done.stderr
    assert time.monotonic() - started < 40
