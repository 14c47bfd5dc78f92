"""Chat protocol v2 in-process: adapters by name, sampling settings, generate_many, render,
add_adapter and stop by id, on the tiny model with two random LoRA adapters."""

from __future__ import annotations

import io

import pytest

from workbench.engine.chat import ChatServer
from workbench.engine.chat_requests import parse_request
from workbench.jobs.protocol import EventWriter, parse_line
from workbench.jobs.specs import ChatSpec

pytestmark = pytest.mark.slow
MSGS = [{"role": "user", "content": "The toaster from order #1234 arrived broken."}]
GREEDY = {"temperature": 0, "max_new_tokens": 16}


def _make_adapter(base: str, path: str, seed: int) -> str:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base)
    # Random B matrices (not the usual zeros), so each adapter changes the replies.
    get_peft_model(model, LoraConfig(r=4, lora_alpha=16, init_lora_weights=False,
                                     target_modules=["c_attn"])).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def adapters(tiny_model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("adapters")
    return {n: _make_adapter(tiny_model_dir, str(root / n), s) for n, s in (("A", 1), ("B", 2), ("C", 3))}


class Server:
    def __init__(self, base, adapters):
        self.stream = io.StringIO()
        self.server = ChatServer(ChatSpec(base_model_path=base, adapters=adapters), EventWriter(self.stream, None))
        self.server.load()

    def request(self, obj):
        """Run one request as the main loop would; returns its events."""
        import json

        start = len(self.stream.getvalue())
        op, req = parse_request(json.dumps(obj))
        if op == "render":
            self.server._render(req)
        elif op == "add_adapter":
            self.server.add_adapter(req)
        elif op == "generate_many":
            self.server.generate_many(req)
        else:
            self.server.generate(req)
        return [parse_line(x) for x in self.stream.getvalue()[start:].splitlines()]


@pytest.fixture(scope="module")
def server(tiny_model_dir, adapters):
    return Server(tiny_model_dir, {"A": adapters["A"], "B": adapters["B"]})


def _done(events):
    return [e.payload for e in events if e.kind == "done"][-1]


def _plain_greedy(base, adapter, max_new=16):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base)
    if adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter)
    ids = tok(tok.apply_chat_template(MSGS, tokenize=False, add_generation_prompt=True),
              add_special_tokens=False, return_tensors="pt")
    with torch.inference_mode():
        out = model.eval().generate(**ids, max_new_tokens=max_new, do_sample=False, temperature=None,
                                    top_p=None, top_k=None, pad_token_id=tok.pad_token_id)
    return tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)


def test_each_adapter_and_the_base_give_their_own_models_replies(server, tiny_model_dir, adapters):
    ready = [parse_line(x) for x in server.stream.getvalue().splitlines()][0]
    assert ready.kind == "ready" and ready.payload["adapters"] == ["A", "B"]
    got = {}
    for name in ("A", "B", None):
        events = server.request({"op": "generate", "id": f"g{name}", "messages": MSGS, "adapter": name,
                                 "settings": GREEDY})
        done = _done(events)
        assert done["text"] == "".join(e.payload["text"] for e in events if e.kind == "token")
        assert done["prompt_tokens"] > 0 and done["ttft"] is not None and done["tokens"] > 0
        got[name] = done["text"]
    assert len(set(got.values())) == 3  # three different models
    for name in ("A", "B", None):
        assert got[name] == _plain_greedy(tiny_model_dir, adapters[name] if name else None)


def test_generate_many_equals_one_at_a_time(server):
    other = [{"role": "user", "content": "Hi"}]
    items = [{"key": "a", "messages": MSGS, "adapter": "A"}, {"key": "base", "messages": other, "adapter": None},
             {"key": "b", "messages": other, "adapter": "B"}]
    events = server.request({"op": "generate_many", "id": "m", "items": items, "settings": GREEDY})
    assert events[-1].kind == "batch_done"
    dones = {e.payload["key"]: e.payload for e in events if e.kind == "done"}
    assert set(dones) == {"a", "base", "b"}
    for item in items:
        single = _done(server.request({"op": "generate", "id": "s", "messages": item["messages"],
                                       "adapter": item["adapter"], "settings": GREEDY}))
        key = item["key"]
        assert dones[key]["text"] == single["text"] and dones[key]["tokens"] == single["tokens"]
        streamed = "".join(e.payload["text"] for e in events if e.kind == "token" and e.payload["key"] == key)
        assert streamed == dones[key]["text"]


def test_sampling_settings_reach_generate(server):
    def reply(**settings):
        return _done(server.request({"op": "generate", "id": "x", "messages": MSGS, "adapter": None,
                                     "settings": {"max_new_tokens": 24, **settings}}))

    greedy = reply(temperature=0)
    assert reply(temperature=1.5, top_k=1)["text"] == greedy["text"]  # top-k 1 is greedy
    one, two = reply(temperature=1.5, seed=3), reply(temperature=1.5, seed=3)
    assert one["text"] == two["text"] and one["seed"] == 3
    assert reply(temperature=1.5, seed=4)["text"] != one["text"]
    assert reply(temperature=0, repetition_penalty=2.5)["text"] != greedy["text"]
    assert reply(temperature=0, max_new_tokens=3)["tokens"] == 3
    stop = greedy["text"].strip().split()[1]  # a word inside the greedy reply
    cut = reply(temperature=0, stop=[stop])
    assert cut["text"] == greedy["text"][:greedy["text"].index(stop)] and cut["finish_reason"] == "stop"
    assert cut["tokens"] < greedy["tokens"]


def test_render_add_adapter_and_stop_by_id(server, adapters):
    rendered = [e for e in server.request({"op": "render", "id": "r", "messages": MSGS}) if e.kind == "rendered"][0]
    tok = server.server.tokenizer
    assert rendered.payload["text"] == tok.apply_chat_template(MSGS, tokenize=False, add_generation_prompt=True)
    assert rendered.payload["tokens"] == len(tok(rendered.payload["text"], add_special_tokens=False)["input_ids"])

    with pytest.raises(Exception, match="No adapter named 'C' is loaded"):  # serve() sends it as failed
        server.request({"op": "generate", "id": "c1", "messages": MSGS, "adapter": "C", "settings": GREEDY})
    added = server.request({"op": "add_adapter", "name": "C", "path": adapters["C"]})
    assert added[-1].kind == "adapter_added" and added[-1].payload["adapters"] == ["A", "B", "C"]
    c = _done(server.request({"op": "generate", "id": "c2", "messages": MSGS, "adapter": "C", "settings": GREEDY}))
    assert c["text"] == _plain_greedy(server.server.spec.base_model_path, adapters["C"])

    import json

    _op, req = parse_request(json.dumps({"op": "generate", "id": "keep", "messages": MSGS, "settings": GREEDY}))
    _op, other = parse_request(json.dumps({"op": "generate", "id": "gone", "messages": MSGS, "settings": GREEDY}))
    server.server._live.extend([req, other])
    server.server._cancel("gone")
    assert other.cancel.is_set() and not req.cancel.is_set()
    server.server._live.clear()
