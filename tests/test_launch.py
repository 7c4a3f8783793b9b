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

from .conftest import command_line


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


def _lines(proc, count: int = 4, timeout: float = 60) -> list[str]:
    """The launcher's first `count` lines of output (read as they come; the rest stays for `_stop`)."""
    lines = []
    deadline = time.monotonic() + timeout
    while len(lines) < count and time.monotonic() < deadline:
        line = proc.stdout.readline().decode(errors="replace")
        if not line:
            break
        lines.append(line.rstrip("\n"))
    proc.consumed = "\n".join(lines) + "\n"
    return lines


def _stop(proc) -> str:
    tree = [proc.pid] + [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    os.kill(proc.pid, signal.SIGINT)  # Ctrl-C
    out, _ = proc.communicate(timeout=60)
    procs = [psutil.Process(p) for p in tree if psutil.pid_exists(p)]
    _, alive = psutil.wait_procs(procs, timeout=10)
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], "Ctrl-C left processes behind"
    return getattr(proc, "consumed", "") + out.decode(errors="replace")


def _run_notebook_in_lab_kernel(port: int, runtime_dir: Path, name: str, first: int | None = None) -> list[str]:
    """Open a notebook in the lab's own JupyterLab (REST + kernel websocket) and run every code cell (given `first`:
    the first `first` code cells and the last one, the clean-up).

    This is what a learner's click on "Run All" does: the kernel is started by the lab's Jupyter
    server, so it sees only what the lab command gave it. Returns each code cell's text output;
    fails on an error in a cell not tagged `raises-exception`."""
    import nbformat
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    token = json.loads(next(runtime_dir.glob("jpserver-*.json")).read_text())["token"]
    headers = {"Authorization": f"token {token}", "Content-Type": "application/json"}
    body = json.dumps({"path": f"notebooks/{name}", "type": "notebook", "kernel": {"name": "python3"}}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/sessions", data=body, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as r:
        kernel = json.loads(r.read())["kernel"]["id"]
    nb = nbformat.read(Path(__file__).parent.parent / "notebooks" / name, as_version=4)

    async def run_all() -> list[str]:
        # the server answers once the new kernel is ready: tornado's default 20 s was too short in a loaded cold run
        ws = await websocket_connect(HTTPRequest(f"ws://127.0.0.1:{port}/api/kernels/{kernel}/channels",
                                                 headers=headers, connect_timeout=90, request_timeout=90))
        outputs = []
        code = [c for c in nb.cells if c.cell_type == "code"]
        for cell in code if first is None else code[:first] + code[-1:]:
            msg_id = uuid.uuid4().hex
            await ws.write_message(json.dumps({
                "header": {"msg_id": msg_id, "msg_type": "execute_request", "session": "test", "username": "test",
                           "version": "5.3"},
                "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                "content": {"code": cell.source, "silent": False, "store_history": True, "user_expressions": {},
                            "allow_stdin": False, "stop_on_error": True}}))
            text, error, idle = [], None, False
            while not idle:
                msg = json.loads(await asyncio.wait_for(ws.read_message(), timeout=120))
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "stream" or kind in ("execute_result", "display_data"):
                    text.append(content.get("text") or content.get("data", {}).get("text/plain", ""))
                elif kind == "error":
                    error = f"{content['ename']}: {content['evalue']}"
                idle = kind == "status" and content["execution_state"] == "idle"
            if error and "raises-exception" not in cell.metadata.get("tags", []):
                raise AssertionError(f"cell failed in the lab's kernel: {error}\n{cell.source}")
            outputs.append("".join(text))
        ws.close()
        return outputs

    return asyncio.run(run_all())


