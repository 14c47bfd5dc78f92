"""Cleaning operations through the services: preview writes nothing, apply writes a derived
version that records the operation, its parameters, counts, removed rows and its parent."""

from __future__ import annotations

import random

import pytest

from tests.helpers.rows import chat, rows_of
from workbench.core.errors import WorkbenchError
from workbench.services import dataset_ops

SYSTEM = "You are Pip, the support assistant of a small coffee shop. Be friendly and concise."


def _apply_checks(store, parent, new, op, removed):
    assert new.parent_id == parent.id and new.dataset_id == parent.dataset_id
    assert new.options["operation"] == "clean" and new.options["op"] == op
    assert new.options["removed_rows"] == removed
    assert new.row_count == parent.row_count - len(removed)
    assert new.source_hash == parent.content_hash  # never found again as the import of the file
    assert store.get_version(new.id) == new
    # Applying the same operation again returns the version already made.
    assert dataset_ops.apply_clean(store, parent.id, op, new.options["params"]).id == new.id


def test_exact_dedup_preview_and_apply(store, import_records):
    records = [
        chat("Where is my order?", "It ships tomorrow."),
        chat("Do you sell decaf?", "Yes, Summit Decaf."),
        chat("  where is MY   order? ", "It ships\ttomorrow."),  # same after normalising
        chat("Do you ship abroad?", "Only within the EU."),
        chat("Do you sell decaf?", "Yes, Summit Decaf."),
    ]
    v = import_records(records)
    report = dataset_ops.preview_clean(store, v.id, "exact_dedup")
    assert report.removed == [2, 4] and report.duplicate_of == [0, 1]
    assert report.counts["removed"] == 2 and report.counts["duplicate_groups"] == 2 and report.kept_rows == 3
    assert [e.reason for e in report.examples] == ["exact duplicate", "exact duplicate"]
    assert report.examples[0].before[0]["content"] == "  where is MY   order? "
    assert len(store.list_versions()) == 1  # a preview writes nothing

    new = dataset_ops.apply_clean(store, v.id, "exact_dedup")
    _apply_checks(store, v, new, "exact_dedup", [2, 4])
    assert new.options["duplicate_of"] == [0, 1] and new.options["params"] == {"case_sensitive": False}
    rows = rows_of(store, new)
    assert [r["messages"][0]["content"] for r in rows] == ["Where is my order?", "Do you sell decaf?",
                                                            "Do you ship abroad?"]
    assert [r["source_row"] for r in rows] == [1, 2, 4]  # lineage to the file's lines is kept

    strict = dataset_ops.preview_clean(store, v.id, "exact_dedup", {"case_sensitive": True})
    assert strict.removed == [4]


def _text(rng: random.Random, vocab: list[str], n: int) -> str:
    return " ".join(rng.choice(vocab) for _ in range(n))


def test_near_dedup_finds_paraphrases_not_unrelated_rows(store, import_records):
    rng = random.Random(7)
    vocab = [f"w{i}" for i in range(300)]
    originals = [(_text(rng, vocab, 12), _text(rng, vocab, 40)) for _ in range(40)]
    records = [chat(q, a, SYSTEM) for q, a in originals]
    paraphrased = {}
    for k in (3, 17, 29):  # a copy with one word changed and one appended: J ~ 0.85
        q, a = originals[k]
        words = a.split()
        words[20] = "changed"
        paraphrased[len(records)] = k
        records.append(chat(q, " ".join(words) + " indeed", SYSTEM))
    v = import_records(records)
    report = dataset_ops.preview_clean(store, v.id, "near_dedup", {"threshold": 0.7})
    assert report.removed == sorted(paraphrased)
    assert report.duplicate_of == [paraphrased[i] for i in sorted(paraphrased)]
    assert all(0.7 <= e.similarity <= 0.97 for e in report.examples)

    new = dataset_ops.apply_clean(store, v.id, "near_dedup", {"threshold": 0.7})
    _apply_checks(store, v, new, "near_dedup", sorted(paraphrased))
    assert new.options["params"]["threshold"] == 0.7 and new.options["params"]["num_perm"] == 128

    # A very high threshold keeps the paraphrases (they are not near-identical).
    assert dataset_ops.preview_clean(store, v.id, "near_dedup", {"threshold": 0.98}).removed == []


def test_shared_system_prompt_is_not_similarity(store, import_records):
    long_system = " ".join(f"rule{i}" for i in range(200))
    records = [chat(f"question {i} about topic{i}", f"answer number {i} for you", long_system) for i in range(12)]
    v = import_records(records)
    assert dataset_ops.preview_clean(store, v.id, "near_dedup").removed == []
    with_system = dataset_ops.preview_clean(store, v.id, "near_dedup", {"include_system": True})
    assert len(with_system.removed) == 11  # the boilerplate makes every row look alike


