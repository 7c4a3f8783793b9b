"""Steps that wait for the learner.

In a live notebook the learner acts (presses a button, picks an answer) while the cell waits, with a
visible prompt and a timeout; in a headless run (nbmake, CI: `LAB_HEADLESS=1`, set by the test command)
the code acts by itself and says so in one line. One mechanism for every notebook that asks the learner
to act or predict: `wait_for_learner` (any widget), `choose` (a prediction, recorded before the answer is
computed), `guarded` (a widget callback whose errors show in the widget), and `install_short_tracebacks`
(intended Temporal errors and LabErrors shown in a few lines; `setup()` installs it).

Why waiting works: an async cell that awaits still receives widget messages — ipykernel 7.4 dispatches
`comm_msg` while a cell holds the shell lock (ipykernel/kernelbase.py, `shell_main`) — and the cells
queued after it (Run All) wait until it returns, so Run All cannot take the learner's turn.
"""

from __future__ import annotations

import asyncio
import inspect
import linecache
import os
import re
import sys
import time
import traceback
from typing import Any, Awaitable, Callable, Sequence

HEADLESS_VAR = "LAB_HEADLESS"


def headless() -> bool:
    """True in a headless run: LAB_HEADLESS=1 (the test command sets it) or no Jupyter kernel around."""
    if os.environ.get(HEADLESS_VAR, "").lower() in ("1", "true", "yes"):
        return True
    try:
        from IPython import get_ipython
    except ImportError:
        return True
    shell = get_ipython()
    return shell is None or getattr(shell, "kernel", None) is None


def _show(text: str, handle: Any = None) -> Any:
    """Show (or replace) one line of Markdown in the cell's output; returns the display handle."""
    try:
        from IPython.display import Markdown, display
    except ImportError:
        print(text)
        return None
    if handle is None:
        return display(Markdown(text), display_id=True)
    handle.update(Markdown(text))
    return handle


async def _call(act: Callable[[], Any]) -> None:
    result = act()
    if inspect.isawaitable(result):
        await result


async def wait_for_learner(done: Callable[[], bool], *, prompt: str, act: Callable[[], Any | Awaitable[Any]],
                           acted: str, timeout: float = 300.0, poll: float = 0.1) -> str:
    """Wait until `done()` is true: the learner acts in a live notebook (prompt shown, `timeout` seconds);
    headless, or when the time is up, `act()` does it instead and `acted` says so in one line.

    Returns who acted: "learner", "headless" or "timeout". Errors raised by `act()` propagate.
    """
    if headless():
        await _call(act)
        _show(f"*Headless run: {acted}*")
        return "headless"
    line = _show(f"**Your turn:** {prompt} *(waiting up to {timeout:.0f} s; the next cells wait too)*")
    deadline = time.monotonic() + timeout
    try:
        while not done():
            if time.monotonic() > deadline:
                await _call(act)
                _show(f"*No answer in {timeout:.0f} s: {acted}*", line)
                return "timeout"
            await asyncio.sleep(poll)
    except (asyncio.CancelledError, KeyboardInterrupt):  # Kernel → Interrupt while waiting
        _show(f"~~Your turn: {prompt}~~ *Interrupted: nothing was recorded.*", line)
        from .server import LabError

        raise LabError("Interrupted while waiting for you; nothing was recorded. Fix: run this cell again.") from None
    _show(f"**Your turn:** {prompt} — done.", line)
    return "learner"


async def press(label: str, *, prompt: str, timeout: float = 600.0) -> str:
    """Show one button and wait until the learner presses it (headless: go on at once); returns who acted, as
    `wait_for_learner` does. For "start when you are ready" steps, so Run All does not start them unseen."""
    pressed: list[bool] = []
    button: Any = None
    if not headless():
        import ipywidgets as widgets
        from IPython.display import display

        button = widgets.Button(description=label, button_style="primary")
        button.on_click(lambda _: pressed.append(True))
        display(button)

    try:
        return await wait_for_learner(lambda: bool(pressed), prompt=prompt, act=lambda: pressed.append(True),
                                      acted=f"pressed {label!r} itself.", timeout=timeout)
    finally:
        if button is not None:
            button.disabled = True


