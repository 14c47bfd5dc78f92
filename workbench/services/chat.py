"""Chat with a base model, a run's adapter or one of its checkpoints through one long-lived
generation child (services/chat_child.py), keeping conversations in the project as trees.

A conversation is a tree of turns (store/chat_store.py): regenerating a reply adds a sibling
reply under the same user turn, editing a user turn adds a sibling user turn (and its reply);
the conversation's head says which branch is shown. One ChatClient holds one child for the
loaded model; opening another conversation of the same model reuses it (no reload).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional

from workbench.core.chat_records import ChatTarget, Conversation, SamplingSettings, Turn
from workbench.core.clock import new_id
from workbench.core.errors import JobError, ModelError, WorkbenchError
from workbench.core.records import CHATTABLE_STATUSES, ROLES, BaseModel, Run
from workbench.jobs.protocol import Event
from workbench.services.chat_child import ChatChild
from workbench.store import ProjectStore

# Roles a stored conversation may hold (what the chat child accepts as history).
_HISTORY_ROLES = ROLES
DEFAULT_ADAPTER = "default"  # the name the child gives the one adapter a client loads
TITLE_CHARS = 60  # a new conversation is titled by its first message, cut to this


@dataclass(frozen=True)
class ChatChoice:
    """Something the Chat page can load: a base model, or a run's adapter on its base model."""

    base_model_id: str
    run_id: Optional[str]
    name: str  # the model's or the run's name, as the status line says it
    label: str  # the selector's text
    checkpoint: Optional[str] = None  # a kept checkpoint of the run; None: its final adapter

    @property
    def key(self) -> tuple[str, Optional[str]]:
        return (self.base_model_id, self.run_id) if self.checkpoint is None else \
            (self.base_model_id, self.run_id, self.checkpoint)  # type: ignore[return-value]

    @property
    def target(self) -> ChatTarget:
        return ChatTarget(self.base_model_id, self.run_id, self.checkpoint)


def _choice(model: BaseModel, run: Optional[Run] = None, checkpoint: Optional[str] = None) -> ChatChoice:
    if run is None:
        return ChatChoice(model.id, None, model.name, f"{model.name}  (base model)")
    if checkpoint:
        name = f"{run.name} @ {checkpoint}"
        return ChatChoice(model.id, run.id, name, f"{name}  (checkpoint on {model.name})", checkpoint)
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


def target_choice(store: ProjectStore, target: ChatTarget) -> ChatChoice:
    """The selector entry for a target (a checkpoint of a run included)."""
    model = store.get_base_model(target.base_model_id)
    run = store.get_run(target.run_id) if target.run_id else None
    return _choice(model, run, target.checkpoint if run else None)


def turn_tokens_per_s(turn: Turn) -> Optional[float]:
    """Decode speed after the first token, as the child's done event reports it."""
    if not turn.tokens or turn.tokens < 2 or turn.seconds is None or turn.ttft is None:
        return None
    span = turn.seconds - turn.ttft
    return round((turn.tokens - 1) / span, 2) if span > 0 else None


def siblings(turns: Iterable[Turn], turn: Turn) -> list[Turn]:
    """The turns sharing `turn`'s parent and role (its alternatives), in creation order."""
    return [t for t in turns if t.parent_id == turn.parent_id and t.role == turn.role]


def leaf_of(turns: Iterable[Turn], turn_id: str) -> str:
    """The end of the branch through `turn_id`: its newest child, that one's newest, ..."""
    children: dict[Optional[str], list[Turn]] = {}
    for t in turns:
        children.setdefault(t.parent_id, []).append(t)
    seen = {turn_id}
    while children.get(turn_id):
        turn_id = max(children[turn_id], key=lambda t: t.idx).id
        if turn_id in seen:
            break
        seen.add(turn_id)
    return turn_id


