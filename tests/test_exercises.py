"""exercises: the checker grades right, untouched and known-wrong answers correctly."""

from __future__ import annotations

import pytest

from lab_support.exercises import Verdict, check, hint, solution

LESSONS = ["replay", "retries", "agent_loop", "timers", "approval", "cancellation", "monitor", "multi_agent", "saga", "versioning", "scaling"]


@pytest.mark.parametrize("lesson", LESSONS)
async def test_solution_passes(lab, lesson):
    verdict = await check(lesson, lab, module="solution")
    assert verdict.status == "passed", str(verdict)
    assert bool(verdict)


@pytest.mark.parametrize("lesson", LESSONS)
async def test_untouched_exercise_is_not_attempted(lab, lesson):
    verdict = await check(lesson, lab)
    assert verdict.status == "not attempted", str(verdict)
    assert "todo(" in verdict.message and not verdict


@pytest.mark.parametrize("lesson, module, message, hint_words", [
    ("replay", "tests.fixtures.wrong_replay", "no `classify` activity", "execute_activity"),
    ("replay", "tests.fixtures.wrong_replay_clock", "read the real clock", "workflow.now()"),
    ("retries", "tests.fixtures.wrong_retries", "the server asked for 2 s", "next_retry_delay"),
    ("agent_loop", "tests.fixtures.wrong_agent_loop", "The agent failed", "unknown tool"),
    ("timers", "tests.fixtures.wrong_timers", "72 timers", "many timers"),
    ("approval", "tests.fixtures.wrong_approval", "budget of -5 was accepted", "validator"),
    ("cancellation", "tests.fixtures.wrong_cancellation", "ended COMPLETED, not CANCELED", "raise"),
    ("monitor", "tests.fixtures.wrong_monitor", "were lost", "pending messages"),
    ("multi_agent", "tests.fixtures.wrong_multi_agent", "one after another", "for` loop"),
    ("saga", "tests.fixtures.wrong_saga", "undo the newest step first", "newest first"),
    ("versioning", "tests.fixtures.wrong_versioning", "no longer replays", "TMPRL1100"),
    ("scaling", "tests.fixtures.wrong_scaling", "the fewest that meet the deadline is 3", "waves"),
])
async def test_known_wrong_answers_get_the_right_hint(lab, lesson, module, message, hint_words):
    verdict = await check(lesson, lab, module=module)
    assert verdict.status == "not yet"
    assert message in verdict.message
    assert hint_words in (verdict.hint or "")


async def test_check_starts_its_own_server_when_given_none():
    verdict = await check("replay", module="solution")
    assert verdict.status == "passed"


def test_verdict_renders_for_notebooks():
    assert Verdict("passed", "ok")._repr_markdown_().startswith("✅")
    assert "**Hint:** h" in Verdict("not yet", "no", "h")._repr_markdown_()


def test_hint_and_solution_are_one_call_away():
    assert "execute_activity" in str(hint("replay", 1))
    assert str(hint("replay")).count("\n- ") == 2
    text = str(solution("replay"))
    assert "workflow.now()" in text and "```python" in text and "todo(" not in text


async def _gone(client, workflow_id: str, timeout: float = 10.0) -> bool:
    """True once the server no longer knows the workflow (deletion runs as a server task, a moment later)."""
    import asyncio
    import time

    from temporalio.service import RPCError, RPCStatusCode

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            await client.get_workflow_handle(workflow_id).describe()
        except RPCError as e:
            if e.status == RPCStatusCode.NOT_FOUND:
                return True
            raise
        await asyncio.sleep(0.1)
    return False


async def test_a_check_leaves_no_terminated_workflow(lab):
    """The untouched approval exercise leaves its workflow waiting; the check stops it and deletes it, so the Web UI
    shows no TERMINATED run that looks like the learner's failure. A passing check's completed run stays."""
    verdict = await check("approval", lab)
    assert verdict.status == "not attempted" and len(verdict.deleted) == 1, verdict
    assert await _gone(lab.client, verdict.deleted[0])
    passing = await check("approval", lab, module="solution")
    assert passing.status == "passed" and passing.deleted == ()
