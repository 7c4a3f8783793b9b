"""Process plumbing: free ports, killable child processes, and a tether so no child outlives the lab."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Sequence

LINUX = sys.platform.startswith("linux")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_busy(port: int, host: str = "127.0.0.1") -> bool:
    """True if something already listens on host:port."""
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """preexec_fn: ask Linux to SIGKILL this child when its (single-threaded) parent dies."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def watch_parent(interval: float = 0.2) -> None:
    """Exit this process (hard) as soon as its parent process is gone; runs in a daemon thread."""
    parent = os.getppid()

    def loop() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=loop, name="watch-parent", daemon=True).start()


def tethered_command(args: Sequence[str], log: Path) -> list[str]:
    """The command that runs `args` through the tether: its output goes to `log`, it dies with us."""
    # our pid travels with it: had we died before the tether read its parent, getppid() would name init
    return [sys.executable, "-m", "lab_support.procs", str(log), f"--parent={os.getpid()}", *args]


def spawn(args: Sequence[str], log: Path | IO[bytes], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start `args` in its own process group with stdout+stderr appended to `log`."""
    out = open(log, "ab") if isinstance(log, Path) else log
    try:
        return subprocess.Popen(
            list(args), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            env=env, start_new_session=True,
        )
    finally:
        if isinstance(log, Path):
            out.close()


def kill_group(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL, wait: float = 10.0) -> None:
    """Send `sig` to the child's whole process group and reap it (SIGKILL after `wait` s)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _tether(log: str, args: list[str], parent: int | None = None) -> int:
    """Run `args` with output to `log` ("-": ours); stop it on SIGTERM/SIGINT or when our parent dies.

    The tether leads its own session, so a Ctrl-C or a Jupyter "Interrupt kernel" (SIGINT to the
    parent's whole process group) reaches neither it nor `args`; they still die with the parent."""
    stop = threading.Event()  # first: a SIGTERM from a parent stopping at once must still stop the child
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    parent = parent or os.getppid()
    if os.getppid() != parent:  # the parent is gone already: start nothing
        return 0
    try:
        os.setsid()
    except OSError:  # already a session leader (started with start_new_session=True)
        pass
    with open(log if log != "-" else os.devnull, "ab") as out:
        child = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=None if log == "-" else out,
            stderr=None if log == "-" else subprocess.STDOUT,
            preexec_fn=_die_with_parent if LINUX else None,
        )
    while child.poll() is None and not stop.is_set() and os.getppid() == parent:
        stop.wait(0.2)
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return child.returncode or 0


if __name__ == "__main__":
    # python -m lab_support.procs LOGFILE --parent=PID command args...  (tethered_command builds it)
    sys.exit(_tether(sys.argv[1], sys.argv[3:], int(sys.argv[2].removeprefix("--parent="))))
