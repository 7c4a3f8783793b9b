"""Time the test command: wall time, the sum of notebook times, their ratio, per worker count.

    python3 benchmarks/suite.py                  # the test command as it is (warm .venv)
    python3 benchmarks/suite.py --workers 2 3 4  # one run per LAB_TEST_WORKERS value
    python3 benchmarks/suite.py --cold           # from a fresh clone of HEAD (new .venv), then warm in it

Notebook times are the ones nbmake's run recorded in `_build/book/executed/` (root conftest.py).
Targets (design §6): under 4 minutes warm, under 6 minutes cold, every notebook executed once.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(folder: Path, workers: str | None) -> dict[str, object]:
    """Run `python3 tasks.py test` in `folder`; returns wall seconds, pass/fail counts and notebook seconds."""
    env = dict(os.environ)
    if workers:
        env["LAB_TEST_WORKERS"] = workers
    executed = folder / "_build" / "book" / "executed"
    for old in executed.glob("*.ipynb"):
        old.unlink()
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "tasks.py", "test", "-q", "--durations=10"], cwd=folder, env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - started
    summary = next((l for l in reversed(done.stdout.splitlines()) if re.search(r"\d+ (passed|failed)", l)), "?")
    notebooks = {p.stem: json.loads(p.read_text())["metadata"]["lab_book"]["seconds"] for p in executed.glob("*.ipynb")}
    slow = done.stdout.split("slowest 10 durations", 1)[-1].split("short test summary", 1)[0].split("=" * 5, 1)[-1]
    return {"wall": wall, "summary": summary.strip("= "), "notebooks": notebooks, "slowest": slow.strip(),
            "ok": done.returncode == 0}


def report(label: str, r: dict[str, object]) -> None:
    """Print one run as table rows."""
    nb_sum = sum(r["notebooks"].values())  # type: ignore[union-attr]
    print(f"{label:<22} {r['wall']:7.1f} s {nb_sum:8.1f} s {nb_sum / r['wall']:6.2f}   {r['summary']}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", nargs="*", default=[None])
    parser.add_argument("--cold", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="also print the slowest tests and notebook times")
    args = parser.parse_args()
    folder = ROOT
    if args.cold:
        folder = Path(tempfile.mkdtemp(prefix="lab-cold-")) / "lab"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(folder)], check=True)
    print(f"{'run':<22} {'wall':>9} {'notebooks':>10} {'ratio':>6}   result (ratio = notebook seconds / wall seconds)")
    runs = [("cold", None), ("warm", None)] if args.cold else [(f"warm, workers={w or 'default'}", w) for w in args.workers]
    ok = True
    for label, workers in runs:
        r = run(folder, workers)
        report(label, r)
        ok &= bool(r["ok"])
        if args.verbose:
            print(r["slowest"])
            for name, seconds in sorted(r["notebooks"].items()):  # type: ignore[union-attr]
                print(f"    {name:<40} {seconds:6.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
