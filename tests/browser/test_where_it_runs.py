"""Where the browser tests run: with Chromium always; without, skipped with one line naming the fix; CI installs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import tasks  # noqa: E402


def test_without_chromium_the_browser_tests_are_skipped_with_the_enabling_command(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_CHROMIUM", str(tmp_path / "no-chromium"))
    monkeypatch.delenv("LAB_BROWSER_TESTS", raising=False)
    args, note = tasks.browser_tests()
    assert args == ["--ignore=tests/browser/test_lab_in_browser.py"]
    assert "browser tests were SKIPPED" in note and "apt-get install chromium" in note and "\n" not in note


def test_with_chromium_they_run_and_ci_requires_them(tmp_path, monkeypatch):
    chromium = tmp_path / "chromium"
    chromium.touch()
    monkeypatch.setenv("LAB_CHROMIUM", str(chromium))
    assert tasks.browser_tests() == ([], "")
    monkeypatch.setenv("LAB_CHROMIUM", str(tmp_path / "no-chromium"))
    monkeypatch.setenv("LAB_BROWSER_TESTS", "required")
    done = subprocess.run([sys.executable, "-c", "import tasks; tasks.browser_tests()"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode != 0 and "apt-get install chromium" in done.stderr
    ci = (ROOT / ".ci" / "run").read_text()
    assert "apt-get install -y" in ci and "chromium" in ci and "LAB_BROWSER_TESTS=required" in ci
    assert ci.index("apt-get update") < ci.index("apt-get install") < ci.index("python3 tasks.py test")
