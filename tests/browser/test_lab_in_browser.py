"""The lab as a learner sees it: the README's `python3 tasks.py lab`, driven in a real Chromium by Playwright.

One test, one lab, steps in order (each failure names its step); a screenshot of each step goes to
`_build/screenshots/` (git-ignored) for a person to look at. Skipped, saying how to enable it, when no
Chromium is installed (`python3 tasks.py test` says so once). Playwright never downloads a browser here:
it drives the system's Chromium (`/usr/bin/chromium`, or `LAB_CHROMIUM`).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import psutil
import pytest

from lab_support.procs import free_port

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = os.environ.get("LAB_CHROMIUM", "/usr/bin/chromium")
ENABLE = "sudo apt-get install chromium   (or set LAB_CHROMIUM to a Chromium binary)"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
NB00, NB04 = "00_why_durable_execution.ipynb", "04_human_in_the_loop.ipynb"
STDERR = "application/vnd.jupyter.stderr"  # JupyterLab's mime type for stderr and error outputs
RUN_ALL_TIMEOUT = 240_000  # ms: notebook 00 takes ~45 s alone; both notebooks run at once on a loaded machine

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}: {ENABLE}")


class Lab:
    """`python3 tasks.py lab` as a subprocess on free ports with its own state dir, live (no LAB_HEADLESS)."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self._start()

    def _start(self) -> None:
        self.ports = {name: free_port() for name in ("LAB_TEMPORAL_PORT", "LAB_UI_PORT", "LAB_JUPYTER_PORT")}
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "LAB_", "JUPYTER_"))}
        env.update({k: str(v) for k, v in self.ports.items()}, LAB_STATE_DIR=str(self.state),
                   JUPYTER_RUNTIME_DIR=str(self.state / "runtime"))
        self.proc = subprocess.Popen([sys.executable, "tasks.py", "lab"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, args=(self.proc.stdout, self.lines), daemon=True)
        self._reader.start()

    @staticmethod
    def _read(stream: Any, lines: list[str]) -> None:
        for raw in stream:
            lines.append(raw.decode(errors="replace").rstrip("\n"))

    def printed(self, label: str, timeout: float = 120, retries: int = 2) -> str:
        """The URL the launcher printed after `label` (waits for it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                if found := re.search(re.escape(label) + r"\s*(http://\S+)", line):
                    return found.group(1)
            if self.proc.poll() is not None:
                self._reader.join(5)  # its output up to the end
                if retries and any("already in use" in line for line in self.lines):
                    # the free ports chosen above, taken by another test's process before the launcher bound them
                    self._start()
                    return self.printed(label, timeout, retries - 1)
                break
            time.sleep(0.2)
        raise AssertionError(f"the lab command printed no {label!r} link (exit status {self.proc.poll()}):\n"
                             + "\n".join(self.lines))

    def stop(self) -> None:
        """Ctrl-C (SIGINT to the launcher's process group), then: its group and every process it started are gone."""
        if self.proc.poll() is not None:  # it exited by itself (a failed start): its group must be gone all the same
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                try:
                    os.killpg(self.proc.pid, 0)
                except ProcessLookupError:
                    return
                time.sleep(0.2)
            raise AssertionError(f"the lab command exited ({self.proc.returncode}) but left processes in its group")
        tree = [self.proc.pid] + [c.pid for c in psutil.Process(self.proc.pid).children(recursive=True)]
        os.killpg(self.proc.pid, signal.SIGINT)
        self.proc.wait(60)
        _, alive = psutil.wait_procs([psutil.Process(p) for p in tree if psutil.pid_exists(p)], timeout=15)
        left = [f"{p.pid} {' '.join(p.cmdline())[:120]}" for p in alive if p.status() != psutil.STATUS_ZOMBIE]
        assert not left, "Ctrl-C left processes behind:\n" + "\n".join(left)
        with pytest.raises(ProcessLookupError):
            os.killpg(self.proc.pid, 0)  # the launcher's process group is gone


@contextmanager
def step(name: str, page=None) -> Iterator[None]:
    """Name the step in any failure inside it (and keep a screenshot of the page as it failed)."""
    started = time.monotonic()
    try:
        yield
    except Exception as e:
        errors = ""
        if page is not None:
            shot(page, "FAILED " + name.split(".")[0])
            errors = "\n---\n".join(page.locator(".jp-CodeCell", has=page.locator(
                f".jp-OutputArea-output[data-mime-type='{STDERR}']")).all_text_contents())
        raise AssertionError(f"browser step {name!r} failed: {type(e).__name__}: {str(e)[:1500]}\n"
                             f"errors shown in the notebooks:\n{errors[-3000:]}") from e
    print(f"browser step {name}: {time.monotonic() - started:.1f} s")


def notebook(page, name: str):
    """The notebook panel of the tab called `name` (a locator)."""
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=name).first
    tab.wait_for(timeout=60_000)
    return page.locator(f"#{tab.get_attribute('data-id')}")


def open_notebook(page, name: str):
    """Open notebooks/`name` from the file browser (as a learner does) and return its panel."""
    page.locator(".jp-DirListing-item", has_text=name).first.dblclick()
    return notebook(page, name)


def run_all(page, panel, from_cell=None, only=None) -> None:
    """Run → Run All Cells in `panel`'s notebook (given `from_cell`: Run Selected Cell and All Below; given `only`:
    Run Selected Cell), once its kernel is idle, and see the first cell run start.

    Under load a command JupyterLab took while the kernel was still starting ran nothing (every prompt stayed "[ ]"),
    and once a Ctrl+Enter on a selected cell was lost: so menus, not keys, and a command that left the first cell's
    prompt at "[ ]" for 20 s is sent again (up to 3 times; "[ ]" means nothing was queued, so nothing runs twice)."""
    from playwright.sync_api import expect

    expect(panel.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_have_count(1, timeout=120_000)
    first = only or from_cell or panel.locator(".jp-CodeCell").first
    if only is not None:
        label = r"^Run Selected Cells?$"
    elif from_cell is not None:
        label = r"^Run Selected Cell and All Below$"
    else:
        label = r"^Run All Cells$"
    for attempt in range(3):
        if first is only or first is from_cell:
            first.locator(".jp-InputPrompt").click()  # select the cell (command mode)
        else:
            panel.locator(".jp-Notebook").first.click(position={"x": 5, "y": 5})  # focus this notebook
        page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-item", has=page.locator(".lm-Menu-itemLabel", has_text=re.compile(label))).click()
        try:
            expect(first.locator(".jp-InputPrompt")).to_contain_text(re.compile(r"\[(\*|\d+)\]"), timeout=20_000)
            return
        except AssertionError:
            if attempt == 2:
                raise


def cell(panel, text: str):
    """The code cell whose source contains `text`."""
    return panel.locator(".jp-CodeCell", has_text=text).first


def shot(page, name: str, target=None) -> None:
    if target is not None:
        target.scroll_into_view_if_needed()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def workflow_ids(port: int) -> dict[str, str]:
    """Workflow id -> type of every workflow on the lab's server (the ground truth the Web UI must show)."""
    from temporalio.client import Client

    async def ids() -> dict[str, str]:
        client = await Client.connect(f"127.0.0.1:{port}")
        return {w.id: w.workflow_type async for w in client.list_workflows()}

    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API runs an event loop in this thread
        return pool.submit(asyncio.run, ids()).result()


@pytest.mark.timeout(900)  # one lab, two notebooks run from the UI, the Web UI: a walkthrough, not a unit test
@pytest.mark.long(90)  # seconds in a full run: started early (conftest.py)
def test_the_lab_in_a_real_browser(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    started = time.monotonic()
    notebooks = {path: path.read_bytes() for path in (ROOT / "notebooks").glob("*.ipynb")}
    settings = tmp_path / "state" / "jupyter" / "settings"
    settings.mkdir(parents=True)  # JupyterLab must not autosave outputs into the learner's notebooks
    (settings / "overrides.json").write_text('{"@jupyterlab/docmanager-extension:plugin": {"autosave": false}}')
    lab = Lab(tmp_path / "state")
    try:
        with step("start the lab command"):
            ui_url = lab.printed("Web UI:")
            link = lab.printed("JupyterLab:")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            try:
                page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
                browser_steps(page, link, ui_url, lab.ports["LAB_TEMPORAL_PORT"], expect)
            finally:
                browser.close()
    finally:
        with step("Ctrl-C stops everything"):
            lab.stop()
        changed = [path.name for path, data in notebooks.items() if path.read_bytes() != data]
        for path in changed:
            path.write_bytes(notebooks[path])
    assert not changed, f"the browser session wrote into the repository's notebooks: {changed}"
    print(f"browser test: {time.monotonic() - started:.1f} s")


def idle(panel, timeout: float = RUN_ALL_TIMEOUT) -> None:
    """Wait until no cell of `panel` is queued or running (Run All has finished)."""
    from playwright.sync_api import expect

    expect(panel.locator(".jp-InputPrompt", has_text="*")).to_have_count(0, timeout=timeout)


def browser_steps(page, link: str, ui_url: str, grpc_port: int, expect) -> None:
    with step("a. JupyterLab opens at notebook 00 with its token", page):
        page.goto(link)
        nb00 = notebook(page, NB00)
        expect(nb00.locator(".jp-MarkdownCell h1").first).to_contain_text("Why durable execution", timeout=60_000)
        # As a learner who skips ahead: the Setup cell, then section 6 "Now you try" and all below (nbmake runs the
        # whole lesson; sections 1-5 add nothing the browser must show, and twice as long a walkthrough).
        run_all(page, nb00, only=cell(nb00, "lab = await setup()"))
        run_all(page, nb00, from_cell=cell(nb00, "ChaosPanel("))  # runs to the end; section 6 waits for the learner

    with step("b. notebook 04: Run All waits for the learner's click on Approve", page):
        nb04 = open_notebook(page, NB04)
        run_all(page, nb04)
        panel = cell(nb04, "panel.ask()")
        approve = panel.get_by_role("button", name="Approve")
        expect(panel).to_contain_text("Your turn", timeout=RUN_ALL_TIMEOUT)
        next_cell = cell(nb04, "print(await wait_result(handle))")
        expect(approve).to_be_enabled()
        expect(next_cell.locator(".jp-OutputArea-output")).to_have_count(0)  # Run All waits for the click
        shot(page, "b1_approve_waiting", panel)
        approve.click()
        expect(panel).to_contain_text(re.compile(r"workflow \S+: completed \("), timeout=60_000)
        expect(approve).to_be_disabled()
        expect(next_cell.locator(".jp-OutputArea-output").first).to_be_visible(timeout=60_000)
        expect(next_cell.locator(f".jp-OutputArea-output[data-mime-type='{STDERR}']")
               ).to_have_count(0)
        shot(page, "b2_approved_completed", next_cell)

    with step("c. notebook 00's chaos panel: Kill worker SIGKILLs it, the run completes, each side effect once",
              page):
        page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=NB00).first.click()
        expect(page.locator(".Toastify__toast")).to_have_count(0)  # "official Jupyter news?" is not asked
        chaos = cell(nb00, "ChaosPanel(")
        start = chaos.get_by_role("button", name="Start the run")
        expect(start).to_be_visible(timeout=RUN_ALL_TIMEOUT)  # Run All waits: the run starts when the learner says
        expect(chaos.locator(".jp-OutputArea-output img")).to_have_count(0)
        start.click()
        kill = chaos.get_by_role("button", name="Kill worker")
        expect(chaos).to_contain_text("worker pid", timeout=60_000)
        expect(kill).to_be_enabled()
        text = chaos.text_content()
        pid = int(re.search(r"worker pid (\d+)", text).group(1))
        kill.click()
        expect(chaos).to_contain_text("worker down", timeout=30_000)
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, \
            f"the worker (pid {pid}) still runs after Kill worker"
        shot(page, "c1_chaos_after_kill", chaos)
        chaos.get_by_role("button", name="Restart worker").click()
        # the status line; the ledger line always says "... completed more than once", so not just "completed"
        expect(chaos).to_contain_text(re.compile(r": completed · \d+ events"), timeout=120_000)
        expect(chaos).to_contain_text(" 0 duplicates")
        expect(cell(nb00, "len(durable4)")).to_contain_text("1 SIGKILL, 8 side effects for 8 steps",
                                                             timeout=60_000)
        picture = chaos.locator(".jp-OutputArea-output img")  # the panel's timeline, drawn from the run's history
        expect(picture).to_be_visible()
        assert picture.evaluate("img => img.naturalWidth") > 300, "the timeline image did not render"
        shot(page, "c2_chaos_completed", chaos)

    with step("a. notebook 00: the learner records a prediction, then the experiment runs", page):
        ask = cell(nb00, "await choose(")
        expect(ask).to_contain_text("Your turn", timeout=RUN_ALL_TIMEOUT)
        ask.get_by_role("button", name="10", exact=True).click()
        ask.get_by_role("button", name="Submit").click()
        expect(cell(nb00, "ledger2.count()")).to_contain_text("you predicted 10", timeout=RUN_ALL_TIMEOUT)
        idle(nb00)
        expect(cell(nb00, "await lab.close()").locator(f".jp-OutputArea-output[data-mime-type='{STDERR}']")
               ).to_have_count(0)  # the clean-up cell works though sections 1-5 never ran
        shot(page, "a_notebook00_timeline", picture)  # once the run is done (while it runs, it scrolls along)

    with step("e. after Run All, re-running a demo cell says in one line what to run first", page):
        page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=NB04).first.click()
        idle(nb04)
        demo = cell(nb04, 'await start_agent("a new CRM")')
        demo.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Control+Enter")  # run this cell again
        error = demo.locator(f".jp-OutputArea-output[data-mime-type='{STDERR}']")
        expect(error).to_contain_text("Fix:", timeout=30_000)  # not a 30 s RPC timeout with no hint
        expect(error).to_contain_text("Setup")
        assert len(error.inner_text().strip().splitlines()) <= 5, error.inner_text()
        shot(page, "e_rerun_after_run_all", demo)

    with step("d. the Temporal Web UI lists the runs above", page):
        ids = workflow_ids(grpc_port)
        assert {"ResearchAgent", "PlanApproval"} <= set(ids.values()), ids
        web = page.context.new_page()
        web.goto(f"{ui_url}/namespaces/default/workflows")
        for workflow_id in [i for i, kind in ids.items() if kind in ("ResearchAgent", "PlanApproval")]:
            expect(web.get_by_text(workflow_id).first).to_be_visible(timeout=30_000)
        shot(web, "d_web_ui_workflows")
        web.close()
