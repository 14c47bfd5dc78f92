"""The `chat` verb: a long-lived generation server for one base model and its LoRA adapters.

The base model loads once; adapters load by name (ChatSpec.adapters, adapter_path as
"default", later ones through add_adapter) and each request picks one, or the base. Requests
arrive as JSON lines on stdin (read by a daemon thread; `render` is answered there at once);
generations run one at a time on the main thread and stream `token` events, then `done`.
`generate_many` is one batched generate whose rows use different adapters (the arena).
`stop` interrupts the running (and queued) generations, or those of one id; `quit` or EOF on
stdin ends the child with exit code 0. Protocol: workbench/jobs/protocol.py.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from typing import Any, Optional, Union

from workbench.engine.chat_generate import Row, RowGenerator, RowResult, render_prompt
from workbench.engine.chat_model import (
    ChatModel, adapter_table, context_limit, generation_pad_id, stop_token_ids, tokenizer_folder,
)
from workbench.engine.chat_requests import (
    DEFAULT_ADAPTER, DEFAULT_MAX_NEW_TOKENS, DEFAULT_TEMPERATURE, AddAdapterRequest, GenerateRequest,
    ManyItem, ManyRequest, RenderRequest, StopRequest, parse_request, request_id,
)
from workbench.engine.chat_streamer import IncrementalStreamer
from workbench.engine.control import start_daemon, stdin_lines
from workbench.engine.errors import failure_payload
from workbench.jobs.protocol import EventWriter
from workbench.jobs.specs import ChatSpec

__all__ = ["ChatServer", "GenerateRequest", "IncrementalStreamer", "ManyItem", "ManyRequest",
           "DEFAULT_MAX_NEW_TOKENS", "DEFAULT_TEMPERATURE", "context_limit", "generation_pad_id",
           "parse_request", "run_chat", "stop_token_ids", "tokenizer_folder"]

CHAT_OOM_ADVICE = "Out of memory while generating. Lower max new tokens or start a new, shorter chat."
Job = Union[GenerateRequest, ManyRequest, AddAdapterRequest, None]

# libgomp's default: after each parallel region torch's helper threads spin (~300k turns) before
# they sleep. On a busy machine (a training run, the GUI, other apps on the same cores) those
# spinning helpers take the cores the generating thread waits for: SmolLM2-135M on 2 shared
# cores took 10-23 s for 24 tokens by default, 1.3-3.4 s with passive waiting (bench notes in
# tests/benchmarks/bench_chat.py). A value the user set wins.
CPU_WAIT_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}


def set_cpu_wait_policy() -> bool:
    """Passive OpenMP waiting for this process; only before torch is imported (OpenMP reads
    it once, when torch loads it). True when it was in time."""
    if "torch" in sys.modules:
        return False
    for key, value in CPU_WAIT_ENV.items():
        os.environ.setdefault(key, value)
    return True


class ChatServer:
    def __init__(self, spec: ChatSpec, writer: EventWriter):
        self.spec = spec
        self.writer = writer
        self.requests: "queue.Queue[Job]" = queue.Queue()
        self._live: list[Union[GenerateRequest, ManyRequest]] = []
        self._lock = threading.Lock()

    # -- loading -------------------------------------------------------------------------
    def load(self) -> None:
        set_cpu_wait_policy()
        import torch

        from workbench.engine.devices import pick_device

        self.torch = torch
        self.plan = pick_device(self.spec.device)
        table = adapter_table(self.spec)
        self.chat = ChatModel(self.spec.base_model_path, self.plan.device, self.plan.torch_dtype())
        for name, path in table.items():
            self.chat.add_adapter(name, path)
        self.generator = RowGenerator(self.chat)
        self.writer.emit("ready", model=self.spec.base_model_path, adapter=self.spec.adapter_path,
                         adapters=self.chat.adapter_names, device=self.plan.device,
                         context_limit=self.chat.limit)

    # Names older callers (tests, eval) read off the server.
    @property
    def tokenizer(self):
        return self.chat.tokenizer

    @property
    def model(self):
        return self.chat.model

    @property
    def eos_ids(self) -> list[int]:
        return self.chat.eos_ids

    @property
    def pad_id(self) -> Optional[int]:
        return self.chat.pad_id

    # -- stdin ---------------------------------------------------------------------------
    def _read_stdin(self) -> None:
        for line in stdin_lines():
            if not line.strip():
                continue
            try:
                op, req = parse_request(line)
            except Exception as exc:
                self.writer.emit("failed", id=request_id(line), **failure_payload(exc))
                continue
            if op == "quit":
                break
            if isinstance(req, StopRequest):
                self._cancel(req.id)
            elif isinstance(req, RenderRequest):
                self._render(req)  # here, at once: it never waits for a running reply
            else:
                if isinstance(req, (GenerateRequest, ManyRequest)):
                    with self._lock:
                        self._live.append(req)
                self.requests.put(req)
        self._cancel(None)  # quit or EOF: interrupt whatever runs, then exit
        self.requests.put(None)

    def _cancel(self, req_id: Optional[str]) -> None:
        with self._lock:
            for req in self._live:
                if req_id is None or req.id == req_id:
                    req.cancel.set()

    def _render(self, req: RenderRequest) -> None:
        try:
            adapter = self.chat.resolve(req.adapter, DEFAULT_ADAPTER)
            text, ids = render_prompt(self.chat.tokenizer_for(adapter), req.messages)
        except Exception as exc:
            self.writer.emit("failed", id=req.id, **failure_payload(exc))
            return
        self.writer.emit("rendered", id=req.id, text=text, tokens=len(ids),
                         adapter=adapter, context_limit=self.chat.limit)

    # -- serving -------------------------------------------------------------------------
    def serve(self) -> int:
        start_daemon(self._read_stdin, "stdin-requests")
        while True:
            req = self.requests.get()
            if req is None:
                return 0
            try:
                if isinstance(req, AddAdapterRequest):
                    self.add_adapter(req)
                elif isinstance(req, ManyRequest):
                    self.generate_many(req)
                else:
                    self.generate(req)
            except Exception as exc:  # this request failed; the model is still loaded
                self._failed(req.id, None, exc)
            finally:
                if not isinstance(req, AddAdapterRequest):
                    with self._lock:
                        self._live.remove(req)

    def add_adapter(self, req: AddAdapterRequest) -> None:
        try:
            self.chat.add_adapter(req.name, req.path)
        except Exception as exc:
            self.writer.emit("failed", id=req.id, name=req.name, **failure_payload(exc))
            return
        self.writer.emit("adapter_added", id=req.id, name=req.name, adapters=self.chat.adapter_names)

    def _failed(self, req_id: str, key: Optional[str], exc: BaseException) -> None:
        extra = {} if key is None else {"key": key}
        self.writer.emit("failed", id=req_id, **extra, **failure_payload(exc, oom_advice=CHAT_OOM_ADVICE))
        if self.plan.device == "cuda":
            self.torch.cuda.empty_cache()

    def _done(self, req_id: str, r: RowResult) -> None:
        if r.error is not None:
            self._failed(req_id, r.key, r.error)
            return
        extra: dict[str, Any] = {} if r.key is None else {"key": r.key}
        self.writer.emit("done", id=req_id, **extra, text=r.text, finish_reason=r.finish_reason,
                         tokens=r.tokens, prompt_tokens=r.prompt_tokens, seconds=r.seconds, ttft=r.ttft,
                         tokens_per_s=r.tokens_per_s, seed=r.seed)

    def generate(self, req: GenerateRequest) -> None:
        """One reply: token events, then done; raises when it cannot be generated (serve()
        answers that with `failed {id}`)."""
        started = time.monotonic()
        row = Row(None, req.messages, self.chat.resolve(req.adapter, DEFAULT_ADAPTER))
        emit = self.writer.emit
        result = self.generator.run([row], req.sampling, req.cancel,
                                    lambda _i, text: emit("token", id=req.id, text=text), started)[0]
        if result.error is not None:
            raise result.error
        self._done(req.id, result)

    def generate_many(self, req: ManyRequest) -> None:
        """Every key gets `done` or `failed`, then `batch_done`."""
        started = time.monotonic()
        rows: list[Row] = []
        for item in req.items:
            try:
                rows.append(Row(item.key, item.messages, self.chat.resolve(item.adapter, DEFAULT_ADAPTER)))
            except Exception as exc:
                self._failed(req.id, item.key, exc)
        if rows:
            emit = self.writer.emit
            try:
                results = self.generator.run(
                    rows, req.settings, req.cancel,
                    lambda i, text: emit("token", id=req.id, key=rows[i].key, text=text), started)
            except Exception as exc:
                for row in rows:
                    self._failed(req.id, row.key, exc)
            else:
                for r in results:
                    self._done(req.id, r)
        self.writer.emit("batch_done", id=req.id, seconds=round(time.monotonic() - started, 4))


def run_chat(spec: ChatSpec, writer: EventWriter) -> int:
    server = ChatServer(spec, writer)
    server.load()
    return server.serve()
