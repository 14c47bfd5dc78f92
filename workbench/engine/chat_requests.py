"""The chat child's requests (JSON lines on stdin), parsed into records; a bad request raises
BadConfigError / BadDataError naming what is wrong (the child answers it with `failed`)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field, fields
from typing import Any, Optional, Union

from workbench.core.chat_records import SamplingSettings
from workbench.engine.errors import BadConfigError
from workbench.engine.messages import Message, check_messages

DEFAULT_MAX_NEW_TOKENS = SamplingSettings().max_new_tokens
DEFAULT_TEMPERATURE = SamplingSettings().temperature
# `adapter` absent from a request: the adapter named "default" when one is loaded, else the base
# (an explicit null always means the base model with adapters disabled).
DEFAULT_ADAPTER = "\x00default"
BASE = None
OPS = ("generate", "generate_many", "render", "add_adapter", "stop", "quit")


@dataclass
class GenerateRequest:
    id: str
    messages: list[Message]
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS  # legacy fields: used when settings is None
    temperature: float = DEFAULT_TEMPERATURE
    cancel: threading.Event = field(default_factory=threading.Event)
    adapter: Optional[str] = DEFAULT_ADAPTER
    settings: Optional[SamplingSettings] = None

    @property
    def sampling(self) -> SamplingSettings:
        if self.settings is not None:
            return self.settings
        return SamplingSettings(temperature=self.temperature, max_new_tokens=self.max_new_tokens)


@dataclass(frozen=True)
class ManyItem:
    key: str
    messages: list[Message]
    adapter: Optional[str] = DEFAULT_ADAPTER


@dataclass
class ManyRequest:
    """One batched generate: every item its own conversation and adapter, one settings."""

    id: str
    items: list[ManyItem]
    settings: SamplingSettings = field(default_factory=SamplingSettings)
    cancel: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class RenderRequest:
    id: str
    messages: list[Message]
    adapter: Optional[str] = DEFAULT_ADAPTER


@dataclass(frozen=True)
class AddAdapterRequest:
    name: str
    path: str
    id: Optional[str] = None


@dataclass(frozen=True)
class StopRequest:
    id: Optional[str] = None  # None: every running and queued generation


Request = Union[GenerateRequest, ManyRequest, RenderRequest, AddAdapterRequest, StopRequest, None]

_NUMBER_FIELDS = {"temperature": float, "top_p": float, "repetition_penalty": float,
                  "top_k": int, "max_new_tokens": int}


def parse_settings(raw: Any, legacy: Optional[dict[str, Any]] = None, where: str = "") -> SamplingSettings:
    """SamplingSettings from a request's `settings` object (legacy top-level max_new_tokens /
    temperature fill in what it leaves out); every value checked for type and range."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise BadConfigError(f"settings must be a JSON object{where}, got {type(raw).__name__}.")
    known = {f.name for f in fields(SamplingSettings)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise BadConfigError(f"Unknown sampling setting(s){where}: {', '.join(unknown)}.",
                             advice=f"Known settings: {', '.join(sorted(known))}.")
    data = {k: v for k, v in (legacy or {}).items() if k in ("max_new_tokens", "temperature")}
    data.update(raw)
    for name, kind in _NUMBER_FIELDS.items():
        if name not in data:
            continue
        value = data[name]
        ok = isinstance(value, int) if kind is int else isinstance(value, (int, float))
        if not ok or isinstance(value, bool):
            raise BadConfigError(f"{name} must be {'an integer' if kind is int else 'a number'}{where}, "
                                 f"got {value!r}.")
        data[name] = kind(value)
    stop = data.get("stop", ())
    if isinstance(stop, str):
        stop = [stop]
    if not isinstance(stop, (list, tuple)) or not all(isinstance(s, str) for s in stop):
        raise BadConfigError(f"stop must be a list of strings{where}, got {stop!r}.")
    data["stop"] = tuple(stop)
    seed = data.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
        raise BadConfigError(f"seed must be a non-negative integer or null{where}, got {seed!r}.")
    settings = SamplingSettings.from_dict(data)
    problems = settings.problems()
    if problems:
        raise BadConfigError(f"Bad sampling settings{where}: " + " ".join(problems))
    return settings


def _req_id(obj: dict[str, Any], line: str, required: bool = True) -> Optional[str]:
    req_id = obj.get("id")
    if req_id is None and not required:
        return None
    if not isinstance(req_id, (str, int)) or isinstance(req_id, bool) or str(req_id) == "":
        raise BadConfigError(f"A {obj.get('op')} request needs an id.", details=line[:500])
    return str(req_id)


def _adapter(obj: dict[str, Any], where: str) -> Optional[str]:
    if "adapter" not in obj:
        return DEFAULT_ADAPTER
    name = obj["adapter"]
    if name is not None and (not isinstance(name, str) or not name):
        raise BadConfigError(f"adapter must be an adapter's name or null{where}, got {name!r}.")
    return name


def parse_request(line: str) -> tuple[str, Request]:
    """(op, request record; None for quit)."""
    try:
        obj = json.loads(line)
    except ValueError as exc:
        raise BadConfigError("A chat request is not valid JSON.", details=line[:500]) from exc
    if not isinstance(obj, dict):
        raise BadConfigError("A chat request must be a JSON object.", details=line[:500])
    op = obj.get("op")
    if op == "quit":
        return op, None
    if op == "stop":
        return op, StopRequest(_req_id(obj, line, required=False))
    if op not in OPS:
        raise BadConfigError(f"Unknown chat request op {op!r}.", advice=f"Use one of: {', '.join(OPS)}.")
    if op == "add_adapter":
        name, path = obj.get("name"), obj.get("path")
        if not isinstance(name, str) or not name or name == "__base__":
            raise BadConfigError(f"add_adapter needs a name (not '__base__'), got {name!r}.")
        if not isinstance(path, str) or not path:
            raise BadConfigError(f"add_adapter {name} needs the adapter folder's path.")
        return op, AddAdapterRequest(name, path, _req_id(obj, line, required=False))
    req_id = _req_id(obj, line)
    where = f" (request {req_id})"
    if op == "render":
        messages = check_messages(obj.get("messages"), f"chat request {req_id}")
        return op, RenderRequest(req_id, messages, _adapter(obj, where))
    settings = parse_settings(obj.get("settings"), obj, where)
    if op == "generate":
        messages = check_messages(obj.get("messages"), f"chat request {req_id}")
        return op, GenerateRequest(req_id, messages, settings.max_new_tokens, settings.temperature,
                                   adapter=_adapter(obj, where), settings=settings)
    items = obj.get("items")
    if not isinstance(items, list) or not items:
        raise BadConfigError(f"generate_many needs a non-empty list of items{where}.")
    parsed, keys = [], set()
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise BadConfigError(f"Item {n} of generate_many{where} is not a JSON object.")
        key = item.get("key")
        if not isinstance(key, (str, int)) or isinstance(key, bool) or str(key) == "" or str(key) in keys:
            raise BadConfigError(f"Item {n} of generate_many{where} needs a unique key, got {key!r}.")
        keys.add(str(key))
        messages = check_messages(item.get("messages"), f"chat request {req_id} item {key}")
        parsed.append(ManyItem(str(key), messages, _adapter(item, f"{where[:-1]} item {key})")))
    return op, ManyRequest(req_id, parsed, settings)


def request_id(line: str) -> Optional[str]:
    """The id of a request that did not parse, where one can be read."""
    try:
        obj = json.loads(line)
        return str(obj["id"]) if isinstance(obj, dict) and obj.get("id") is not None else None
    except (ValueError, KeyError):
        return None
