"""The chat child's token handling: the reply text it reports, its stop tokens and pad id."""

from __future__ import annotations

import io
import json
import shutil

import pytest

from workbench.engine.chat import ChatServer, GenerateRequest, IncrementalStreamer
from workbench.jobs.protocol import EventWriter, parse_line
from workbench.jobs.specs import ChatSpec


class RewritingTokenizer:
    """A stand-in for a tokenizer whose decode rewrites earlier text once more ids arrive (as
    clean-up of spaces before punctuation does): "a " then "a." rather than "a .". """

    pieces = {1: "a", 2: " ", 3: "."}

    def decode(self, ids, skip_special_tokens=True):
        return "".join(self.pieces[i] for i in ids).replace(" .", ".")


def test_the_final_text_is_the_decode_of_every_generated_id():
    import torch

    sent: list[str] = []
    streamer = IncrementalStreamer(RewritingTokenizer(), sent.append)
    streamer.put(torch.tensor([[9, 9]]))  # the prompt, skipped
    for tid in (1, 2, 3):
        streamer.put(torch.tensor([tid]))
    streamer.end()
    assert sent == ["a", " "]  # token events only append; "." rewrote the space
    assert streamer.text == "a."  # what `done` reports: the real output, not the stale prefix


@pytest.mark.slow
def test_stop_tokens_come_from_the_generation_config_and_pad_id_zero_is_kept(tiny_model_dir, tmp_path):
    """A model whose generation config lists its end ids and whose pad token is id 0."""
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    config_path = model / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config.update(eos_token="<|pad|>", pad_token="<|endoftext|>")  # ids 3 and 0
    config_path.write_text(json.dumps(config))
    gen_path = model / "generation_config.json"
    gen = json.loads(gen_path.read_text())
    gen.update(eos_token_id=[1, 3], pad_token_id=0)  # a list, without <|im_end|>
    gen_path.write_text(json.dumps(gen))

    stream = io.StringIO()
    server = ChatServer(ChatSpec(base_model_path=str(model)), EventWriter(stream, None))
    server.load()
    im_end = server.tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert server.eos_ids == [1, 3] and im_end not in server.eos_ids  # nothing hard-coded
    assert server.pad_id == 0  # a valid id, not "missing" (the first stop id would be 1)
    server.generate(GenerateRequest("a", [{"role": "user", "content": "Hello"}], max_new_tokens=3,
                                    temperature=0.0))
    done = [e for e in map(parse_line, stream.getvalue().splitlines()) if e.kind == "done"]
    assert len(done) == 1 and done[0].payload["tokens"] <= 3
