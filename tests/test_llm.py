"""llm: the local model's faults, seen through the real `openai` client; mode selection; the key stays private."""

from __future__ import annotations

import time

import openai
import pytest

from lab_support.llm import OFFLINE_KEY, client, start_model, tls_context
from lab_support.server import LabError


@pytest.fixture
def model(monkeypatch):
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "LAB_MODEL"):
        monkeypatch.delenv(var, raising=False)
    m = start_model()
    yield m
    m.stop()


def _chat(model, **kw):
    c = openai.OpenAI(base_url=model.base_url, api_key=OFFLINE_KEY, max_retries=0,
                      http_client=openai.DefaultHttpxClient(verify=tls_context()))
    return c.chat.completions.create(model=model.name, messages=[{"role": "user", "content": "hi"}], **kw)


def test_default_mode_is_the_local_model_on_loopback(model):
    assert model.mode == "fake" and model.base_url.startswith("http://127.0.0.1:")
    assert _chat(model).choices[0].message.content


def test_scripted_turns_in_order(model):
    model.call_tool("search_web", query="temporal").say("final answer")
    tools = [{"type": "function", "function": {"name": "search_web", "parameters": {"type": "object"}}}]
    first = _chat(model, tools=tools).choices[0].message
    assert first.tool_calls[0].function.name == "search_web"
    assert '"temporal"' in first.tool_calls[0].function.arguments
    assert _chat(model).choices[0].message.content == "final answer"


def test_rate_limit_carries_retry_after(model):
    model.rate_limit(times=2, retry_after=3)
    for _ in range(2):
        with pytest.raises(openai.RateLimitError) as err:
            _chat(model)
        assert err.value.response.headers["retry-after"] == "3"
    assert _chat(model).choices[0].message.content


def test_server_errors_then_recovery(model):
    model.server_error(times=2)
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            _chat(model)
    _chat(model)
    assert list(model.requests()["status"]) == [500, 500, 200]


def test_bad_request(model):
    model.bad_request(message="too long")
    with pytest.raises(openai.BadRequestError, match="too long"):
        _chat(model)


def test_slow_response_and_request_log_times(model):
    model.slow(0.5)
    started = time.time()
    _chat(model)
    log = model.requests()
    assert time.time() - started >= 0.5
    assert log["duration"].iloc[0] >= 0.5
    assert abs(log["start"].iloc[0] - started) < 0.5  # wall-clock times, comparable with histories


def test_reset_forgets_log_and_script(model):
    model.say("queued")
    _chat(model)
    model.bad_request()
    model.reset()
    assert model.requests().empty
    _chat(model)  # the queued 400 is gone


def test_modes_from_the_environment(monkeypatch):
    monkeypatch.delenv("LAB_MODEL", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    real = start_model()
    assert real.mode == "openai" and real.fake is None
    assert "sk-secret" not in repr(real) and "sk-secret" not in str(real.worker_config())
    with pytest.raises(LabError, match="local model"):
        real.rate_limit()
    forced = start_model(fake=True)
    assert forced.mode == "fake"
    monkeypatch.setenv("OPENAI_BASE_URL", forced.base_url)  # any answering server will do
    assert start_model().mode == "compatible"
    forced.stop()


def test_a_closed_model_endpoint_is_refused_at_once_naming_the_variable(monkeypatch):
    from lab_support.procs import free_port

    monkeypatch.delenv("LAB_MODEL", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{free_port()}/v1")
    started = time.monotonic()
    with pytest.raises(LabError, match="No model server answers at OPENAI_BASE_URL=") as err:
        start_model()
    assert time.monotonic() - started < 10  # a behaviour bound: not the 64 s of a first agent run
    assert "Fix:" in str(err.value) and "sk-secret" not in str(err.value)


def test_a_model_endpoint_that_refuses_the_key_says_so(monkeypatch):
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Refuse(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(401)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.delenv("LAB_MODEL", raising=False)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
        monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{server.server_port}/v1")
        with pytest.raises(LabError, match="refused the key") as err:
            start_model()
        assert "OPENAI_API_KEY" in str(err.value) and "sk-secret" not in str(err.value)
    finally:
        server.shutdown()


def test_openai_mode_without_a_key_names_the_fix(monkeypatch):
    monkeypatch.setenv("LAB_MODEL", "openai")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(LabError, match="OPENAI_API_KEY"):
        start_model()
    monkeypatch.setenv("LAB_MODEL", "gpt")
    with pytest.raises(LabError, match="not a mode"):
        start_model()


def test_the_client_never_sends_a_real_key_to_the_local_model(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    assert client("http://127.0.0.1:1/v1", model_offline=True).api_key == OFFLINE_KEY
    assert client(None).api_key == "sk-secret-value"
    assert client(None).max_retries == 0
