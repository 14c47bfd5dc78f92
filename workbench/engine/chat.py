"""The `chat` verb: a long-lived generation server for one loaded model (+ adapter).

Requests arrive as JSON lines on stdin (read by a daemon thread); generations run one at a
time on the main thread and stream `token` events, then `done`. `stop` interrupts the running
(and any queued) generation; `quit` or EOF on stdin ends the child with exit code 0.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from workbench.engine.control import start_daemon, stdin_lines
from workbench.engine.errors import BadConfigError, ModelLoadError, failure_payload
from workbench.engine.messages import Message, check_messages
from workbench.jobs.protocol import EventWriter
from workbench.jobs.specs import ChatSpec

DEFAULT_MAX_NEW_TOKENS = 256
DEFAULT_TEMPERATURE = 0.7
CHAT_OOM_ADVICE = "Out of memory while generating. Lower max new tokens or start a new, shorter chat."


@dataclass
class GenerateRequest:
    id: str
    messages: list[Message]
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    temperature: float = DEFAULT_TEMPERATURE
    cancel: threading.Event = field(default_factory=threading.Event)


def parse_request(line: str) -> tuple[str, Any]:
    """(op, GenerateRequest | None). Raises BadConfigError/BadDataError for a bad request."""
    try:
        obj = json.loads(line)
    except ValueError as exc:
        raise BadConfigError("A chat request is not valid JSON.", details=line[:500]) from exc
    if not isinstance(obj, dict):
        raise BadConfigError("A chat request must be a JSON object.", details=line[:500])
    op = obj.get("op")
    if op in ("stop", "quit"):
        return op, None
    if op != "generate":
        raise BadConfigError(f"Unknown chat request op {op!r}.", advice="Use generate, stop or quit.")
    req_id = obj.get("id")
    if not isinstance(req_id, (str, int)) or isinstance(req_id, bool) or str(req_id) == "":
        raise BadConfigError("A generate request needs an id.", details=line[:500])
    messages = check_messages(obj.get("messages"), f"chat request {req_id}")
    max_new = obj.get("max_new_tokens", DEFAULT_MAX_NEW_TOKENS)
    temperature = obj.get("temperature", DEFAULT_TEMPERATURE)
    if not isinstance(max_new, int) or isinstance(max_new, bool) or max_new < 1:
        raise BadConfigError(f"max_new_tokens must be a positive integer, got {max_new!r}.")
    if not isinstance(temperature, (int, float)) or isinstance(temperature, bool) or temperature < 0:
        raise BadConfigError(f"temperature must be a number >= 0, got {temperature!r}.")
    return op, GenerateRequest(str(req_id), messages, max_new, float(temperature))


def _request_id(line: str) -> Optional[str]:
    try:
        obj = json.loads(line)
        return str(obj["id"]) if isinstance(obj, dict) and obj.get("id") is not None else None
    except (ValueError, KeyError):
        return None


class IncrementalStreamer:
    """A transformers streamer that decodes the generated ids so far and hands on only the
    new text; it holds back a trailing U+FFFD (a multi-byte character not yet complete).

    `text` is the decode of every generated id once generation ends, even where a decode
    rewrote earlier text (token events can only append, so they may then lag it).
    """

    def __init__(self, tokenizer, on_text: Callable[[str], None]):
        self.tokenizer = tokenizer
        self.on_text = on_text
        self.ids: list[int] = []
        self.text = ""
        self._prompt_seen = False

    def put(self, value) -> None:
        if not self._prompt_seen:  # generate() first passes the prompt
            self._prompt_seen = True
            return
        self.ids.extend(int(v) for v in value.reshape(-1).tolist())
        self._flush(final=False)

    def end(self) -> None:
        self._flush(final=True)
        self.text = self.tokenizer.decode(self.ids, skip_special_tokens=True)

    def _flush(self, final: bool) -> None:
        decoded = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if not final and decoded.endswith("\ufffd"):
            return
        if decoded.startswith(self.text):
            new = decoded[len(self.text):]
        else:  # a merge changed earlier text; send nothing new, keep the consistent prefix
            return
        if new:
            self.text = decoded
            self.on_text(new)


def stop_token_ids(tokenizer, generation_config) -> list[int]:
    """The ids that end a reply: the model's generation config eos_token_id (an int or a list,
    e.g. Llama 3 lists <|eot_id|> and <|end_of_text|>) plus the tokenizer's eos."""
    ids: set[int] = set()
    for value in (tokenizer.eos_token_id, getattr(generation_config, "eos_token_id", None)):
        if isinstance(value, int) and not isinstance(value, bool):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(v for v in value if isinstance(v, int) and not isinstance(v, bool))
    return sorted(ids)


def generation_pad_id(tokenizer, stop_ids: list[int]) -> Optional[int]:
    """The tokenizer's pad id (0 is a valid id), else the first stop id."""
    if tokenizer.pad_token_id is not None:
        return int(tokenizer.pad_token_id)
    return stop_ids[0] if stop_ids else None


def tokenizer_folder(spec: ChatSpec) -> str:
    """Where the chat loads its tokenizer: the adapter folder when training saved the tokenizer
    and chat template there (prompts render as in training), else the base model folder."""
    adapter = spec.adapter_path
    if adapter and any(os.path.isfile(os.path.join(adapter, name))
                       for name in ("tokenizer.json", "tokenizer_config.json")):
        return adapter
    return spec.base_model_path