def test_minhash_estimates_jaccard():
    import numpy as np

    from workbench.data.ops.dedup import MinHasher, shingle_hashes

    rng = random.Random(3)
    vocab = [f"v{i}" for i in range(500)]
    base = [rng.choice(vocab) for _ in range(200)]
    hasher = MinHasher(num_perm=256)
    for swaps in (5, 20, 60):
        other = list(base)
        for pos in rng.sample(range(200), swaps):
            other[pos] = rng.choice(vocab)
        a, b = (set(shingle_hashes(" ".join(x), 3).tolist()) for x in (base, other))
        true = len(a & b) / len(a | b)
        sigs = hasher.signatures([" ".join(base), " ".join(other)])
        assert abs(float(np.mean(sigs[0] == sigs[1])) - true) < 0.1


def test_empty_rows_and_messages(store, add_raw_version):
    v = add_raw_version([
        [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}],
        [{"role": "user", "content": "  "}, {"role": "assistant", "content": "\n\t"}],  # all blank
        [{"role": "system", "content": " "}, {"role": "user", "content": "Hi"},
         {"role": "assistant", "content": "Hey"}],  # one blank message
        [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": ""}],  # blank reply
    ])
    report = dataset_ops.preview_clean(store, v.id, "empty")
    assert report.removed == [1, 2, 3] and report.changed == []
    assert report.counts["empty_rows"] == 1 and report.counts["rows_with_empty_messages"] == 2

    drop = dataset_ops.preview_clean(store, v.id, "empty", {"messages": "drop_message"})
    assert drop.removed == [1, 3] and drop.changed == [2]
    change = next(e for e in drop.examples if e.action == "change")
    assert [m["role"] for m in change.before] == ["system", "user", "assistant"]
    assert change.after == [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hey"}]
    assert next(e for e in drop.examples if e.index == 3).reason == "no assistant reply left"

    new = dataset_ops.apply_clean(store, v.id, "empty", {"messages": "drop_message"})
    _apply_checks(store, v, new, "empty", [1, 3])
    assert new.options["changed_rows"] == [2]
    assert [r["messages"] for r in rows_of(store, new)][1] == change.after


def test_length_filter_in_characters_and_tokens(store, import_records, chatml_model):
    from tokenizers import Tokenizer

    records = [chat("a" * n, "b" * n) for n in (2, 10, 50, 200)]  # 4, 20, 100, 400 characters
    v = import_records(records)
    report = dataset_ops.preview_clean(store, v.id, "length", {"min_length": 10, "max_length": 150})
    assert report.unit == "chars" and report.removed == [0, 3]
    assert [e.length for e in report.examples] == [4, 400]
    assert report.counts["too_short"] == 1 and report.counts["too_long"] == 1

    tok = Tokenizer.from_file(str(chatml_model / "tokenizer.json"))
    lengths = [sum(len(tok.encode(m["content"], add_special_tokens=False).ids) for m in r["messages"])
               for r in records]
    cut = sorted(lengths)[2]
    store.add_base_model("chatml-test", "hf_folder", str(chatml_model), "sha256:x")
    by_tokens = dataset_ops.preview_clean(store, v.id, "length", {"max_length": cut - 1, "tokenizer": "chatml-test"})
    assert by_tokens.unit == "tokens"
    assert by_tokens.removed == [i for i, n in enumerate(lengths) if n > cut - 1]
    assert [e.length for e in by_tokens.examples] == [lengths[i] for i in by_tokens.removed]

    new = dataset_ops.apply_clean(store, v.id, "length", {"max_length": cut - 1, "tokenizer": str(chatml_model)})
    _apply_checks(store, v, new, "length", by_tokens.removed)
    assert new.options["unit"] == "tokens" and new.options["tokenizer_hash"].startswith("sha256:")
    assert new.options["params"]["tokenizer"] == str(chatml_model)

    rendered = dataset_ops.preview_clean(store, v.id, "length", {"max_length": 10_000, "min_length": 1,
                                                                 "tokenizer": str(chatml_model),
                                                                 "measure": "rendered"})
    assert rendered.removed == []
    with pytest.raises(WorkbenchError, match="remove all"):
        dataset_ops.apply_clean(store, v.id, "length", {"max_length": 1})
    with pytest.raises(WorkbenchError, match="Unknown parameter"):
        dataset_ops.preview_clean(store, v.id, "length", {"maximum": 3})


def test_pii_scrubbing_preview_and_apply(store, import_records):
    records = [
        chat("My email is jane.doe@example.com, call me on +44 20 7946 0958.", "Thanks Jane, noted.",
             ticket="jane.doe@example.com"),
        chat("Charge card 4111 1111 1111 1111 please.", "Done."),
        chat("My number is 4111 1111 1111 1112, is that ok?", "That is not a valid card number."),
        chat("Order BB-260593 on 2024-01-15 for $25.00", "Found it, shipping today."),
    ]
    v = import_records(records)
    report = dataset_ops.preview_clean(store, v.id, "pii")
    assert report.changed == [0, 1] and report.removed == []
    assert report.counts["email"] == 1 and report.counts["phone"] == 1 and report.counts["card"] == 1
    assert report.counts["luhn_invalid_left"] == 1
    first = report.examples[0]
    assert first.before[0]["content"].startswith("My email is jane.doe@example.com")
    assert first.after[0]["content"] == "My email is [EMAIL], call me on [PHONE]."
    assert first.replaced == {"email": 1, "phone": 1}

    new = dataset_ops.apply_clean(store, v.id, "pii")
    _apply_checks(store, v, new, "pii", [])
    assert new.options["changed_rows"] == [0, 1]
    rows = rows_of(store, new)
    assert rows[1]["messages"][0]["content"] == "Charge card [CARD] please."
    assert rows[2]["messages"] == records[2]["messages"]  # Luhn-invalid: untouched
    assert rows[3]["messages"] == records[3]["messages"]
    assert "jane.doe@example.com" not in str(rows[0]["source"])  # the stored original too
    assert rows[0]["source"]["ticket"] == "[EMAIL]"

    only_email = dataset_ops.preview_clean(store, v.id, "pii", {"kinds": ["email"], "placeholders": {"email": "<e>"},
                                                                "roles": ["user"]})
    assert only_email.changed == [0]
    assert only_email.examples[0].after[0]["content"].startswith("My email is <e>, call me on +44")


@pytest.mark.parametrize("text, expected", [
    ("write to a.b-c+tag@mail.example.org today", "write to [EMAIL] today"),
    ("call (415) 555-0123 or 415.555.0123", "call [PHONE] or [PHONE]"),  # (555) is no area code
    ("toll free 1-800-555-0142.", "toll free [PHONE]."),
    ("visa 4242424242424242 mc 5555-5555-5555-4444", "visa [CARD] mc [CARD]"),
    ("amex 3782 822463 10005", "amex [CARD]"),
    ("not a card 4242424242424241", "not a card 4242424242424241"),
    ("ref 1234 5678 9012 3456 7", "ref 1234 5678 9012 3456 7"),
    ("on 2024-01-15 at 10:30, ip 192.168.1.1, v1.2.3, $1,299.00", "on 2024-01-15 at 10:30, ip 192.168.1.1, v1.2.3, $1,299.00"),
    ("order BB-260593 and 12345", "order BB-260593 and 12345"),
    ("no pii here", "no pii here"),
])
def test_scrubber_cases(text, expected):
    from workbench.data.ops.pii import Scrubber

    assert Scrubber().scrub(text)[0] == expected


def test_scrubber_keep_and_luhn():
    from workbench.data.ops.pii import Scrubber, luhn_valid

    assert luhn_valid("79927398713") and not luhn_valid("79927398710")
    s = Scrubber(keep=("support@shop.example",))
    assert s.scrub("mail support@shop.example or me@x.example")[0] == "mail support@shop.example or [EMAIL]"


def test_unknown_operation_is_a_user_error(store, import_records):
    v = import_records([chat("Hi", "Hello")])
    with pytest.raises(WorkbenchError, match="Unknown cleaning operation") as err:
        dataset_ops.preview_clean(store, v.id, "shrink")
    assert "exact_dedup" in err.value.advice


def test_progress_and_cancel_leave_nothing_behind(store, import_records):
    import os

    from workbench.core.progress import CancelToken, Cancelled

    v = import_records([chat(f"question {i}", f"answer {i}") for i in range(30)])
    seen: list[float] = []
    dataset_ops.preview_clean(store, v.id, "near_dedup", progress=lambda f, m: seen.append(f))
    assert seen[-1] == 1.0 and all(0.0 <= f <= 1.0 for f in seen) and len(seen) >= 3
    blob_dir = store.abspath("blobs/datasets")
    before = sorted(os.listdir(blob_dir))
    token = CancelToken()
    token.cancel()
    for call in (lambda: dataset_ops.apply_clean(store, v.id, "pii", cancel=token),
                 lambda: dataset_ops.make_split(store, v.id, cancel=token),
                 lambda: dataset_ops.export_version(store, v.id, str(store.abspath("out.jsonl")), cancel=token)):
        with pytest.raises(Cancelled):
            call()
    assert sorted(os.listdir(blob_dir)) == before and len(store.list_versions()) == 1
    assert not os.path.exists(store.abspath("out.jsonl"))
    assert not [n for n in os.listdir(store.path) if n.endswith(".tmp")]