async def choose(question: str, options: Sequence[str], *, headless_answer: str, note: str = "",
                 timeout: float = 300.0) -> str:
    """Ask the learner to pick one of `options` (buttons + Submit) before the answer is computed; returns the pick.

    Headless (or when `timeout` s pass) the recorded `headless_answer` stands in, and `note` says why in one line."""
    if headless_answer not in options:
        raise ValueError(f"headless_answer {headless_answer!r} is not one of {list(options)}")
    picked: dict[str, str] = {}
    freeze: list[Callable[[], None]] = []
    if not headless():
        import ipywidgets as widgets
        from IPython.display import display

        pick = widgets.ToggleButtons(options=list(options), value=None, description="")
        submit = widgets.Button(description="Submit", button_style="primary", disabled=True)
        status = widgets.Label(value="")
        pick.observe(lambda change: setattr(submit, "disabled", change["new"] is None), names="value")

        def record() -> None:
            if "answer" in picked:
                return
            picked["answer"] = pick.value
            pick.disabled = submit.disabled = True
            status.value = f"your prediction: {pick.value}"

        submit.on_click(guarded(record, status))
        freeze.append(lambda: setattr(pick, "disabled", True) or setattr(submit, "disabled", True))
        display(widgets.VBox([widgets.Label(value=question), pick, widgets.HBox([submit, status])]))

    def default() -> None:
        picked.setdefault("answer", headless_answer)
        for f in freeze:  # a late click no longer changes the recorded answer
            f()

    acted = f"recorded the prediction {headless_answer!r}" + (f" ({note})" if note else "")
    try:
        await wait_for_learner(lambda: "answer" in picked, prompt="pick your answer above and press **Submit**.",
                               act=default, acted=acted, timeout=timeout)
    finally:
        for f in freeze:  # interrupted or answered: the buttons no longer record anything
            f()
    return picked["answer"]


def guarded(callback: Callable[[], Any], show: Any) -> Callable[[Any], None]:
    """A widget callback (`button.on_click(guarded(fn, label))`) that runs `fn()` (sync or async) and shows any error
    it raises in one line in `show` (a widget with `.value`, or an ipywidgets Output) instead of losing it."""

    def report(error: BaseException) -> None:
        text = f"⚠ {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        if hasattr(show, "append_stdout"):
            show.append_stdout(text + "\n")
        else:
            show.value = text

    def done(task: "asyncio.Future[Any]") -> None:
        if not task.cancelled() and task.exception() is not None:
            report(task.exception())  # type: ignore[arg-type]

    def handler(*_: Any) -> None:
        try:
            result = callback()
        except Exception as e:  # noqa: BLE001 - shown to the learner, not swallowed
            report(e)
            return
        if inspect.isawaitable(result):
            asyncio.ensure_future(result).add_done_callback(done)

    return handler


# ---- short tracebacks for the errors a lesson raises on purpose ---------------------------------------------------

_CELL = re.compile(r"ipykernel_\d+|<ipython-input-")
_CORE_MESSAGE = re.compile(r'message: "(.*?)", source:')


def _message(error: BaseException) -> str:
    text = str(error) or repr(error)
    core = _CORE_MESSAGE.search(text)  # sdk-core's debug dump of a failure: keep only its message
    return core.group(1) if core else text


def short_traceback(etype: type, value: BaseException, tb: Any, *, limit: int = 4) -> list[str]:
    """The lines shown for an intended error: type and message, its causes (up to `limit`), the cell line, a hint."""
    red, dim, reset = "\x1b[0;31m", "\x1b[2m", "\x1b[0m"
    message = _message(value)
    if isinstance(value, asyncio.CancelledError) and not value.args:  # Kernel -> Interrupt during an `await`
        message = ("the cell was interrupted while it awaited. What it started (workflows, workers, servers) may still "
                   "run, even if you run the cell again: the notebook's clean-up cell, `await lab.close()`, stops it.")
    lines = [f"{red}{etype.__name__}{reset}: {message}"]
    seen, cause = {id(value)}, value.__cause__ or (None if value.__suppress_context__ else value.__context__)
    while cause is not None and id(cause) not in seen and len(seen) <= limit:
        seen.add(id(cause))
        lines.append(f"  caused by {red}{type(cause).__name__}{reset}: {_message(cause)}")
        cause = cause.__cause__ or (None if cause.__suppress_context__ else cause.__context__)
    where = None
    for frame, lineno in traceback.walk_tb(tb):
        if where is None and _CELL.search(frame.f_code.co_filename):  # the line the learner ran
            where = (lineno, linecache.getline(frame.f_code.co_filename, lineno).strip())
    if where:
        lines.append(f"  at cell line {where[0]}: {where[1]}")
    lines.append(f"{dim}(short view of an intended error; run %tb in a new cell for the full traceback){reset}")
    return ["\n".join(lines)]


def install_short_tracebacks() -> bool:
    """In an IPython kernel, show Temporal errors, LabError and an interrupted `await` (CancelledError) as
    `short_traceback` (the error output keeps the real ename/evalue; `%tb` shows the full traceback). Returns False
    outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    from temporalio.exceptions import TemporalError

    from .server import LabError

    def handler(self: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> list[str]:
        sys.last_type, sys.last_value, sys.last_traceback = etype, value, tb  # what %tb reads
        if sys.version_info >= (3, 12):
            sys.last_exc = value
        stb = short_traceback(etype, value, tb)
        self._showtraceback(etype, value, stb)
        return stb

    shell.set_custom_exc((TemporalError, LabError, asyncio.CancelledError), handler)
    return True
