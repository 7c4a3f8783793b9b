"""`python3 tasks.py lab`: a Temporal dev server with its Web UI, plus JupyterLab, both on 127.0.0.1.

The server keeps its state in `.lab-state/temporal.db`, so workflows survive a restart of the lab.
Notebooks started from this JupyterLab connect to it (TEMPORAL_ADDRESS is set for them). Ctrl-C
stops everything; if this launcher is killed, the tethers stop its children too. The terminal shows
only the two links and how to stop; Jupyter's messages go to `.lab-state/logs/jupyter.log`, its errors
are shown here too.
Ports: LAB_TEMPORAL_PORT (7233), LAB_UI_PORT (8233), LAB_JUPYTER_PORT (8888).
With TEMPORAL_ADDRESS set, no dev server is started: JupyterLab's notebooks use that server (the
docker-compose stack does this). LAB_BIND_IP changes JupyterLab's address (only inside a container).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from .procs import kill_group, port_busy, tethered_command
from .server import STATE, LabError, ServerProcess, find_binary, settle_orphans_at

ROOT = Path(__file__).resolve().parent.parent

START_NOTEBOOK = "notebooks/00_why_durable_execution.ipynb"  # where JupyterLab opens
# JupyterLab settings the lab imposes (settings "overrides"): an offline lab asks no question about
# fetching Jupyter news and never checks for updates (`--LabApp.news_url=None` alone still asks).
SETTINGS = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}


def jupyter_options(port: int, token_file: Path) -> list[str]:
    """`jupyter lab` options: loopback, `port`, opening notebook 00, the lab's settings and layouts under
    STATE/jupyter (SETTINGS merged into its settings/overrides.json), a fresh token in `token_file` (mode 0600),
    no browser, no news."""
    home = STATE / "jupyter"
    (home / "settings").mkdir(parents=True, exist_ok=True)
    overrides = home / "settings" / "overrides.json"  # yours are kept; the lab's SETTINGS win
    mine = json.loads(overrides.read_text()) if overrides.exists() else {}
    overrides.write_text(json.dumps({**mine, **{k: {**mine.get(k, {}), **v} for k, v in SETTINGS.items()}}, indent=2))
    token_file.touch(mode=0o600)
    token_file.write_text(os.environ.get("JUPYTER_TOKEN") or secrets.token_hex(24))  # yours, if you set one
    options = ["--ip", os.environ.get("LAB_BIND_IP", "127.0.0.1"), f"--port={port}", "--port-retries=0",
               "--no-browser", f"--ServerApp.root_dir={ROOT}", f"--LabApp.default_url=/lab/tree/{START_NOTEBOOK}",
               f"--LabApp.app_settings_dir={home / 'settings'}", f"--LabApp.workspaces_dir={home / 'workspaces'}",
               "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        options.append("--allow-root")  # containers and CI run as root
    return options


def _jupyter_answers(port: int) -> bool:
    """True once JupyterLab answers HTTP on 127.0.0.1:`port`."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=1):
            return True
    except OSError:
        return False


def _echo_errors(log: Path, offset: int) -> int:
    """Print to stderr the error records ([E], [C] and their continuation lines) written to Jupyter's `log`
    after byte `offset` (whole lines only); returns the new offset."""
    if not log.exists():
        return offset
    with log.open("rb") as f:
        f.seek(offset)
        data = f.read()
    end = data.rfind(b"\n") + 1
    showing = False
    for line in data[:end].decode(errors="replace").splitlines():
        if line.startswith("["):
            banner = line.rstrip().endswith("]")  # the [C] record that only introduces the link: not an error
            showing = line.startswith(("[E ", "[C ")) and not banner
        if showing:
            print(line, file=sys.stderr, flush=True)
    return offset + end


