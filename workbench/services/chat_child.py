"""One chat generation child (engine verb `chat`, protocol v2 in jobs/protocol.py) for one base
model with any of its adapters loaded by name, and where a chat target's adapter lives.

ChatChild never blocks: requests go to the child's stdin, poll() returns the events that
arrived (call it from a timer or a loop). Chat (services/chat.py) and the arena
(services/arena.py) build on it.
"""

from __future__ import annotations

import os
from typing import Any, Iterable, Mapping, Optional, Union

from workbench.core.chat_records import ChatTarget, SamplingSettings
from workbench.core.errors import JobError, ModelError, WorkbenchError
from workbench.jobs.launch import ChildProcess
from workbench.jobs.protocol import Event
from workbench.jobs.specs import ChatSpec, write_spec
from workbench.services.jobs_wait import log_tail
from workbench.store import ProjectStore

Settings = Union[SamplingSettings, Mapping[str, Any], None]
# What `adapter` means in a request: a loaded adapter's name, or None for the base model.
BASE = None


def _settings(settings: Settings) -> dict[str, Any]:
    if settings is None:
        return SamplingSettings().to_dict()
    if isinstance(settings, SamplingSettings):
        return settings.to_dict()
    return SamplingSettings.from_dict(dict(settings)).to_dict()


def _messages(messages: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [dict(m) for m in messages]


class ChatChild:
    """A chat child process. States: new -> starting -> ready; failed or closed at the end.

    `ready` carries the loaded adapters' names, the device and the context limit; the child
    answers generate / generate_many with token and done (or failed) events, generate_many
    then with batch_done. When the process ends unexpectedly, poll() returns one `failed`
    event (seq -1, no id) with the log's tail as details.
    """

    def __init__(self, base_model_path: str, adapters: Optional[Mapping[str, str]] = None,
                 work_dir: str = "", device: str = "auto") -> None:
        if not work_dir:
            raise WorkbenchError("A chat child needs a working folder.")
        self.base_model_path = base_model_path
        self.work_dir = work_dir
        self.device = device
        self.adapters: dict[str, str] = dict(adapters or {})  # name -> folder (as asked)
        self.loaded: list[str] = []  # adapter names the child reported loaded
        self.state = "new"
        self.error: Optional[WorkbenchError] = None
        self.ready_payload: dict[str, Any] = {}
        self._child: Optional[ChildProcess] = None
        self._exit_reported = False

    @property
    def log_path(self) -> str:
        return os.path.join(self.work_dir, "chat.log")

    @property
    def journal_path(self) -> str:
        return os.path.join(self.work_dir, "journal.jsonl")

    @property
    def context_limit(self) -> Optional[int]:
        return self.ready_payload.get("context_limit")

    def start(self) -> "ChatChild":
        spec = ChatSpec(base_model_path=self.base_model_path, adapters=dict(self.adapters),
                        journal_path=self.journal_path, device=self.device)
        spec_path = write_spec(spec, os.path.join(self.work_dir, "chat.spec.json"))
        self._child = ChildProcess("chat", spec_path, self.log_path).start()
        self.state = "starting"
        return self

    def alive(self) -> bool:
        return self._child is not None and self._child.alive()

    @property
    def pid(self) -> Optional[int]:
        return self._child.pid if self._child else None

    # -- requests ------------------------------------------------------------------------
    def _send(self, request: dict[str, Any]) -> None:
        if self._child is None:
            raise WorkbenchError("The chat model is not started.", advice="Start it first.")
        self._child.send(request)

    def send_generate(self, request_id: str, messages: Iterable[Mapping[str, Any]],
                      adapter: Optional[str] = BASE, settings: Settings = None) -> None:
        """One reply from `adapter` (None: the base model with adapters disabled)."""
        self._send({"op": "generate", "id": request_id, "messages": _messages(messages),
                    "adapter": adapter, "settings": _settings(settings)})

    def send_generate_many(self, request_id: str, items: Iterable[Mapping[str, Any]],
                           settings: Settings = None) -> None:
        """One batched generate: items are {key, messages, adapter (name or None)}; events
        carry the item's key; batch_done follows every key's done or failed."""
        rows = [{"key": str(i["key"]), "messages": _messages(i["messages"]), "adapter": i.get("adapter")}
                for i in items]
        self._send({"op": "generate_many", "id": request_id, "items": rows, "settings": _settings(settings)})

    def send_render(self, request_id: str, messages: Iterable[Mapping[str, Any]],
                    adapter: Optional[str] = BASE) -> None:
        """Ask for the prompt text the chat template makes of `messages` (event `rendered`)."""
        self._send({"op": "render", "id": request_id, "messages": _messages(messages), "adapter": adapter})

    def add_adapter(self, name: str, path: str) -> None:
        """Load another adapter of this base (event `adapter_added {name}` or `failed {name}`)."""
        self.adapters[name] = path
        self._send({"op": "add_adapter", "name": name, "path": path})

    def stop(self, request_id: Optional[str] = None) -> None:
        """Interrupt every generation, or those of one request (their done says interrupted)."""
        if self._child is not None:
            self._child.send({"op": "stop"} if request_id is None else {"op": "stop", "id": request_id})

    # -- events --------------------------------------------------------------------------
    def poll(self) -> list[Event]:
        if self._child is None:
            return []
        events = self._child.poll_events()
        for ev in events:
            if ev.kind == "ready":
                self.state = "ready"
                self.ready_payload = dict(ev.payload)
                self.loaded = list(ev.payload.get("adapters") or [])
            elif ev.kind == "adapter_added":
                self.loaded = list(ev.payload.get("adapters") or [*self.loaded, ev.payload.get("name")])
            elif ev.kind == "failed" and self.state == "starting":
                p = ev.payload
                self.state = "failed"
                self.error = ModelError(p.get("message") or "The chat model could not load.",
                                        details=p.get("details", ""), advice=p.get("advice", ""))
        if not events and self.state in ("starting", "ready") and not self._child.alive() \
                and not self._exit_reported:
            self._exit_reported = True
            self.state = "failed"
            rc = self._child.returncode()
            self.error = self.error or JobError(
                "The chat process ended unexpectedly.", details=log_tail(self.log_path),
                advice="If this keeps happening the model may not fit in memory.")
            events = [Event(seq=-1, kind="failed", payload={
                "id": None, "message": self.error.user_message, "details": self.error.details,
                "advice": self.error.advice, "error_kind": "error", "exit_code": rc})]
        return events

    def close(self, grace: float = 3.0) -> None:
        if self._child is not None:
            self._child.send({"op": "quit"})
            self._child.close(grace=grace)
            self._child = None
        self.state = "closed"


def adapter_folder(store: ProjectStore, target: ChatTarget) -> Optional[str]:
    """The adapter folder `target` means (absolute): None for a base model, else the run's
    final adapter or its kept checkpoint (target.checkpoint: "checkpoint-N", "best", "final").
    Reads folders: call it from a worker. A missing one is a clear error."""
    if target.run_id is None:
        return None
    from workbench.services.exports import pick_checkpoint

    run = store.get_run(target.run_id)
    if run.base_model_id != target.base_model_id:
        raise ModelError(f"Run {run.name}'s adapter was trained on another base model.",
                         advice="Chat with it on the base model it was trained on.")
    try:
        return pick_checkpoint(store, run.id, target.checkpoint).path
    except WorkbenchError as exc:
        which = target.checkpoint or "final"
        raise ModelError(f"Run {run.name} has no {which} adapter to chat with.",
                         details=exc.user_message, advice=exc.advice) from None
