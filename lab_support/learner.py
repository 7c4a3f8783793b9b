"""Steps that wait for the learner.

In a live notebook the learner acts (presses a button, picks an answer) while the cell waits, with a
visible prompt and a timeout; in a headless run (nbmake, CI: `LAB_HEADLESS=1`, set by the test command)
the code acts by itself and says so in one line. One mechanism for every notebook that asks the learner
to act or predict.

Why waiting works: an async cell that awaits still receives widget messages — ipykernel 7.4 dispatches
`comm_msg` while a cell holds the shell lock (ipykernel/kernelbase.py, `shell_main`) — and the cells
queued after it (Run All) wait until it returns, so Run All cannot take the learner's turn.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from typing import Any, Awaitable, Callable

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
    while not done():
        if time.monotonic() > deadline:
            await _call(act)
            _show(f"*No answer in {timeout:.0f} s: {acted}*", line)
            return "timeout"
        await asyncio.sleep(poll)
    _show(f"**Your turn:** {prompt} — done.", line)
    return "learner"
