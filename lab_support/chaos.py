"""A live chaos panel for a running workflow: break it with real faults and watch it recover.

Buttons SIGKILL the worker or the Temporal server and bring them back, or make the local model answer
429s, 500s or slowly; a timeline redrawn from the real history (about every `refresh` s, each fault a
dashed line) and a ledger counter (side effects so far, duplicates) show what happened. The buttons call
the panel's Python API, which a headless run (a test, nbmake) calls directly:

    panel = ChaosPanel(handle, worker=worker, ledger=ledger)   # shown when it is a cell's value
    panel.kill_worker(); panel.restart_worker(); panel.inject("429")
    report = await panel.wait()                                 # the workflow's result, after a final redraw
"""

from __future__ import annotations

import asyncio
import inspect
import io
import statistics
import time
from typing import TYPE_CHECKING, Any, Callable

import ipywidgets as w

# Imported with this module, not on first use: importing them on the event loop while a run goes stalled a busy
# kernel for 1-3 s (measured), long enough to miss a 0.4 s step that the next cell waits for.
from .history import fetch_history, to_frame
from .plots import timeline
from .server import LabError

if TYPE_CHECKING:
    from temporalio.client import WorkflowHandle

_CLOSED = {"WorkflowExecutionCompleted": "completed", "WorkflowExecutionFailed": "failed",
           "WorkflowExecutionTimedOut": "timed out", "WorkflowExecutionCanceled": "canceled",
           "WorkflowExecutionTerminated": "terminated", "WorkflowExecutionContinuedAsNew": "continued as new"}
_THREADED = {"Restart worker", "Kill worker", "Kill server"}  # blocking calls: off the event loop
_QUIET_FOR = 120.0  # stop redrawing after this many seconds of failed redraws in a row


def _png(df: Any, marks: dict[str, float], title: str) -> bytes:
    """In a thread: the timeline of a history frame, with the fault marks, as PNG bytes."""
    buf = io.BytesIO()
    timeline(df, marks=marks, title=title).savefig(buf, format="png", dpi=80, pil_kwargs={"compress_level": 1})
    return buf.getvalue()


