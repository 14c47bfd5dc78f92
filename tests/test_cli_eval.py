"""`workbench eval ...`: scoring files made anywhere, suites, eval runs and their comparison, as
a script runs them (cli.main in this process: a shell runs the same function)."""

from __future__ import annotations

import json
import random

import pytest

from tests.helpers.cli import run_cli
from tests.helpers.rows import write_jsonl

SENTENCES = [
    ("The parcel ships within two working days.", "Your parcel ships in two working days."),
    ("Refunds reach your card in five days.", "Refunds are back on your card within five days."),
    ("You can change the address until it ships.", "The address can be changed until the order ships."),
    ("Standard shipping is free over fifty euros.", "Shipping is free for orders over fifty euros."),
    ("We open at nine every morning.", "We open at nine."),
    ("Returns are accepted for thirty days.", "You may return items within thirty days of delivery."),
    ("The tracking link is in your email.", "Check your email for the tracking link."),
    ("Gift cards never expire.", "Our gift cards do not expire."),
    ("Call us on weekdays.", "Phone support is open Monday to Friday."),
    ("Yes.", "Yes."),
    ("The blue model is out of stock.", "The blue one is sold out, sorry."),
    ("Express delivery costs nine euros.", "Express delivery is nine euros."),
]


@pytest.fixture
def wb(capsys):
    return lambda *args: run_cli(capsys, *args)


@pytest.fixture
def files(tmp_path):
    """Predictions under "output" in a shuffled order, references keyed by id: matched by id."""
    preds = [{"id": f"q{i}", "output": p} for i, (p, _r) in enumerate(SENTENCES)]
    random.Random(3).shuffle(preds)
    refs = [{"id": f"q{i}", "reference": r} for i, (_p, r) in enumerate(SENTENCES)]
    return str(write_jsonl(tmp_path / "preds.jsonl", preds)), str(write_jsonl(tmp_path / "refs.jsonl", refs))


def test_score_reproduces_sacrebleu_and_rouge_score(files, wb):
    import sacrebleu
    from rouge_score import rouge_scorer

    hyps, refs = [p for p, _r in SENTENCES], [r for _p, r in SENTENCES]
    bleu = sacrebleu.corpus_bleu(hyps, [refs]).score
    chrf = sacrebleu.corpus_chrf(hyps, [refs]).score
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    rouge_l = sum(scorer.score(r, h)["rougeL"].fmeasure for h, r in zip(hyps, refs)) / len(hyps)
    exact = sum(h == r for h, r in zip(hyps, refs)) / len(hyps)  # only "Yes." matches, normalised or not

    done = wb("eval", "score", files[0], "--references", files[1], "--metrics", "bleu,chrf,rouge_l,exact_match",
              "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    got = {s["metric"]: s for s in result["scores"]}
    assert result["items"] == len(SENTENCES) and list(got) == ["bleu", "chrf", "rouge_l", "exact_match"]
    assert got["bleu"]["value"] == pytest.approx(bleu, abs=1e-9)
    assert got["chrf"]["value"] == pytest.approx(chrf, abs=1e-9)
    assert got["rouge_l"]["value"] == pytest.approx(rouge_l, abs=1e-9)
    assert got["exact_match"]["value"] == pytest.approx(exact, abs=1e-9)
    for s in got.values():  # a 95% bootstrap interval around each corpus value
        assert s["low"] <= s["value"] <= s["high"] and s["low"] < s["high"]

    human = wb("eval", "score", files[0], "--references", files[1], "--metrics", "bleu,rouge_l")
    assert human.returncode == 0, human.stderr
    lines = {line.split()[0]: line for line in human.stdout.splitlines()[2:]}
    assert f"{bleu:.4f}" in lines["bleu"] and f"{rouge_l:.4f}" in lines["rouge_l"] and "[" in lines["bleu"]


def test_score_matches_by_position_without_ids_and_takes_several_references(tmp_path, wb):
    from rouge_score import rouge_scorer

    preds = write_jsonl(tmp_path / "p.jsonl", [{"prediction": "the cat sat"}, {"prediction": "a dog ran off"}])
    refs = write_jsonl(tmp_path / "r.jsonl", [{"references": ["a cat sat down", "the cat sat"]},
                                              {"references": ["the dog ran away"]}])
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    expected = (1.0 + scorer.score("the dog ran away", "a dog ran off")["rougeL"].fmeasure) / 2  # best reference
    done = wb("eval", "score", str(preds), "--references", str(refs), "--metrics", "rouge_l,exact_match", "--json")
    assert done.returncode == 0, done.stderr
    got = {s["metric"]: s["value"] for s in json.loads(done.stdout)["scores"]}
    assert got["rouge_l"] == pytest.approx(expected) and got["exact_match"] == pytest.approx(0.5)


def test_score_says_which_file_and_line_is_wrong(tmp_path, wb):
    preds = tmp_path / "p.jsonl"
    preds.write_text('{"id": "a", "prediction": "x"}\n{"id": "b", "prediction": \n', encoding="utf-8")
    refs = write_jsonl(tmp_path / "r.jsonl", [{"id": "a", "reference": "x"}, {"id": "b", "reference": "y"}])
    bad = wb("eval", "score", str(preds), "--references", str(refs), "--metrics", "bleu")
    assert bad.returncode == 1 and "p.jsonl" in bad.stderr and "2" in bad.stderr, bad.stderr

    unknown = wb("eval", "score", str(refs), "--references", str(refs), "--metrics", "bleu,blue")
    assert unknown.returncode == 1 and "blue" in unknown.stderr and "bleu" in unknown.stderr, unknown.stderr
    needs_model = wb("eval", "score", str(refs), "--references", str(refs), "--metrics", "perplexity")
    assert needs_model.returncode == 1 and "eval run" in needs_model.stderr, needs_model.stderr
    missing = wb("eval", "score", str(tmp_path / "nope.jsonl"), "--references", str(refs), "--metrics", "bleu")
    assert missing.returncode == 1 and "nope.jsonl" in missing.stderr


def test_score_metric_parameters(tmp_path, wb):
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": "1", "prediction": "order 123 shipped"},
                                               {"id": "2", "prediction": "no idea"}])
    refs = write_jsonl(tmp_path / "r.jsonl", [{"id": "1", "reference": "x"}, {"id": "2", "reference": "y"}])
    done = wb("eval", "score", str(preds), "--references", str(refs), "--metrics", "regex",
              "--param", r"regex.pattern=\d{3}", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["scores"][0]["value"] == pytest.approx(0.5)
    bad = wb("eval", "score", str(preds), "--references", str(refs), "--metrics", "bleu", "--param", "regex=1")
    assert bad.returncode == 1 and "METRIC.KEY=VALUE" in bad.stderr

