"""Chat with a base model or a run's adapter through one long-lived generation child."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional

from workbench.core.clock import new_id
from workbench.core.errors import JobError, ModelError, WorkbenchError
from workbench.core.records import CHATTABLE_STATUSES, ROLES, BaseModel, ChatSession, Run
from workbench.jobs.launch import ChildProcess
from workbench.jobs.protocol import Event
from workbench.jobs.specs import ChatSpec, write_spec
from workbench.services.jobs_wait import log_tail
from workbench.store import ProjectStore

# Runs whose adapter can be chatted with.
# Roles a stored conversation may hold (what the chat child accepts as history).
_HISTORY_ROLES = ROLES


@dataclass(frozen=True)
class ChatChoice:
    """Something the Chat page can load: a base model, or a run's adapter on its base model."""

    base_model_id: str
    run_id: Optional[str]
    name: str  # the model's or the run's name, as the status line says it
    label: str  # the selector's text

    @property
    def key(self) -> tuple[str, Optional[str]]:
        return (self.base_model_id, self.run_id)


def _choice(model: BaseModel, run: Optional[Run] = None) -> ChatChoice:
    if run is None:
        return ChatChoice(model.id, None, model.name, f"{model.name}  (base model)")
    return ChatChoice(model.id, run.id, run.name, f"{run.name}  (adapter on {model.name})")


def chat_choices(store: ProjectStore) -> list[ChatChoice]:
    """The base models, then the finished (or cancelled) runs with an adapter, in store order."""
    models = store.list_base_models()
    by_id = {m.id: m for m in models}
    choices = [_choice(m) for m in models]
    for run in store.list_runs():
        if run.status in CHATTABLE_STATUSES and run.adapter_path and run.base_model_id in by_id:
            choices.append(_choice(by_id[run.base_model_id], run))
    return choices


class ChatClient:
    """States: starting -> ready <-> generating; failed or closed at the end."""

    def __init__(self, store: ProjectStore, base_model_id: str, run_id: Optional[str] = None,
                 history: Iterable[Mapping[str, str]] = ()) -> None:
        """`history`: earlier messages this conversation continues (copied into its new
        session, so the new model sees them and each session stays complete on its own)."""
        self.store = store
        self.model = store.get_base_model(base_model_id)
        self.run = store.get_run(run_id) if run_id else None
        if self.run is not None and not self.run.adapter_path:
            raise ModelError(f"Run {self.run.name} has no adapter yet.",
                             advice="Chat with a finished (or cancelled) run, or with the base model.")
        title = f"{self.model.name}" + (f" + {self.run.name}" if self.run else "")
        self.session: ChatSession = store.add_chat_session(title, base_model_id, run_id)
        for message in history:
            if message.get("role") in _HISTORY_ROLES and message.get("content"):
                store.add_chat_message(self.session.id, str(message["role"]), str(message["content"]))
        self.state = "new"
        self.error: Optional[WorkbenchError] = None
        self._child: Optional[ChildProcess] = None
        self._current: Optional[str] = None
        self._work = store.abspath(os.path.join("chat", self.session.id))

    @property
    def choice(self) -> ChatChoice:
        """What is loaded, in the same terms as chat_choices()."""
        return _choice(self.model, self.run)

    def start(self) -> None:
        adapter = self.store.abspath(self.run.adapter_path) if self.run and self.run.adapter_path else None
        spec = ChatSpec(base_model_path=self.model.path, adapter_path=adapter,
                        journal_path=os.path.join(self._work, "journal.jsonl"))
        spec_path = write_spec(spec, os.path.join(self._work, "chat.spec.json"))
        self._child = ChildProcess("chat", spec_path, os.path.join(self._work, "chat.log")).start()
        self.state = "starting"

    def new_session(self) -> ChatSession:
        """Start a fresh conversation with the same loaded model (no reload)."""
        if self.state == "generating":
            raise WorkbenchError("Stop the current reply before starting a new chat.")
        self.session = self.store.add_chat_session(self.session.title, self.model.id,
                                                   self.run.id if self.run else None)
        return self.session

    def history(self) -> list[dict[str, str]]:
        return [{"role": m.role, "content": m.content} for m in self.store.chat_messages(self.session.id)]

    def send(self, text: str, max_new_tokens: int = 128, temperature: float = 0.7) -> str:
        if self.state != "ready":
            raise WorkbenchError(f"The model is not ready to chat (state: {self.state}).",
                                 advice="Wait for it to load, or stop the current reply first.")
        self.store.add_chat_message(self.session.id, "user", text)
        request_id = new_id()
        assert self._child is not None
        self._child.send({"op": "generate", "id": request_id, "messages": self.history(),
                          "max_new_tokens": int(max_new_tokens), "temperature": float(temperature)})
        self._current = request_id
        self.state = "generating"
        return request_id

    def poll(self) -> list[Event]:
        if self._child is None:
            return []
        events = self._child.poll_events()
        for ev in events:
            if ev.kind == "ready":
                self.state = "ready"
            elif ev.kind == "done" and ev.payload.get("id") == self._current:
                self.store.add_chat_message(self.session.id, "assistant", ev.payload.get("text", ""))
                self._current = None
                self.state = "ready"
            elif ev.kind == "failed":
                p = ev.payload
                self.error = JobError(p.get("message") or "Generation failed.", details=p.get("details", ""),
                                      advice=p.get("advice", ""))
                if p.get("id") and self.state == "generating":
                    self._current = None
                    self.state = "ready"  # a bad request; the model is still loaded
                else:
                    self.state = "failed"
        if self.state in ("starting", "ready", "generating") and not self._child.alive() and not events:
            self.state = "failed"
            self.error = self.error or JobError(
                "The chat process ended unexpectedly.", details=log_tail(os.path.join(self._work, "chat.log")),
                advice="If this keeps happening the model may not fit in memory.")
        return events

    def stop_generation(self) -> None:
        if self._child is not None and self.state == "generating":
            self._child.send({"op": "stop"})

    def close(self) -> None:
        if self._child is not None:
            self._child.send({"op": "quit"})
            self._child.close(grace=3.0)
            self._child = None
        self.state = "closed"
