"""The learner's turn, in a REAL kernel: a cell waiting for the learner ends on a widget click (and the next queued cell
waits for it), a live timeout or a headless run acts by itself; a closed lab says in one line what to run; intended
errors show short. Plus the approval panel, and clean-up that leaves no workflow RUNNING on a persistent server."""

from __future__ import annotations

import asyncio
import os
import re
import time
import uuid
from pathlib import Path

import psutil
import pytest
from temporalio.client import WorkflowExecutionStatus

from lab_support.ledger import Ledger
from lab_support.server import CLOSED, Lab, LabError
from lab_support.workers import KernelWorker

ROOT = Path(__file__).resolve().parent.parent
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    """A live kernel (no LAB_HEADLESS) in this repository: (kernel manager, blocking client)."""
    from jupyter_client import KernelManager

    from conftest import ipc_sockets  # the root conftest: no TCP port race on a busy machine

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "LAB_HEADLESS"))}
    env.update(PYTHONPATH=str(ROOT), LAB_STATE_DIR=str(tmp_path_factory.mktemp("state")))
    km = ipc_sockets(KernelManager(kernel_name="python3"))
    km.start_kernel(env=env, cwd=str(ROOT))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _collect(kc, msg_id: str, timeout: float = 60) -> tuple[dict, list[dict]]:
    """Outputs (iopub content, with msg_type) of one execution until it is idle, and its execute reply."""
    outputs = []
    deadline = time.monotonic() + timeout
    while True:
        msg = kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
        if msg["msg_type"] in ("stream", "display_data", "execute_result", "error", "update_display_data"):
            outputs.append({"msg_type": msg["msg_type"], **msg["content"]})
    while True:
        reply = kc.get_shell_msg(timeout=timeout)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply["content"], outputs


def run(kc, code: str, timeout: float = 60) -> tuple[dict, list[dict]]:
    """Run one cell; returns its execute reply content and its outputs."""
    return _collect(kc, kc.execute(code), timeout)


def text_of(outputs: list[dict]) -> str:
    """The outputs as text; stream chunks joined as they were printed (the kernel may split one print in two)."""
    parts: list[str] = []
    joining = False  # the last part is a stream chunk that did not end its line
    for out in outputs:
        if "text" in out:
            if joining:
                parts[-1] += out["text"]
            else:
                parts.append(out["text"])
            joining = not out["text"].endswith("\n")
            continue
        data = out.get("data", {})
        parts.append(str(data.get("text/markdown", data.get("text/plain", ""))))
        parts.extend(out.get("traceback", []))
        joining = False
    return ANSI.sub("", "\n".join(parts))


WAITING_CELL = """
import ipywidgets as widgets
from IPython.display import display
from lab_support.learner import wait_for_learner
button = widgets.Button(description="Go")
clicked = []
button.on_click(lambda b: clicked.append("click"))
display(button)
who = await wait_for_learner(lambda: bool(clicked), prompt="press Go", act=lambda: clicked.append("code"),
                             acted="pressed Go in code", timeout={timeout})
"""


def test_a_click_arriving_as_a_comm_message_ends_the_wait_and_the_next_cell_waits(kernel):
    _, kc = kernel
    waiting = kc.execute(WAITING_CELL.format(timeout=60))
    queued = kc.execute("print('next cell sees', who, clicked)")  # Run All: queued behind the waiting cell
    model_id, started = None, []
    deadline = time.monotonic() + 60
    while model_id is None:
        msg = kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        parent = msg["parent_header"].get("msg_id")
        if msg["msg_type"] == "execute_input":
            started.append(parent)
        if parent == waiting and msg["msg_type"] == "display_data":
            view = msg["content"]["data"].get("application/vnd.jupyter.widget-view+json")
            model_id = view and view["model_id"]
    time.sleep(1.0)  # the learner takes a moment; the queued cell must not start meanwhile
    assert queued not in started
    click = kc.session.msg("comm_msg", {"comm_id": model_id,
                                        "data": {"method": "custom", "content": {"event": "click"}}})
    kc.shell_channel.send(click)
    reply, outputs = _collect(kc, waiting)
    assert reply["status"] == "ok", reply
    assert "done" in text_of(outputs)
    reply, outputs = _collect(kc, queued)
    assert reply["status"] == "ok", reply
    assert "next cell sees learner ['click']" in text_of(outputs)


