"""A chat session as a workflow: each user message is an update that returns the reply; the transcript is state.

One workflow per session id, started lazily by update-with-start. With `memory="summary"` the session
hands over to a fresh run (continue-as-new) carrying a model-written summary and the last turns only.
A new message while a model call is in flight cancels that call (`interrupt=True`) and answers the new one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, CancelledError

with workflow.unsafe.imports_passed_through():
    from temporalio.contrib.workflow_streams import WorkflowStream, WorkflowStreamState

    from .activities import TOKENS, ChatRequest

SYSTEM = "You are a concise, friendly support agent for Tempo Bikes. Answer in at most three sentences."
MODEL_CALL = {
    "start_to_close_timeout": timedelta(seconds=60),
    "heartbeat_timeout": timedelta(seconds=2),  # the chat activity heartbeats: a dead worker is noticed fast
    "retry_policy": RetryPolicy(initial_interval=timedelta(milliseconds=300), maximum_attempts=8),
    "cancellation_type": workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
}
INTERRUPTED = "(interrupted by a newer message)"


@dataclass
class UserMessage:
    id: str  # chosen by the client; also the update id, so a retried send is answered once
    text: str


@dataclass
class Reply:
    text: str
    turn: int
    run: int
    interrupted: bool = False


@dataclass
class Session:
    """Everything a session remembers; carried whole into the next run on continue-as-new."""

    session_id: str
    system: str = SYSTEM
    memory: str = "full"  # "full": every turn stays in context | "summary": summarise and continue as new
    keep_turns: int = 2  # turns kept word for word after a summary
    summarise_after: int = 6  # turns held before the session summarises and continues as new
    stream: bool = False  # publish reply tokens to the workflow stream
    interrupt: bool = True  # a new message cancels the model call in flight
    stream_keep: int = 500  # stream items carried into the next run (a subscriber asking for older ones restarts there)
    summary: str = ""
    messages: list[dict[str, str]] = field(default_factory=list)
    turns: int = 0  # user messages handled, over all runs
    summaries: int = 0
    run: int = 1
    stream_state: WorkflowStreamState | None = None


@workflow.defn
class ChatSession:
    @workflow.init
    def __init__(self, session: Session) -> None:
        # State comes from the input BEFORE any update handler runs: a message that reaches the server
        # while a run is closing is delivered to the next run, and must find the carried state there.
        self.s = session
        self.stream = WorkflowStream(session.stream_state)
        self.pending: list[UserMessage] = []
        self.replies: dict[str, Reply] = {}
        self.in_flight: workflow.ActivityHandle[str] | None = None
        self.summarised = False

    @workflow.update
    async def send(self, message: UserMessage) -> Reply:
        """One user message; returns the assistant's reply (or an interrupted marker)."""
        if self.s.interrupt and self.in_flight is not None and not self.in_flight.done():
            self.in_flight.cancel()
        self.pending.append(message)
        await workflow.wait_condition(lambda: message.id in self.replies)
        return self.replies.pop(message.id)

    @workflow.query
    def transcript(self) -> list[dict[str, str]]:
        """The context the next model call will get: system prompt (with summary), then the turns."""
        return self._context()

    @workflow.query
    def status(self) -> Session:
        """The whole session state (without the stream's log)."""
        return Session(**{**self.s.__dict__, "stream_state": None})

    def _context(self) -> list[dict[str, str]]:
        system = self.s.system + (f"\nSummary of the earlier conversation: {self.s.summary}" if self.s.summary else "")
        return [{"role": "system", "content": system}, *self.s.messages]

    def _hand_over_due(self) -> bool:
        if self.s.memory != "summary":
            return False  # "full" keeps everything in one run, until the server says no more
        held = sum(m["role"] == "user" for m in self.s.messages)
        return self.summarised or held >= self.s.summarise_after or workflow.info().is_continue_as_new_suggested()

    @workflow.run
    async def run(self, session: Session) -> Session:
        while True:
            await workflow.wait_condition(lambda: bool(self.pending) or self._hand_over_due())
            if self.pending:
                await self._answer(self.pending.pop(0))
                continue
            if not self.summarised:
                await self._summarise()
            self.stream.detach_pollers()  # stream subscribers re-attach to the next run
            await workflow.wait_condition(lambda: bool(self.pending) or workflow.all_handlers_finished())
            if self.pending:
                continue  # answer messages that arrived during the hand-over in this run first
            self.s.run += 1
            end = (state := self.stream.get_state()).base_offset + len(state.log)
            self.stream.truncate(max(state.base_offset, end - self.s.stream_keep))  # carry only the newest items
            self.s.stream_state = self.stream.get_state()
            workflow.continue_as_new(self.s)

    async def _answer(self, message: UserMessage) -> None:
        self.s.turns += 1
        turn = self.s.turns
        self.s.messages.append({"role": "user", "content": message.text})
        self.in_flight = workflow.start_activity("chat", ChatRequest(self._context(), turn, self.s.stream),
                                                 result_type=str, **MODEL_CALL)
        try:
            text = await self.in_flight
        except ActivityError as e:
            if not isinstance(e.cause, CancelledError):
                raise
            if self.s.stream:
                self.stream.topic(TOKENS).publish({"turn": turn, "done": True, "interrupted": True})
            self.replies[message.id] = Reply(INTERRUPTED, turn, self.s.run, interrupted=True)
            return  # the user's words stay in context; the half-written reply does not
        finally:
            self.in_flight = None
        self.s.messages.append({"role": "assistant", "content": text})
        if self.s.stream:
            self.stream.topic(TOKENS).publish({"turn": turn, "done": True})  # the reply is complete
        self.replies[message.id] = Reply(text, turn, self.s.run)

    async def _summarise(self) -> None:
        keep = 2 * self.s.keep_turns
        older, recent = self.s.messages[:-keep] if keep else self.s.messages, self.s.messages[-keep:] if keep else []
        if older:
            text = (f"Earlier summary: {self.s.summary}\n" if self.s.summary else "") + "\n".join(
                f"{m['role']}: {m['content']}" for m in older)
            self.s.summary = await workflow.execute_activity("summarise", text, result_type=str, **MODEL_CALL)
            self.s.messages = recent
            self.s.summaries += 1
        self.summarised = True