def _answers_as_temporal(port: int) -> bool:
    """True if a Temporal server answers a health check on 127.0.0.1:`port` (asks the `temporal` CLI, ~2 s at most)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
    command = [str(find_binary("temporal")), "operator", "cluster", "health", "--address", f"127.0.0.1:{port}",
               "--command-timeout", "2s"]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and "SERVING" in done.stdout


def _ports(wanted: dict[str, int]) -> dict[str, int]:
    """Ports by variable name (env value or default); one LabError listing EVERY busy one, with free ones to use."""
    ports = {}
    for name, default in wanted.items():
        value = os.environ.get(name, str(default))
        if not value.isdigit():
            raise LabError(f"{name}={value!r} is not a port number. Fix: set it to a free port such as {default}.")
        ports[name] = int(value)
    busy = {name: port for name, port in ports.items() if port_busy(port)}
    if not busy:
        return ports
    taken = set(ports.values())
    moves = []
    for name, port in busy.items():
        free = port + 10
        while port_busy(free) or free in taken:
            free += 10
        taken.add(free)
        moves.append(f"{name}={free}")
    listed = ", ".join(f"{port} ({name})" for name, port in busy.items())
    message = (f"Ports already in use on 127.0.0.1: {listed} (is another lab or Temporal server running?). "
               f"Fix: stop what uses them, or choose free ones: {' '.join(moves)} python3 tasks.py lab")
    grpc = busy.get("LAB_TEMPORAL_PORT")
    if grpc and _answers_as_temporal(grpc):
        message += (f"\nPort {grpc} answers as a Temporal server. To use that server instead of starting one: "
                    f"TEMPORAL_ADDRESS=127.0.0.1:{grpc} python3 tasks.py lab")
    raise LabError(message)


def _start_dev_server(procs: list[subprocess.Popen[bytes]], log: Path, grpc: int, ui: int) -> dict[str, str]:
    """Start the persistent dev server with its Web UI; returns the environment notebooks should get."""
    server = ServerProcess(STATE / "temporal.db", port=grpc, ui_port=ui, log_file=log)
    try:
        asyncio.run(server.start())
    finally:
        if server.proc is not None:
            procs.append(server.proc)
    ui_url = f"http://127.0.0.1:{ui}"
    print(f"Temporal dev server: {server.address}   Web UI: {ui_url}   (state: {STATE / 'temporal.db'})", flush=True)
    return dict(os.environ, TEMPORAL_ADDRESS=server.address, TEMPORAL_NAMESPACE="default", LAB_UI_URL=ui_url)


def _stop_untracked(tracked: set[int]) -> None:
    """Stop children this launcher started but never got to track (a Ctrl-C inside Popen, after the fork)."""
    import psutil

    for child in psutil.Process().children():
        if child.pid not in tracked:
            try:
                os.killpg(child.pid, signal.SIGTERM)  # each leads its own session (start_new_session=True)
            except (ProcessLookupError, PermissionError):
                child.terminate()
    psutil.wait_procs(psutil.Process().children(), timeout=15)


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    """Run the lab until Ctrl-C (or until JupyterLab exits)."""
    procs: list[subprocess.Popen[bytes]] = []
    for sig in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C or `kill`; SIGINT even if a shell started us ignoring it
        # our own handler, not default_int_handler: asyncio.run() then keeps it instead of installing one that
        # only cancels its task (a Ctrl-C during the start-up settling was swallowed and the lab started anyway)
        signal.signal(sig, _interrupted)
    try:
        (STATE / "logs").mkdir(parents=True, exist_ok=True)
        log = STATE / "logs" / "lab-server.log"
        existing = bool(os.environ.get("TEMPORAL_ADDRESS"))  # an existing server (docker compose, a cluster, Cloud)
        wanted = {"LAB_JUPYTER_PORT": 8888} if existing else {"LAB_TEMPORAL_PORT": 7233, "LAB_UI_PORT": 8233,
                                                              "LAB_JUPYTER_PORT": 8888}
        ports = _ports(wanted)  # every busy port is reported at once, before anything starts
        if existing:
            from .server import connect

            lab = asyncio.run(connect(timeout=30))
            print(f"Using the Temporal server at {lab.address} (namespace {lab.namespace}); no dev server started.",
                  flush=True)
            env = dict(os.environ)
        else:
            env = _start_dev_server(procs, log, ports["LAB_TEMPORAL_PORT"], ports["LAB_UI_PORT"])
        settle_orphans_at(env["TEMPORAL_ADDRESS"])  # what kernels of an earlier lab left RUNNING (killed before clean-up)
        web = ports["LAB_JUPYTER_PORT"]
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        token_file = STATE / "jupyter" / "token"
        env["JUPYTER_TOKEN_FILE"] = str(token_file)  # our token, so we can print the link once Jupyter answers
        jupyter = [sys.executable, "-m", "jupyter", "lab", *jupyter_options(web, token_file)]
        jupyter_log = STATE / "logs" / "jupyter.log"
        seen = jupyter_log.stat().st_size if jupyter_log.exists() else 0
        # Jupyter's messages go to its log (errors are echoed below); it runs in its own session so
        # that Ctrl-C reaches only this launcher, which then shuts everything down in order.
        procs.append(subprocess.Popen(tethered_command(jupyter, jupyter_log), env=env, cwd=ROOT,
                                      stdin=subprocess.DEVNULL, start_new_session=True))
        print("JupyterLab is starting ...", flush=True)
        announced = False
        while all(p.poll() is None for p in procs):
            seen = _echo_errors(jupyter_log, seen)
            if not announced and _jupyter_answers(web):
                announced = True
                print(f"JupyterLab: http://127.0.0.1:{web}/lab/tree/{START_NOTEBOOK}?token={token_file.read_text()}\n"
                      f"Ctrl-C stops the lab. JupyterLab's messages: {jupyter_log} (errors are shown here too).",
                      flush=True)
            time.sleep(0.3)
        _echo_errors(jupyter_log, seen)
        which = "JupyterLab" if procs[-1].poll() is not None else "The Temporal server"
        if procs[-1].poll() is not None:
            tail = jupyter_log.read_text(errors="replace").splitlines()[-15:] if jupyter_log.exists() else []
            print("\n".join(tail), file=sys.stderr)
        print(f"error: {which} exited on its own (see the messages above, {jupyter_log} and {log}); "
              "stopping the lab.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping JupyterLab and the Temporal server ...", flush=True)
        return 0
    except LabError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the cleanup
        for proc in reversed(procs):
            kill_group(proc, signal.SIGTERM, wait=15)
        _stop_untracked({proc.pid for proc in procs})


if __name__ == "__main__":
    status = main()  # every child is stopped by now (main's finally)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)  # the SDK's runtime can abort at interpreter exit (SIGABRT); skip that teardown