def test_a_live_wait_that_times_out_acts_by_itself(kernel):
    _, kc = kernel
    reply, outputs = run(kc, WAITING_CELL.format(timeout=1) + "print(who, clicked)")
    assert reply["status"] == "ok", reply
    text = text_of(outputs)
    assert "No answer in 1 s: pressed Go in code" in text and "timeout ['code']" in text


def test_interrupting_a_wait_says_so_and_records_nothing(kernel):
    """Kernel → Interrupt while a cell waits for the learner: one short LabError saying to run the cell again, the
    prompt marked interrupted, and a prediction's buttons frozen (a late click records nothing)."""
    km, kc = kernel
    waiting = kc.execute("from lab_support.learner import choose, install_short_tracebacks\n"
                         "install_short_tracebacks()\n"
                         "prediction = await choose('How many?', ['8', '10'], headless_answer='8', timeout=60)")
    time.sleep(3.0)  # the cell is waiting for the learner now
    km.interrupt_kernel()
    reply, outputs = _collect(kc, waiting)
    assert reply["status"] == "error" and reply["ename"] == "LabError", reply
    text = text_of(outputs)
    assert "Interrupted" in text and "run this cell again" in text, text
    assert "CancelledError" not in text and "Traceback" not in text, "a short error, not SDK internals"
    reply, outputs = run(kc, "print('prediction' in dir())")
    assert "False" in text_of(outputs), "nothing was recorded"


def test_press_waits_for_its_button_and_goes_on_at_once_headless(kernel):
    _, kc = kernel
    reply, outputs = run(kc, "from lab_support.learner import press\n"
                             "who = await press('Start', prompt='press Start', timeout=1)\nprint(who)")
    assert reply["status"] == "ok" and "timeout" in text_of(outputs), "live: it waited (here until its time limit)"
    reply, outputs = run(kc, "import os\nos.environ['LAB_HEADLESS'] = '1'\n"
                             "try:\n    who = await press('Start', prompt='press Start', timeout=60)\n"
                             "finally:\n    del os.environ['LAB_HEADLESS']\nprint(who)")
    assert reply["status"] == "ok" and "headless" in text_of(outputs)


def test_a_headless_run_acts_at_once(kernel):
    _, kc = kernel
    started = time.monotonic()
    reply, outputs = run(kc, "import os\nos.environ['LAB_HEADLESS'] = '1'\ntry:\n" + "".join(
        f"    {line}\n" for line in WAITING_CELL.format(timeout=60).strip().splitlines())
        + "finally:\n    del os.environ['LAB_HEADLESS']\nprint(who, clicked)")
    assert reply["status"] == "ok", reply
    assert "Headless run: pressed Go in code" in text_of(outputs) and "headless ['code']" in text_of(outputs)
    assert time.monotonic() - started < 30  # it never waited for the 60 s timeout


def test_choose_records_a_prediction_before_the_answer(kernel):
    _, kc = kernel
    cell = kc.execute("from lab_support.learner import choose\n"
                      "picked = await choose('How many?', ['8', '10'], headless_answer='10', note='a guess', timeout=60)")
    queued = kc.execute("print('prediction', picked)")
    submit, pick = None, None
    models = []
    while submit is None:
        msg = kc.get_iopub_msg(timeout=60)
        if msg["msg_type"] == "comm_open":
            models.append((msg["content"]["comm_id"], msg["content"]["data"]["state"]))
            state = msg["content"]["data"]["state"]
            if state.get("_model_name") == "ToggleButtonsModel":
                pick = msg["content"]["comm_id"]
            if state.get("_model_name") == "ButtonModel" and state.get("description") == "Submit":
                submit = msg["content"]["comm_id"]
    assert pick is not None
    # the learner picks "8" (index 0) and presses Submit
    kc.shell_channel.send(kc.session.msg("comm_msg", {"comm_id": pick, "data": {
        "method": "update", "state": {"index": 0}, "buffer_paths": []}}))
    kc.shell_channel.send(kc.session.msg("comm_msg", {"comm_id": submit, "data": {
        "method": "custom", "content": {"event": "click"}}}))
    reply, _ = _collect(kc, cell)
    assert reply["status"] == "ok", reply
    reply, outputs = _collect(kc, queued)
    assert "prediction 8" in text_of(outputs)