class ChatClient:
    """States: new -> starting -> ready <-> generating; failed or closed at the end."""

    def __init__(self, store: ProjectStore, base_model_id: str, run_id: Optional[str] = None,
                 history: Iterable[Mapping[str, str]] = (), *, checkpoint: Optional[str] = None,
                 session_id: Optional[str] = None, system_prompt: str = "",
                 settings: Optional[SamplingSettings] = None) -> None:
        """`history`: earlier messages this conversation continues (copied into its new
        conversation, so the new model sees them and each stays complete on its own).
        `session_id`: open that stored conversation instead of starting one."""
        self.store = store
        self.model = store.get_base_model(base_model_id)
        self.run = store.get_run(run_id) if run_id else None
        if self.run is not None and not self.run.adapter_path and not checkpoint:
            raise ModelError(f"Run {self.run.name} has no adapter yet.",
                             advice="Chat with a finished (or cancelled) run, or with the base model.")
        self.target = ChatTarget(base_model_id, run_id, checkpoint if run_id else None)
        self.settings = settings or SamplingSettings()
        self.state = "new"
        self.error: Optional[WorkbenchError] = None
        self.rendered: dict[str, dict] = {}  # render request id -> {text, tokens}
        self._child: Optional[ChatChild] = None
        self._current: Optional[str] = None  # the generate request in flight
        self._reply_parent: Optional[str] = None  # the user turn it answers
        self._reply_settings: dict = {}
        if session_id is not None:
            self.session = self._open(session_id)
        else:
            self.session = self._new_conversation(system_prompt)
            parent = None
            for message in history:
                if message.get("role") in _HISTORY_ROLES and message.get("content"):
                    parent = store.add_turn(self.session.id, str(message["role"]), str(message["content"]),
                                            parent_id=parent).id
            self.session = store.get_conversation(self.session.id)
        self._work = store.abspath(os.path.join("chat", new_id()))

    # -- what is loaded --------------------------------------------------------------------------
    @property
    def choice(self) -> ChatChoice:
        """What is loaded, in the same terms as chat_choices()."""
        return _choice(self.model, self.run, self.target.checkpoint)

    @property
    def adapter(self) -> Optional[str]:
        return DEFAULT_ADAPTER if self.run is not None else None

    def _adapter_path(self) -> Optional[str]:
        if self.run is None:
            return None
        if self.target.checkpoint is None and self.run.adapter_path:
            return self.store.abspath(self.run.adapter_path)
        from workbench.services.chat_child import adapter_folder

        return adapter_folder(self.store, self.target)

    def start(self) -> None:
        adapter = self._adapter_path()
        os.makedirs(self._work, exist_ok=True)
        self._child = ChatChild(self.model.path, {DEFAULT_ADAPTER: adapter} if adapter else {}, self._work)
        self._child.start()
        self.state = "starting"

    @property
    def context_limit(self) -> Optional[int]:
        return self._child.context_limit if self._child is not None else None

    # -- conversations ---------------------------------------------------------------------------
    def _new_conversation(self, system_prompt: str = "") -> Conversation:
        title = self.model.name + (f" + {self.run.name}" if self.run else "")
        return self.store.add_conversation(title, self.target.base_model_id, self.target.run_id,
                                           checkpoint=self.target.checkpoint, system_prompt=system_prompt,
                                           settings=self.settings.to_dict())

    def _open(self, session_id: str) -> Conversation:
        conversation = self.store.get_conversation(session_id)
        if conversation.settings:
            self.settings = SamplingSettings.from_dict(conversation.settings)
        return conversation

    def _idle(self, what: str) -> None:
        if self.state == "generating":
            raise WorkbenchError(f"Stop the current reply before {what}.")

    def new_session(self, system_prompt: Optional[str] = None) -> Conversation:
        """Start a fresh conversation with the same loaded model (no reload)."""
        self._idle("starting a new chat")
        self.session = self._new_conversation(self.session.system_prompt if system_prompt is None else system_prompt)
        return self.session

    def open_conversation(self, session_id: str) -> Conversation:
        """Show another stored conversation of the loaded model (the child stays loaded)."""
        self._idle("opening another conversation")
        conversation = self.store.get_conversation(session_id)
        if conversation.target != self.target:
            raise WorkbenchError("That conversation was with another model.",
                                 advice="Load its model to continue it.")
        self.session = self._open(session_id)
        return self.session

    def set_system_prompt(self, text: str) -> None:
        if text != self.session.system_prompt:
            self.session = self.store.update_conversation(self.session.id, system_prompt=text)

    def set_settings(self, settings: SamplingSettings) -> None:
        problems = settings.problems()
        if problems:
            raise WorkbenchError("These generation settings cannot be used.", details="\n".join(problems),
                                 advice=problems[0])
        self.settings = settings
        if settings.to_dict() != self.session.settings:
            self.session = self.store.update_conversation(self.session.id, settings=settings.to_dict())

    # -- the tree --------------------------------------------------------------------------------
    def turns(self) -> list[Turn]:
        """Every turn of the conversation, all branches."""
        return self.store.turns(self.session.id)

    def branch(self) -> list[Turn]:
        """The turns shown: the first to the head."""
        return self.store.branch(self.session.id)

    def history(self) -> list[dict[str, str]]:
        return [{"role": t.role, "content": t.content} for t in self.branch()]

    def prompt_messages(self, upto: Optional[str] = None, extra_user: str = "") -> list[dict[str, str]]:
        """What the model is sent: the system prompt, the branch (to `upto` included), and an
        extra user message (the text about to be sent)."""
        turns = self.store.branch(self.session.id, upto) if upto else self.branch()
        out = [{"role": "system", "content": self.session.system_prompt}] if self.session.system_prompt else []
        out += [{"role": t.role, "content": t.content} for t in turns]
        if extra_user:
            out.append({"role": "user", "content": extra_user})
        return out

    def sibling_position(self, turn: Turn, turns: Optional[list[Turn]] = None) -> tuple[int, int]:
        """(1-based position, count) of `turn` among its alternatives."""
        alts = siblings(turns if turns is not None else self.turns(), turn)
        return next(i for i, t in enumerate(alts) if t.id == turn.id) + 1, len(alts)

    def switch_branch(self, turn_id: str, step: int) -> Conversation:
        """Show the previous (step -1) or next (+1) alternative of a turn, to its branch's end."""
        self._idle("switching branches")
        turns = self.turns()
        turn = next(t for t in turns if t.id == turn_id)
        alts = siblings(turns, turn)
        index = next(i for i, t in enumerate(alts) if t.id == turn_id) + step
        if not 0 <= index < len(alts):
            return self.session
        self.session = self.store.update_conversation(self.session.id, head_id=leaf_of(turns, alts[index].id))
        return self.session

    # -- talking ---------------------------------------------------------------------------------
    def _ready(self) -> ChatChild:
        if self.state != "ready" or self._child is None:
            raise WorkbenchError(f"The model is not ready to chat (state: {self.state}).",
                                 advice="Wait for it to load, or stop the current reply first.")
        return self._child

    def _settings_for(self, settings: Optional[SamplingSettings], max_new_tokens: Optional[int],
                      temperature: Optional[float]) -> SamplingSettings:
        chosen = settings or self.settings
        data = chosen.to_dict()
        if max_new_tokens is not None:
            data["max_new_tokens"] = int(max_new_tokens)
        if temperature is not None:
            data["temperature"] = float(temperature)
        chosen = SamplingSettings.from_dict(data)
        self.set_settings(chosen)
        return chosen

    def _generate(self, user_turn: Turn, settings: SamplingSettings) -> str:
        request_id = new_id()
        child = self._ready()
        child.send_generate(request_id, self.prompt_messages(upto=user_turn.id), self.adapter, settings)
        self._current, self._reply_parent, self._reply_settings = request_id, user_turn.id, settings.to_dict()
        self.state = "generating"
        return request_id

    def send(self, text: str, max_new_tokens: Optional[int] = None, temperature: Optional[float] = None,
             settings: Optional[SamplingSettings] = None) -> str:
        """Add a user turn at the end of the shown branch and ask for a reply."""
        self._ready()
        settings = self._settings_for(settings, max_new_tokens, temperature)
        first = self.session.head_id is None
        turn = self.store.add_turn(self.session.id, "user", text, parent_id=self.session.head_id)
        if first:
            self.store.update_conversation(self.session.id, title=" ".join(text.split())[:TITLE_CHARS])
        self.session = self.store.get_conversation(self.session.id)
        return self._generate(turn, settings)

    def regenerate(self, turn_id: Optional[str] = None, settings: Optional[SamplingSettings] = None) -> str:
        """A new reply to a user turn (or to the one an assistant turn answers), beside the old
        one: the old reply stays as a sibling branch."""
        self._ready()
        turn = self.store.get_turn(turn_id) if turn_id else next(
            (t for t in reversed(self.branch()) if t.role == "user"), None)
        if turn is not None and turn.role == "assistant" and turn.parent_id:
            turn = self.store.get_turn(turn.parent_id)
        if turn is None or turn.role != "user" or turn.session_id != self.session.id:
            raise WorkbenchError("There is no message to answer again.", advice="Send a message first.")
        settings = self._settings_for(settings, None, None)
        self.session = self.store.update_conversation(self.session.id, head_id=turn.id)
        return self._generate(turn, settings)

    def edit(self, turn_id: str, text: str, settings: Optional[SamplingSettings] = None) -> str:
        """Edit a user turn: the edited text becomes a sibling (a new branch) and gets a reply;
        the original branch is kept."""
        self._ready()
        old = self.store.get_turn(turn_id)
        if old.role != "user" or old.session_id != self.session.id:
            raise WorkbenchError("Only your own messages can be edited.")
        if not text.strip():
            raise WorkbenchError("An edited message cannot be empty.")
        settings = self._settings_for(settings, None, None)
        turn = self.store.add_turn(self.session.id, "user", text, parent_id=old.parent_id)
        self.session = self.store.get_conversation(self.session.id)
        return self._generate(turn, settings)

    def render(self, extra_user: str = "") -> str:
        """Ask for the prompt text the chat template makes of the conversation (and the text
        about to be sent); the answer arrives as a `rendered` event and in self.rendered."""
        if self._child is None or self.state not in ("ready", "generating"):
            raise WorkbenchError("Load a model to see its prompt.", advice="The chat template is the model's.")
        request_id = new_id()
        self._child.send_render(request_id, self.prompt_messages(extra_user=extra_user), self.adapter)
        return request_id

    @property
    def generating_id(self) -> Optional[str]:
        return self._current

    def poll(self) -> list[Event]:
        if self._child is None:
            return []
        events = self._child.poll()
        for ev in events:
            p = ev.payload
            if ev.kind == "ready":
                self.state = "ready"
            elif ev.kind == "done" and p.get("id") == self._current:
                self.store.add_turn(
                    self.session.id, "assistant", str(p.get("text", "")), parent_id=self._reply_parent,
                    model_key=self.target.key, settings=self._reply_settings, prompt_tokens=p.get("prompt_tokens"),
                    tokens=p.get("tokens"), seconds=p.get("seconds"), ttft=p.get("ttft"),
                    finish_reason=p.get("finish_reason"))
                self.session = self.store.get_conversation(self.session.id)
                self._current = self._reply_parent = None
                self.state = "ready"
            elif ev.kind == "rendered":
                self.rendered[str(p.get("id"))] = {"text": p.get("text", ""), "tokens": p.get("tokens")}
            elif ev.kind == "failed":
                self.error = JobError(p.get("message") or "Generation failed.", details=p.get("details", ""),
                                      advice=p.get("advice", ""))
                if p.get("id") and self._child.state != "failed":
                    if p.get("id") == self._current:
                        self._current = self._reply_parent = None
                        self.state = "ready"  # a bad request; the model is still loaded
                else:
                    self.state = "failed"
        if self._child.state == "failed":
            self.state = "failed"
            self.error = self.error or self._child.error
        return events

    def stop_generation(self) -> None:
        if self._child is not None and self.state == "generating":
            self._child.stop(self._current)

    def close(self) -> None:
        if self._child is not None:
            self._child.close(grace=3.0)
            self._child = None
        self.state = "closed"
