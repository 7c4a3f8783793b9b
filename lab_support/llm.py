"""The lab's model: a local OpenAI-compatible server by default, OpenAI or any compatible endpoint if asked.

- No variables set: `start_model()` starts a scripted, fault-injecting server (llmock) on 127.0.0.1.
- `OPENAI_BASE_URL` set: that endpoint (Ollama, vLLM, llama.cpp, another fake), key from `OPENAI_API_KEY`.
- `OPENAI_API_KEY` set: the real OpenAI API.
`LAB_MODEL=fake|openai` forces a mode; `LAB_MODEL_NAME` picks the model (default gpt-4o-mini).
The key is read from the environment by the `openai` client itself; this module never prints or stores it.
"""

from __future__ import annotations

import os
import ssl
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is imported on use: worker processes start faster without it
    import pandas as pd

from .server import LabError

# The Agents SDK exports traces to OpenAI by default; the lab keeps everything local unless you opt in.
os.environ.setdefault("OPENAI_AGENTS_DISABLE_TRACING", "1")

DEFAULT_MODEL = "gpt-4o-mini"
OFFLINE_KEY = "offline-no-key-needed"


@dataclass
class Model:
    """Where the lab's model calls go. `fake` is the local server (None for a real endpoint)."""

    mode: str  # "fake" | "openai" | "compatible"
    base_url: str | None
    name: str
    fake: Any = field(default=None, repr=False)

    def __repr__(self) -> str:
        where = self.base_url or "https://api.openai.com/v1"
        return f"Model({self.mode}: {self.name} at {where})"

    def worker_config(self) -> dict[str, Any]:
        """What a worker needs to reach this model (never the key: workers read it from their environment)."""
        return {"model_url": self.base_url, "model_name": self.name, "model_offline": self.mode == "fake"}

    # -- scripting the fake model (each call queues behaviour for the next request(s)) ----------------
    def _queue(self, *behaviours: Any) -> "Model":
        if self.fake is None:
            raise LabError(f"Scripting and fault injection need the local model, but this lab uses {self!r}. "
                           "Fix: use start_model(fake=True) for this demo.")
        self.fake.state.scenarios.add(*behaviours)
        return self

    def say(self, text: str, times: int = 1) -> "Model":
        """Queue a plain text answer."""
        from llmock.scenarios import Reply

        return self._queue(Reply(text=text, times=times))

    def call_tool(self, name: str, **arguments: Any) -> "Model":
        """Queue an answer that calls tool `name` with `arguments`."""
        from llmock.scenarios import Reply, ToolCall

        return self._queue(Reply(tool_calls=(ToolCall(name, arguments),)))

    def rate_limit(self, times: int = 1, retry_after: float = 1.0) -> "Model":
        """The next `times` requests get HTTP 429 with a Retry-After header."""
        from llmock.scenarios import Fail

        return self._queue(Fail(429, retry_after=retry_after, times=times, message="Rate limit reached"))

    def server_error(self, times: int = 1, status: int = 500) -> "Model":
        """The next `times` requests get HTTP 5xx."""
        from llmock.scenarios import Fail

        return self._queue(Fail(status, times=times, message="The server had an error"))

    def bad_request(self, times: int = 1, message: str = "Invalid 'messages': content is too long") -> "Model":
        """The next `times` requests get HTTP 400 (a client error: retrying cannot help)."""
        from llmock.scenarios import Fail

        return self._queue(Fail(400, times=times, message=message))

    def slow(self, seconds: float, times: int = 1) -> "Model":
        """The next `times` requests are answered only after `seconds`."""
        from llmock.scenarios import Delay

        return self._queue(Delay(seconds, times=times))

    def requests(self) -> pd.DataFrame:
        """The request log of the local model: one row per HTTP request, with wall-clock times."""
        if self.fake is None:
            raise LabError("Only the local model keeps a request log. Fix: use start_model(fake=True).")
        offset = time.time() - time.monotonic()  # llmock stamps requests with the monotonic clock
        rows = [
            {"seq": r.seq, "path": r.path, "status": r.status, "fault": r.fault, "retry_after": r.retry_after,
             "start": r.started_at + offset, "end": (r.ended_at or r.started_at) + offset, "duration": r.duration,
             "tools_offered": bool((r.body or {}).get("tools")), "messages": len((r.body or {}).get("messages") or [])}
            for r in self.fake.state.journal.records()
        ]
        import pandas as pd

        return pd.DataFrame(rows, columns=["seq", "path", "status", "fault", "retry_after", "start", "end",
                                           "duration", "tools_offered", "messages"])

    def reset(self) -> None:
        """Forget the request log and any queued behaviour."""
        if self.fake is not None:
            self.fake.state.reset()

    def stop(self) -> None:
        """Stop the local model server (no-op for a real endpoint)."""
        if self.fake is not None:
            server = getattr(self.fake, "_server", None)  # llmock's uvicorn.Server
            if server is not None:
                server.force_exit = True  # do not wait up to 5 s for a request still sleeping in model.slow()
            self.fake.stop()
            self.fake = None