class ChaosPanel:
    """Buttons that break a running workflow (worker / server SIGKILL, model faults), a live timeline and a
    ledger counter. `worker`: a SubprocessWorker; `server`: a ServerProcess (the lab runs the server as its own
    process); `model`: the local `llm.Model`; `ledger`: this run's `Ledger`. Each is optional: its buttons are
    disabled with a one-line reason. `refresh`: seconds between redraws, each reading the history (default 0.5; 2 in
    a headless run, where no one watches); the picture is drawn again only when the history, the fault marks or the
    ledger changed, and live also every 2 s so a running step's bar grows (a picture costs ~0.2 s of CPU, taken from
    the run it shows); a redraw slower than half of `refresh` is followed by an equal pause, up to 2 x refresh.
    Build it inside a running event loop (a notebook cell, an async test): the redraw loop starts at once and stops
    when the workflow closes."""

    def __init__(self, handle: WorkflowHandle[Any, Any], *, worker: Any = None, server: Any = None,
                 model: Any = None, ledger: Any = None, refresh: float | None = None) -> None:
        from lab_support.learner import headless

        self.handle, self.worker, self.server, self.model, self.ledger = handle, worker, server, model, ledger
        self.period = refresh if refresh is not None else 2.0 if headless() else 0.5
        # A picture costs ~0.2 s of CPU, taken from the run it shows. It is drawn when the history, the fault marks or
        # the ledger changed; live, also every `grow_every` s, so that a running step's bar grows with the clock.
        self.grow_every: float | None = None if headless() else 2.0
        self._drawn: tuple[Any, ...] | None = None  # what the picture now shown was drawn from
        self._drawn_at = 0.0  # time.monotonic() of that drawing
        self.faults: list[tuple[float, str]] = []  # (epoch seconds, label), in the order they happened
        self.redraws: list[float] = []  # epoch seconds of each redraw (each read of the history)
        self.pictures = 0  # timelines drawn so far (a redraw draws one only when needed: see the class docstring)
        self.errors: list[str] = []  # every error a button or a redraw met, as shown in the panel
        self.status: str = "running"  # or the workflow's closing status ("completed", "failed", ...)
        self.actions: list[asyncio.Task[None]] = []  # what the button clicks started
        self._busy = asyncio.Lock()
        self._drawing = asyncio.Lock()
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

        reasons = {
            "worker": None if hasattr(worker, "kill") else "no worker process given (ChaosPanel(..., "
                                                         "worker=SubprocessWorker(...)); a KernelWorker cannot be SIGKILLed)",
            "server": None if server is not None else "the server is not a process this notebook runs "
                                                      "(pass server=ServerProcess(...) to kill it)",
            "model": None if model is not None and getattr(model, "fake", None) is not None
            else "model faults need the local model (pass model=start_model(fake=True))",
        }
        self._reasons = reasons
        actions: dict[str, tuple[str, Callable[[], Any]]] = {
            "Kill worker": ("worker", self.kill_worker), "Restart worker": ("worker", self.restart_worker),
            "Kill server": ("server", self.kill_server), "Restart server": ("server", self.restart_server),
            "429 storm": ("model", lambda: self.inject("429")), "500 burst": ("model", lambda: self.inject("500")),
            "Slow model": ("model", lambda: self.inject("slow")),
        }
        self.buttons: dict[str, Any] = {}
        self._actions = {}
        for description, (needs, action) in actions.items():
            button = w.Button(description=description, disabled=reasons[needs] is not None,
                              tooltip=reasons[needs] or description, button_style="danger" if "Kill" in description and reasons[needs] is None else "")
            button.on_click(lambda _b, d=description: self.press(d))
            self.buttons[description], self._actions[description] = button, action
        self._status = w.HTML(f"Workflow <code>{handle.id}</code>: starting…")
        self._ledger = w.HTML("")
        self._error = w.HTML("")
        self._image = w.Image(format="png", layout=w.Layout(max_width="100%"))
        for description, (needs, _) in actions.items():  # what this run cannot do is not shown (the API says why)
            if reasons[needs] is not None:
                self.buttons[description].layout.display = "none"
        missing = [what for what, why in reasons.items() if why]
        notes = [f"This run has no {' and no '.join(missing)} buttons: "
                 + "; ".join(f"{what}: {reasons[what]}" for what in missing) + "."] if missing else []
        notes = [f"<small>{note}</small>" for note in notes]
        self.widget = w.VBox([w.HBox(list(self.buttons.values())), w.HTML("<br>".join(notes)), self._status,
                              self._ledger, self._error, self._image])
        try:
            asyncio.get_running_loop()
            self.start()
        except RuntimeError:  # no loop yet: wait() or start() begins redrawing
            pass

    # -- what a frontend shows --------------------------------------------------------------------------
    def __repr__(self) -> str:
        return (f"ChaosPanel for workflow {self.handle.id}: its buttons need JupyterLab (ipywidgets); here use "
                "panel.kill_worker(), panel.restart_worker(), panel.kill_server(), await panel.restart_server(), "
                "panel.inject('429'|'500'|'slow'), await panel.wait().")

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """The widget for a widget frontend; for any other, one line of text naming the Python API."""
        bundle = self.widget._repr_mimebundle_(**kwargs) or {}
        bundle["text/plain"] = repr(self)
        return bundle

    # -- the Python API the buttons call ----------------------------------------------------------------
    def _fault(self, label: str, at: float | None = None) -> float:
        at = time.time() if at is None else at
        self.faults.append((at, label))
        if self._loop is not None:  # redraw soon, with the new mark (this may run in a thread)
            self._loop.call_soon_threadsafe(self._wake.set)
        return at

    def _need(self, what: str) -> Any:
        if self._reasons[what]:
            raise LabError(f"Cannot do that here: {self._reasons[what]}.")
        return getattr(self, what)

    def kill_worker(self) -> float:
        """SIGKILL the worker process (a real crash); returns the epoch time of the kill. LabError if it is not running."""
        worker = self._need("worker")
        if self.closed:
            raise LabError(f"The run has already ended ({self.status}): there is nothing left to break. Fix: run the "
                           "cell that starts the run again, and press Kill worker while a step runs.")
        if not worker.alive:
            raise LabError("The worker is not running (already killed?). Fix: restart it first (Restart worker).")
        pid = worker.pid
        return self._fault(f"worker SIGKILL (pid {pid})", worker.kill())

    def restart_worker(self) -> float:
        """Start a fresh worker process on the same task queue (blocks until it polls, ~1 s); returns the time."""
        worker = self._need("worker")
        was_alive = worker.alive
        worker.restart()
        return self._fault("worker replaced (the running one was stopped)" if was_alive else "worker restarted")

    def _server_up(self) -> bool:
        proc = self._need("server").proc
        return proc is not None and proc.poll() is None

    def kill_server(self) -> float:
        """SIGKILL the Temporal server process; returns the epoch time of the kill. LabError without a running
        ServerProcess."""
        if not self._server_up():
            raise LabError("The server is not running (already killed?). Fix: restart it first (Restart server).")
        return self._fault("server SIGKILL", self.server.kill())

    async def restart_server(self) -> float:
        """Start the server again on its database file and wait until it answers; returns the epoch time.
        LabError if it is still running."""
        if self._server_up():
            raise LabError("The server is still running. Fix: kill it first (Kill server).")
        await self.server.start()
        return self._fault("server back")

    def inject(self, kind: str, **options: Any) -> float:
        """Arm a fault in the local model for its next requests: "429" (times=3, retry_after=1.0 s), "500"
        (times=3) or "slow" (seconds=2.0, times=1); returns the epoch time it was armed. LabError otherwise."""
        if kind not in ("429", "500", "slow"):
            raise LabError(f"No fault {kind!r}. Fix: inject('429'), inject('500') or inject('slow').")
        model = self._need("model")
        if kind == "429":
            times, after = options.get("times", 3), options.get("retry_after", 1.0)
            model.rate_limit(times=times, retry_after=after)
            label = f"429 storm x{times} armed"
        elif kind == "500":
            times = options.get("times", 3)
            model.server_error(times=times)
            label = f"500 burst x{times} armed"
        else:
            seconds, times = options.get("seconds", 2.0), options.get("times", 1)
            model.slow(seconds, times=times)
            label = f"slow model {seconds:g} s armed"
        return self._fault(label)

    def press(self, description: str) -> asyncio.Task[None]:
        """What a click on button `description` does: run its action (one at a time); errors show in the panel."""
        async def run() -> None:
            async with self._busy:
                try:
                    action = self._actions[description]
                    result = await asyncio.to_thread(action) if description in _THREADED else action()
                    if inspect.isawaitable(result):
                        await result
                    self._error.value = ""
                except Exception as e:  # noqa: BLE001 - shown in the panel, kept in panel.errors
                    self._show_error(f"{description} failed: {type(e).__name__}: {e}")

        task = asyncio.get_running_loop().create_task(run())
        self.actions.append(task)
        return task

    def _show_error(self, text: str) -> None:
        import html

        self.errors.append(text)
        self._error.value = f"<span style='color:#b00'>{html.escape(text)}</span>"

    # -- the live picture ------------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        """True once the history shows the workflow closed (its status is in `panel.status`)."""
        return self.status != "running"

    @property
    def interval(self) -> float | None:
        """Median seconds between redraws so far (None before the second redraw)."""
        gaps = [b - a for a, b in zip(self.redraws, self.redraws[1:])]
        return statistics.median(gaps) if gaps else None

    def _marks(self) -> dict[str, float]:
        marks: dict[str, float] = {}
        for at, label in self.faults:
            key, n = label, 1
            while key in marks:
                n += 1
                key = f"{label} ({n})"
            marks[key] = at
        return marks

    def _read(self, history: Any) -> tuple[Any, str, int, str]:
        """In a thread: the history's frame, its closing status (or "running"), its event count, the ledger line."""
        df = to_frame(history)
        closing = df["type"][df["type"].isin(list(_CLOSED))]
        status = _CLOSED[closing.iloc[-1]] if len(closing) else "running"
        line = ""
        if self.ledger is not None:
            effects = self.ledger.frame()
            effects = effects[effects["actor"] != "attempt"]  # the attempt log is not a side effect
            repeats = effects.groupby(["actor", "step", "key"]).size()
            duplicates = int((repeats - 1).sum())
            line = (f"Ledger: <b>{len(effects)}</b> side effect{'' if len(effects) == 1 else 's'} so far, "
                    f"<b>{duplicates}</b> duplicate{'' if duplicates == 1 else 's'} "
                    "(same step and key completed more than once)")
        return df, status, int(df["event_id"].notna().sum()), line

    async def refresh(self) -> bool:
        """Redraw once from the workflow's history now (and the ledger); returns True once the workflow has closed.
        A server that does not answer within 2 s is reported in the status line, not raised."""
        async with self._drawing:
            try:
                history = await asyncio.wait_for(fetch_history(self.handle, pending=True), 2.0)
            except Exception as e:  # noqa: BLE001 - an unreachable server is part of the show
                why = "no answer within 2 s" if isinstance(e, asyncio.TimeoutError) else f"{type(e).__name__}: {e}"
                self._status.value = (f"Workflow <code>{self.handle.id}</code>: cannot read its history "
                                      f"(the server is down?) — {why[:160]}")
                return False
            df, status, events, line = await asyncio.to_thread(self._read, history)
            marks = self._marks()
            drawn_from = (len(df), events, status, tuple(marks), line)
            grown = self.grow_every is not None and time.monotonic() - self._drawn_at >= self.grow_every
            if drawn_from != self._drawn or grown:
                png = await asyncio.to_thread(_png, df, marks, f"{self.handle.id}: {status}")
                self._image.value, self._ledger.value, self._drawn = png, line, drawn_from
                self._drawn_at, self.pictures = time.monotonic(), self.pictures + 1
            self.status = status
            worker = ""
            if self.worker is not None:
                worker = f" · worker pid {self.worker.pid}" if self.worker.alive else " · worker <b>down</b>"
            self._status.value = f"Workflow <code>{self.handle.id}</code>: <b>{status}</b> · {events} events{worker}"
            self.redraws.append(time.time())
            return self.closed

    async def _run(self) -> None:
        failing_since: float | None = None
        while True:
            started = time.monotonic()
            self._wake.clear()  # a wake (a fault, wait()) from now on redraws right after this redraw
            try:
                if await self.refresh():
                    return
                failing_since = None
            except Exception as e:  # noqa: BLE001 - shown in the panel; the loop keeps going
                self._show_error(f"Redraw failed: {type(e).__name__}: {e}")
                failing_since = failing_since or started
                if time.monotonic() - failing_since > _QUIET_FOR:
                    self._show_error(f"Stopped redrawing after {_QUIET_FOR:.0f} s of errors; `await panel.refresh()` "
                                     "redraws once.")
                    return
            took = time.monotonic() - started  # a slow redraw (a busy machine) waits as long again, up to 2 periods:
            try:                               # the worker needs the CPU more than the picture does
                await asyncio.wait_for(self._wake.wait(), max(self.period - took, min(took, 2 * self.period)))
            except asyncio.TimeoutError:
                pass

    def start(self) -> "ChaosPanel":
        """Start the redraw loop (the constructor does, inside an event loop); it ends when the workflow closes."""
        self._loop = asyncio.get_running_loop()
        if self._loop_task is None or (self._loop_task.done() and not self.closed):
            self._loop_task = self._loop.create_task(self._run(), name=f"chaos:{self.handle.id}")
        return self

    def stop(self) -> None:
        """Stop redrawing (the workflow goes on)."""
        if self._loop_task is not None:
            self._loop_task.cancel()

    async def wait(self, timeout: float = 60.0) -> Any:
        """Wait until the workflow closes (`wait_result`: TimeoutError, WorkflowTaskFailed, the workflow's own
        failure), redraw a last time, and return its result."""
        from temporalio.client import WorkflowFailureError

        from .workers import wait_result

        self.start()
        try:
            result = await wait_result(self.handle, timeout=timeout)
        except WorkflowFailureError:  # closed, failed: still show how it ended
            await self._final()
            raise
        await self._final()
        return result

    async def _final(self) -> None:
        """Let the redraw loop see the closed workflow now and draw it a last time (it then ends)."""
        self._wake.set()
        task = self._loop_task
        if task is not None and not task.done():
            try:
                await asyncio.wait_for(asyncio.shield(task), 30.0)
            except asyncio.TimeoutError:
                self._show_error("The final redraw took over 30 s; `await panel.refresh()` redraws once.")