def test_the_approval_cell_waits_for_a_real_click_then_the_workflow_completes(kernel, tmp_path):
    _, kc = kernel
    reply, _ = run(kc, (
        "import uuid\n"
        "from lab_support import setup, KernelWorker, Ledger\n"
        "from labs.approval.ui import ApprovalPanel\n"
        "from labs.approval.workflows import Goal, PlanApproval\n"
        "from lab_support.history import wait_event\n"
        "approval_lab = await setup(ui=False)\n"
        f"approvals = Ledger({str(tmp_path / 'ledger.db')!r})\n"
        "approval_worker = await KernelWorker(approval_lab, 'labs.approval.worker', ledger=str(approvals.path)).start()\n"
        "plan = await approval_lab.client.start_workflow(PlanApproval.run, Goal('a pilot'), id=f'plan-{uuid.uuid4().hex[:6]}',\n"
        "                                                task_queue=approval_worker.task_queue)\n"
        "await wait_event(plan, 'ActivityTaskCompleted')\n"), timeout=90)
    assert reply["status"] == "ok", reply
    cell = kc.execute("panel = ApprovalPanel(plan)\ndecided_by = await panel.ask(timeout=60)")
    queued = kc.execute("print(decided_by, await plan.result(), approvals.count('executed'))")
    approve, status = None, None
    while approve is None or status is None:
        msg = kc.get_iopub_msg(timeout=60)
        if msg["msg_type"] == "comm_open":
            state = msg["content"]["data"]["state"]
            if state.get("description") == "Approve":
                approve = msg["content"]["comm_id"]
            if state.get("_model_name") == "LabelModel" and "waiting for your decision" in state.get("value", ""):
                status = msg["content"]["comm_id"]
    time.sleep(0.5)
    kc.shell_channel.send(kc.session.msg("comm_msg", {"comm_id": approve, "data": {
        "method": "custom", "content": {"event": "click"}}}))
    reply, outputs = _collect(kc, cell)
    assert reply["status"] == "ok", reply
    assert "done" in text_of(outputs)
    reply, outputs = _collect(kc, queued)
    assert "learner done: 3 steps 3" in text_of(outputs), text_of(outputs)
    reply, outputs = run(kc, "import asyncio\nfor _ in range(100):\n    if 'completed' in panel.out.value: break\n"
                             "    await asyncio.sleep(0.05)\nprint(panel.out.value)\n"
                             "await approval_lab.close(approval_worker)")
    assert f"workflow " in text_of(outputs) and ": completed (done: 3 steps)" in text_of(outputs)


def test_a_closed_lab_says_in_one_line_what_to_run(kernel):
    _, kc = kernel
    reply, _ = run(kc, "from lab_support import setup\nlab = await setup(ui=False)\n"
                       "h = await lab.client.start_workflow('Nobody', id='closed-demo', task_queue='nobody')\n"
                       "await lab.close()")
    assert reply["status"] == "ok", reply
    for cell in ("lab.client", "await h.describe()", "await h.query('state')"):
        started = time.monotonic()
        reply, outputs = run(kc, cell)
        took = time.monotonic() - started
        errors = [o for o in outputs if o["msg_type"] == "error"]
        assert reply["status"] == "error" and errors[0]["ename"] == "LabError", (cell, reply)
        assert errors[0]["evalue"] == CLOSED and "\n" not in CLOSED
        assert took < 10, f"{cell} took {took:.1f} s"  # no 30 s RPC timeout against the stopped server
    reply, outputs = run(kc, "lab")
    assert "closed" in text_of(outputs) and "Setup" in text_of(outputs)


def test_an_intended_error_is_short_and_keeps_its_name(kernel):
    _, kc = kernel
    reply, outputs = run(kc, (
        "from lab_support.learner import install_short_tracebacks\n"
        "from temporalio.client import WorkflowFailureError\n"
        "from temporalio.exceptions import ApplicationError\n"
        "install_short_tracebacks()\n"
        "async def charge():\n"
        "    try:\n"
        "        raise ApplicationError('card declined', type='PaymentError', non_retryable=True)\n"
        "    except ApplicationError as e:\n"
        "        raise WorkflowFailureError(cause=e) from e\n"
        "await charge()"))
    errors = [o for o in outputs if o["msg_type"] == "error"]
    assert reply["status"] == "error" and reply["ename"] == "WorkflowFailureError"
    assert len(errors) == 1 and errors[0]["ename"] == "WorkflowFailureError"
    shown = ANSI.sub("", "\n".join(errors[0]["traceback"])).splitlines()
    assert len(shown) <= 5, shown
    assert "card declined" in "\n".join(shown) and "%tb" in shown[-1] and "await charge()" in "\n".join(shown)
    reply, outputs = run(kc, "%tb")  # the full traceback is one command away
    full = text_of(outputs)
    assert "card declined" in full and len(full.splitlines()) > len(shown)
    reply, outputs = run(kc, "1 / 0")  # other errors keep IPython's usual traceback
    assert [o["ename"] for o in outputs if o["msg_type"] == "error"] == ["ZeroDivisionError"]
    assert "short view" not in text_of(outputs)