def start_model(fake: bool | None = None) -> Model:
    """The lab's model from the environment (see the module doc); `fake=True` forces the local server."""
    mode = os.environ.get("LAB_MODEL", "").lower()
    if mode not in ("", "fake", "openai"):
        raise LabError(f"LAB_MODEL={mode!r} is not a mode. Fix: set it to 'fake' or 'openai', or unset it.")
    name = os.environ.get("LAB_MODEL_NAME", DEFAULT_MODEL)
    base_url = os.environ.get("OPENAI_BASE_URL")
    has_key = bool(os.environ.get("OPENAI_API_KEY"))
    if fake or (fake is None and mode != "openai" and (mode == "fake" or not (base_url or has_key))):
        from llmock.simulation import MockResponseSettings
        from llmock.testing import LLMockServer

        server = LLMockServer(host="127.0.0.1", responses=MockResponseSettings(response_style="static")).start()
        return Model("fake", server.base_url("openai"), name, fake=server)
    if base_url:
        _probe(base_url)
        return Model("compatible", base_url, name)
    if not has_key:
        raise LabError("LAB_MODEL=openai needs an API key. Fix: set OPENAI_API_KEY in the environment "
                       "(never in a notebook), or unset LAB_MODEL to use the local model.")
    return Model("openai", None, name)


def _probe(base_url: str, timeout: float = 3.0) -> None:
    """Raise one LabError naming OPENAI_BASE_URL unless an HTTP server answers GET {base_url}/models within `timeout` s."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(base_url.rstrip("/") + "/models")
    if os.environ.get("OPENAI_API_KEY"):
        request.add_header("Authorization", f"Bearer {os.environ['OPENAI_API_KEY']}")
    try:
        urllib.request.urlopen(request, timeout=timeout).close()
    except urllib.error.HTTPError as e:  # an answer: the server is there
        if e.code in (401, 403):
            raise LabError(f"The model server at OPENAI_BASE_URL={base_url} refused the key (HTTP {e.code}). "
                           "Fix: set the OPENAI_API_KEY that server expects, or unset both to use the local model.") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise LabError(f"No model server answers at OPENAI_BASE_URL={base_url} ({reason}). Fix: start that server "
                       "(e.g. `ollama serve`) or correct OPENAI_BASE_URL (it ends in /v1), or unset it to use the "
                       "local model.") from None


@lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    """The one TLS context (the system's CA certificates) every HTTP client of this process shares.

    httpx builds a new one per client by default, reading the CA bundle: 40 ms of CPU per client (measured),
    paid by every worker start and every `search` activity call before they shared this one."""
    return ssl.create_default_context()


def client(model_url: str | None = None, model_offline: bool = False, timeout: float = 30.0) -> Any:
    """An `openai.AsyncOpenAI` with its own retries OFF, so Temporal's retry policy owns every retry.

    The history keeps only the last attempt's number and failure (its `ActivityTaskStarted` event); each
    attempt's detail comes from an attempt log or the model's request log (notebook 02).
    """
    from openai import AsyncOpenAI, DefaultAsyncHttpxClient

    # The local model gets a dummy key: a real key never leaves for a server that does not need it.
    key = OFFLINE_KEY if model_offline else os.environ.get("OPENAI_API_KEY") or (OFFLINE_KEY if model_url else None)
    if key is None:
        raise LabError("No OPENAI_API_KEY in this worker's environment. Fix: export it before starting the lab.")
    model = AsyncOpenAI(base_url=model_url, api_key=key, max_retries=0, timeout=timeout,
                        http_client=DefaultAsyncHttpxClient(verify=tls_context()))
    # openai imports its chat resources and response types on first use: do it here, in the worker's start, not
    # inside the first model call of an `async def` activity (it held the event loop ~1 s in a busy test run)
    import openai.types.chat  # noqa: F401

    _ = model.chat.completions
    return model


def agents_plugin(model: Model, max_retry_after: float = 30.0) -> Any:
    """Temporal's OpenAI Agents SDK plugin, pointed at `model` over HTTP, with Temporal owning retries.

    The plugin's model activity honours a 429's `Retry-After` as the next retry's delay, with no ceiling
    (`temporalio/openai_agents/_invoke_model_activity.py`, `_raise_for_openai_status`): one
    `Retry-After: 3600` would park the agent for an hour. So the HTTP client caps the header at
    `max_retry_after` seconds before the plugin reads it, and a schedule-to-close budget of 5 minutes
    bounds each model call however its retries go.
    """
    from datetime import timedelta

    from agents import set_tracing_disabled
    from agents.models.openai_provider import OpenAIProvider
    from openai import DefaultAsyncHttpxClient
    from temporalio.common import RetryPolicy
    from temporalio.openai_agents import ModelActivityParameters, OpenAIAgentsPlugin

    set_tracing_disabled(os.environ["OPENAI_AGENTS_DISABLE_TRACING"] == "1")

    async def cap_retry_after(response: Any) -> None:
        for header, unit in (("retry-after", 1.0), ("retry-after-ms", 1000.0)):
            value = response.headers.get(header)
            if value is None:
                continue
            try:
                too_long = float(value) > max_retry_after * unit
            except ValueError:  # an HTTP date: the plugin could not read it either
                too_long = True
            if too_long:
                response.headers[header] = f"{max_retry_after * unit:g}"

    http = DefaultAsyncHttpxClient(event_hooks={"response": [cap_retry_after]}, verify=tls_context())
    openai_client = client(model.base_url, model.mode == "fake").with_options(http_client=http)
    provider = OpenAIProvider(openai_client=openai_client, use_responses=False)
    params = ModelActivityParameters(
        start_to_close_timeout=timedelta(seconds=60),
        schedule_to_close_timeout=timedelta(minutes=5),
        retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=500), maximum_attempts=8),
    )
    return OpenAIAgentsPlugin(model_params=params, model_provider=provider)