@pytest.mark.long(30)  # seconds in a full run: started early (conftest.py)
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

        # its Setup cell, first demo and clean-up (nbmake runs the whole lesson; here only where it runs matters)
        outputs = _run_notebook_in_lab_kernel(ports[2], tmp_path / "rt", "01_workflows_activities_replay.ipynb",
                                              first=2)
        assert f"existing server at 127.0.0.1:{ports[0]}" in outputs[0], outputs[0]

        async def agents_ran_there():
            client = await Client.connect(f"127.0.0.1:{ports[0]}")
            return [w.workflow_type async for w in client.list_workflows()]

        assert "SupportAgent" in asyncio.run(agents_ran_there())
        link = next(line.split()[-1] for line in _lines(lab) if line.startswith("JupyterLab: http"))
        assert link.startswith(f"http://127.0.0.1:{ports[2]}/lab/tree/notebooks/00_why_durable_execution.ipynb?token=")
        token = link.split("token=")[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{ports[2]}/api/contents/notebooks?token={token}", timeout=5):
            pass  # the printed token is the server's
        notification = f"http://127.0.0.1:{ports[2]}/lab/api/settings/@jupyterlab/apputils-extension:notification"
        with urllib.request.urlopen(f"{notification}?token={token}", timeout=5) as r:
            defaults = {k: v.get("default") for k, v in json.loads(r.read())["schema"]["properties"].items()}
        assert defaults["fetchNews"] == "false" and defaults["checkForUpdates"] is False, defaults  # no news toast
    finally:
        out = _stop(lab)
    assert "Web UI: http://127.0.0.1:" in out and "token=" in out
    assert "ServerApp]" not in out and "[I " not in out, f"Jupyter's messages belong in its log:\n{out}"
    assert "jupyter.log" in out and "ServerApp]" in (tmp_path / "logs" / "jupyter.log").read_text()

    lab = _start(tmp_path, ports)  # state survives a restart of the lab
    try:
        _wait_jupyter(ports[2])

        async def still_there():
            client = await Client.connect(f"127.0.0.1:{ports[0]}")
            return (await client.get_workflow_handle(workflow_id).describe()).id

        assert asyncio.run(still_there()) == workflow_id
    finally:
        _stop(lab)


def test_every_busy_port_is_reported_at_once(tmp_path):
    import socket

    sockets = [socket.socket() for _ in range(3)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
            s.listen()
        busy = [s.getsockname()[1] for s in sockets]
        lab = _start(tmp_path, busy)
        out, _ = lab.communicate(timeout=30)
    finally:
        for s in sockets:
            s.close()
    text = out.decode()
    assert lab.returncode == 2, text
    for port, name in zip(busy, ["LAB_TEMPORAL_PORT", "LAB_UI_PORT", "LAB_JUPYTER_PORT"]):
        assert f"{port} ({name})" in text and f"{name}=" in text, text
    assert "TEMPORAL_ADDRESS" not in text, "a plain socket is not a Temporal server"
    assert "panicked" not in text and "Traceback" not in text, text


async def test_busy_temporal_port_offers_the_running_server(tmp_path):
    from lab_support.server import ServerProcess

    server = await ServerProcess(tmp_path / "busy.db").start()
    try:
        lab = _start(tmp_path, [server.port, free_port(), free_port()])
        out, _ = await asyncio.to_thread(lab.communicate, timeout=30)
    finally:
        server.kill()
    text = out.decode()
    assert lab.returncode == 2, text
    assert f"{server.port} (LAB_TEMPORAL_PORT)" in text and "LAB_TEMPORAL_PORT=" in text
    assert f"TEMPORAL_ADDRESS=127.0.0.1:{server.port} python3 tasks.py lab" in text
    assert "panicked" not in text and "Traceback" not in text, text


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
            assert not [p for p in tree if "start-dev" in command_line(p)], "no dev server of its own"
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


def test_jupyter_errors_are_shown_and_its_chatter_is_not(tmp_path, capsys):
    from lab_support.launch import _echo_errors

    log = tmp_path / "jupyter.log"
    log.write_text("[I 2026-11-29 14:53:46.297 ServerApp] jupyter_lsp | extension was successfully linked.\n"
                   "[C 2026-11-29 14:53:46.562 ServerApp] \n    To access the server, open this file\n"
                   "[E 2026-11-29 14:53:47.000 ServerApp] Uncaught exception GET /api/x\n"
                   "    Traceback (most recent call last):\n"
                   "[W 2026-11-29 14:53:48.000 ServerApp] 404 GET /favicon.ico\n"
                   "[C 2026-11-29 14:53:49.000 ServerApp] Running as root is not recommended.\n[E 2026-11-29 half")
    offset = _echo_errors(log, 0)
    shown = capsys.readouterr().err
    assert shown.splitlines() == ["[E 2026-11-29 14:53:47.000 ServerApp] Uncaught exception GET /api/x",
                                  "    Traceback (most recent call last):",
                                  "[C 2026-11-29 14:53:49.000 ServerApp] Running as root is not recommended."]
    assert offset == len(log.read_bytes()) - len("[E 2026-11-29 half"), "a half-written line waits for its end"


def test_jupyter_options_open_notebook_00_and_keep_your_settings_overrides(tmp_path, monkeypatch):
    from lab_support import launch

    monkeypatch.setattr(launch, "STATE", tmp_path)
    overrides = tmp_path / "jupyter" / "settings" / "overrides.json"
    overrides.parent.mkdir(parents=True)
    overrides.write_text(json.dumps({"@jupyterlab/docmanager-extension:plugin": {"autosave": False},
                                     "@jupyterlab/apputils-extension:notification": {"fetchNews": "true"}}))
    options = launch.jupyter_options(8888, tmp_path / "jupyter" / "token")
    assert "--LabApp.default_url=/lab/tree/notebooks/00_why_durable_execution.ipynb" in options
    assert (launch.ROOT / launch.START_NOTEBOOK).exists()
    merged = json.loads(overrides.read_text())
    assert merged["@jupyterlab/docmanager-extension:plugin"] == {"autosave": False}  # yours are kept
    assert merged["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"  # the lab's win
    assert len((tmp_path / "jupyter" / "token").read_text()) == 48
    assert (tmp_path / "jupyter" / "token").stat().st_mode & 0o077 == 0, "the token file is private"