def test_interrupting_an_await_shows_a_short_error_that_says_what_to_do(kernel):
    km, kc = kernel
    msg_id = kc.execute("import asyncio\nfrom lab_support.learner import install_short_tracebacks\n"
                        "install_short_tracebacks()\nprint('waiting', flush=True)\n"
                        "for _ in range(600):\n    await asyncio.sleep(0.1)")  # ipykernel's SIGINT wakes no sleep
    deadline = time.monotonic() + 30
    while True:  # the cell is awaiting once it printed
        msg = kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream":
            break
    km.interrupt_kernel()  # Kernel -> Interrupt
    reply, outputs = _collect(kc, msg_id)
    errors = [o for o in outputs if o["msg_type"] == "error"]
    assert reply["status"] == "error" and [e["ename"] for e in errors] == ["CancelledError"], (reply, outputs)
    shown = ANSI.sub("", "\n".join(errors[0]["traceback"]))
    assert len(shown.splitlines()) <= 4 and "await lab.close()" in shown and "asyncio.sleep(0.1)" in shown, shown


# ---- in-process: the approval panel, clean-up on a persistent server ------------------------------------------------

async def _plan(lab, worker, timeout: float = 3600):
    from labs.approval.workflows import Goal, PlanApproval

    handle = await lab.client.start_workflow(PlanApproval.run, Goal("a test plan", timeout),
                                             id=f"plan-{uuid.uuid4().hex[:6]}", task_queue=worker.task_queue)
    while (await handle.query(PlanApproval.state)).stage == "drafting":
        await asyncio.sleep(0.05)
    return handle