def context_limit(config) -> Optional[int]:
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


class ChatServer:
    def __init__(self, spec: ChatSpec, writer: EventWriter):
        self.spec = spec
        self.writer = writer
        self.requests: "queue.Queue[Optional[GenerateRequest]]" = queue.Queue()
        self._live: list[GenerateRequest] = []
        self._lock = threading.Lock()

    # -- loading -------------------------------------------------------------------------
    def load(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from workbench.engine.devices import pick_device

        self.torch = torch
        self.plan = pick_device(self.spec.device)
        path = self.spec.base_model_path
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(tokenizer_folder(self.spec),
                                                           trust_remote_code=False)
            model = AutoModelForCausalLM.from_pretrained(
                path, dtype=self.plan.torch_dtype(), trust_remote_code=False
            )
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"Cannot load the base model {path}.", details=str(exc),
                                 advice="Check that the folder holds a Hugging Face causal LM.") from exc
        if not self.tokenizer.chat_template:
            raise ModelLoadError(f"The base model {path} has no chat template.",
                                 advice="Chat needs an instruction/chat model.")
        if self.spec.adapter_path:
            from peft import PeftModel

            try:
                model = PeftModel.from_pretrained(model, self.spec.adapter_path)
            except (OSError, ValueError, KeyError, RuntimeError) as exc:
                raise ModelLoadError(
                    f"Cannot load the adapter {self.spec.adapter_path}.", details=str(exc),
                    advice="The adapter must be trained on this base model.") from exc
        self.model = model.to(self.plan.device).eval()
        self.eos_ids = stop_token_ids(self.tokenizer, self.model.generation_config)
        self.pad_id = generation_pad_id(self.tokenizer, self.eos_ids)
        self.writer.emit("ready", model=path, adapter=self.spec.adapter_path, device=self.plan.device)

    # -- stdin ---------------------------------------------------------------------------
    def _read_stdin(self) -> None:
        for line in stdin_lines():
            if not line.strip():
                continue
            try:
                op, req = parse_request(line)
            except Exception as exc:
                self.writer.emit("failed", id=_request_id(line), **failure_payload(exc))
                continue
            if op == "generate":
                with self._lock:
                    self._live.append(req)
                self.requests.put(req)
            elif op == "stop":
                self._cancel_all()
            else:
                break
        self._cancel_all()  # quit or EOF: interrupt whatever runs, then exit
        self.requests.put(None)

    def _cancel_all(self) -> None:
        with self._lock:
            for req in self._live:
                req.cancel.set()

    # -- serving -------------------------------------------------------------------------
    def serve(self) -> int:
        start_daemon(self._read_stdin, "stdin-requests")
        while True:
            req = self.requests.get()
            if req is None:
                return 0
            try:
                self.generate(req)
            except Exception as exc:
                self.writer.emit("failed", id=req.id, **failure_payload(exc, oom_advice=CHAT_OOM_ADVICE))
                if self.plan.device == "cuda":
                    self.torch.cuda.empty_cache()
            finally:
                with self._lock:
                    self._live.remove(req)

    def generate(self, req: GenerateRequest) -> None:
        torch = self.torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        started = time.monotonic()
        prompt = self.tokenizer.apply_chat_template(req.messages, tokenize=False, add_generation_prompt=True)
        enc = self.tokenizer(prompt, add_special_tokens=False, return_tensors="pt").to(self.plan.device)
        n_prompt = int(enc["input_ids"].shape[1])
        max_new = req.max_new_tokens
        limit = context_limit(self.model.config)
        if limit is not None:
            if n_prompt >= limit:
                raise BadConfigError(
                    f"The conversation is {n_prompt} tokens long; this model reads at most {limit}.",
                    advice="Start a new chat or remove earlier messages.")
            max_new = min(max_new, limit - n_prompt)

        cancel = req.cancel

        class Cancelled(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                return torch.full((input_ids.shape[0],), cancel.is_set(), dtype=torch.bool,
                                  device=input_ids.device)

        streamer = IncrementalStreamer(
            self.tokenizer, lambda text: self.writer.emit("token", id=req.id, text=text))
        sampling: dict[str, Any] = (
            {"do_sample": True, "temperature": req.temperature} if req.temperature > 0
            else {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
        )
        out_ids: list[int] = []
        if not cancel.is_set():
            with torch.inference_mode():
                out = self.model.generate(
                    **enc, max_new_tokens=max_new, streamer=streamer,
                    stopping_criteria=StoppingCriteriaList([Cancelled()]),
                    eos_token_id=self.eos_ids or None,
                    pad_token_id=self.pad_id,
                    **sampling,
                )
            out_ids = out[0, n_prompt:].tolist()
        if cancel.is_set():
            reason = "interrupted"
        elif out_ids and out_ids[-1] in self.eos_ids:
            reason = "stop"
        elif len(out_ids) >= max_new:
            reason = "length"
        else:
            reason = "stop"
        self.writer.emit("done", id=req.id, text=streamer.text, finish_reason=reason,
                         tokens=len(out_ids), seconds=round(time.monotonic() - started, 3))


def run_chat(spec: ChatSpec, writer: EventWriter) -> int:
    server = ChatServer(spec, writer)
    server.load()
    return server.serve()