async def _until(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_approval_panel_buttons_show_completion_and_errors(lab, tmp_path):
    from labs.approval.ui import ApprovalPanel

    ledger = Ledger(tmp_path / "ledger.db")
    async with KernelWorker(lab, "labs.approval.worker", ledger=str(ledger.path)) as worker:
        handle = await _plan(lab, worker)
        panel = ApprovalPanel(handle)
        assert (panel.approve_button.description, panel.reject_button.description) == ("Approve", "Reject")
        panel.approve_button.click()  # what the browser's click runs
        await _until(lambda: "completed" in panel.out.value)
        assert panel.out.value == f"workflow {handle.id}: completed (done: 3 steps)" and panel.sent == "approve"
        assert panel.approve_button.disabled
        again = ApprovalPanel(handle)  # a re-run cell, bound to the finished workflow
        again.approve_button.click()
        await _until(lambda: again.out.value.startswith("⚠"))
        assert "LabError" in again.out.value and "already finished (completed)" in again.out.value
        assert await again.ask() == "finished" and "already finished" in again.out.value
        assert again.sent == "approve"  # read from the history: the cells after it still work


async def test_approval_panel_ask_approves_itself_headless(lab, tmp_path):
    from labs.approval.ui import ApprovalPanel

    assert os.environ.get("LAB_HEADLESS") == "1"  # set by the root conftest
    ledger = Ledger(tmp_path / "ledger.db")
    async with KernelWorker(lab, "labs.approval.worker", ledger=str(ledger.path)) as worker:
        handle = await _plan(lab, worker)
        panel = ApprovalPanel(handle)
        assert await panel.ask() == "headless"
        assert panel.out.value == f"workflow {handle.id}: completed (done: 3 steps)"
        assert ledger.count("executed") == 3


async def test_closing_a_lab_on_a_persistent_server_leaves_nothing_running(lab, tmp_path, capsys):
    ledger = Ledger(tmp_path / "ledger.db")
    persistent = Lab(lab.client, lab.address, lab.namespace, kind="existing")  # like `python3 tasks.py lab`
    assert persistent.persistent
    worker = await KernelWorker(persistent, "labs.approval.worker", ledger=str(ledger.path)).start()
    waiting = await _plan(persistent, worker)  # waits an hour for a human
    orphan = await persistent.client.start_workflow("PlanApproval", id=f"orphan-{uuid.uuid4().hex[:6]}",
                                                    task_queue=f"nobody-{uuid.uuid4().hex[:6]}")  # no worker at all
    started = time.monotonic()
    await persistent.close(worker, grace=1.0)
    assert time.monotonic() - started < 15
    assert not worker.alive
    said = capsys.readouterr().out
    assert "cancelled 1 workflow(s)" in said and "terminated 1" in said, said
    assert (await lab.client.get_workflow_handle(waiting.id).describe()).status == WorkflowExecutionStatus.CANCELED
    ended = await lab.client.get_workflow_handle(orphan.id).describe()
    assert ended.status == WorkflowExecutionStatus.TERMINATED
    events = [e async for e in lab.client.get_workflow_handle(orphan.id).fetch_history_events()]
    assert "clean-up cell" in events[-1].workflow_execution_terminated_event_attributes.reason
    with pytest.raises(LabError, match="closed by the notebook's last cell"):
        persistent.client
    with pytest.raises(LabError):
        await waiting.describe()
    await persistent.close(worker)  # a second run of the clean-up cell is harmless


async def test_settling_finds_a_workflow_visibility_has_not_listed_yet(lab):
    from lab_support.server import settle_workflows

    # The list of RUNNING workflows comes from visibility, which lags a start under load (a run of this file's test
    # above missed a workflow started a moment before close()). The ids this lab started are described one by one.
    handle = await lab.client.start_workflow("Nobody", id=f"unlisted-{uuid.uuid4().hex[:6]}",
                                             task_queue=f"nobody-{uuid.uuid4().hex[:6]}")
    said = await settle_workflows(lab.client, set(), grace=0.5, started={handle.id, "never-started"})
    assert said == [f"terminated 1 that did not finish cancelling ({handle.id})"], said
    assert (await handle.describe()).status == WorkflowExecutionStatus.TERMINATED


async def test_close_stops_every_worker_made_with_the_lab_even_when_cells_were_skipped(tmp_path):
    from lab_support.server import start_dev_server
    from lab_support.workers import SubprocessWorker

    own = await start_dev_server(ui=False)
    kernel_worker = await KernelWorker(own, "labs.approval.worker", ledger=str(tmp_path / "l.db")).start()
    process_worker = SubprocessWorker(own, "labs.why_durable.worker", ledger=str(tmp_path / "l.db")).start()
    pid = process_worker.pid
    assert kernel_worker.alive and process_worker.alive
    await own.close()  # the clean-up cell names no worker: a learner who skipped sections never made some of them
    assert not kernel_worker.alive and not process_worker.alive
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


async def test_the_notebooks_clean_up_stops_a_server_process_and_its_worker_that_a_rerun_cell_left(tmp_path):
    """Lesson 00 section 5 interrupted during the server's outage, then run again: the names `server` and `worker3` now
    point at the second run's, and the first run's worker (made with the other server's lab) is in no lab's list.
    The notebook's clean-up, `lab.close()` of its setup() lab, stops both, and leaves its own server to close()."""
    from lab_support.server import ServerProcess, setup
    from lab_support.workers import SubprocessWorker

    notebook_lab = await setup(ui=False)
    first = await ServerProcess(tmp_path / "first.db").start()
    worker = SubprocessWorker(await first.lab(), "labs.why_durable.worker", ledger=str(tmp_path / "l.db")).start()
    pids = [p.pid for p in psutil.Process(first.proc.pid).children(recursive=True)] + [first.proc.pid, worker.pid]
    first.kill()  # interrupted during the outage: the server is down, its worker polls on
    first = await ServerProcess(tmp_path / "second.db").start()  # the re-run; `first` now names the second server
    del worker
    await notebook_lab.close()
    alive = [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    assert alive == [], f"left running after the clean-up: {alive}"
    assert not first.running and (tmp_path / "first.db").exists(), "the servers are stopped, their data kept"


async def test_an_embedded_lab_closes_without_settling(lab):
    from lab_support.server import start_dev_server

    own = await start_dev_server(ui=False)
    assert not own.persistent
    handle = await own.client.start_workflow("Nobody", id="left", task_queue="nobody")
    await own.close()
    with pytest.raises(LabError):
        await handle.describe()
    assert own.env is None and own.closed


async def test_asking_on_a_closed_lab_shows_no_buttons(capsys):
    """Re-running the approval cell after the clean-up cell: the one-line error, and no live-looking panel."""
    from lab_support.server import start_dev_server
    from labs.approval.ui import ApprovalPanel

    private = await start_dev_server(ui=False)
    handle = private.client.get_workflow_handle("plan-gone")
    await private.close()
    with pytest.raises(LabError, match="closed"):
        await ApprovalPanel(handle).ask(timeout=5)
    assert capsys.readouterr().out.strip() == "", "no panel (that would look alive) is shown"
