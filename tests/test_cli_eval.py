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


ANIMALS = ["otter", "heron", "badger", "falcon", "lynx", "marten"]
CODES = ["red kettle", "blue spoon", "green mug", "gold filter", "grey grinder", "pink saucer"]


@pytest.mark.slow
def test_suite_run_and_compare_a_checkpoint_against_its_base_model(tmp_path, tiny_model_dir, wb):
    """The whole headless path on a real (short) run: whether fine-tuning helps is the service
    test's (tests/services/test_eval_e2e.py); here the printed numbers are the services' own."""
    from tests.helpers.rows import chat
    from workbench.core.train_config import TrainConfig, save_config_file
    from workbench.services import eval_compare
    from workbench.store import ProjectStore

    project = str(tmp_path / "P.wbproj")
    rows = [chat(f"What is the code word for the {a}?", f"The {a} code is {c}.") for a, c in zip(ANIMALS, CODES)]
    assert wb("import", str(write_jsonl(tmp_path / "codes.jsonl", rows)), "--project", project,
              "--name", "codes").returncode == 0

    made = wb("eval", "suite", "create", "--name", "codes", "--from-version", "codes", "--metrics",
              "exact_match,rouge_l,chrf", "--max-new-tokens", "8", "--project", project, "--json")
    assert made.returncode == 0, made.stderr
    suite = json.loads(made.stdout)
    assert (suite["title"], suite["item_count"], len(suite["items"])) == ("codes v1", len(rows), len(rows))
    assert suite["items"][0]["references"] == [rows[0]["messages"][-1]["content"]]
    assert [m["name"] for m in suite["metrics"]] == ["exact_match", "rouge_l", "chrf"]
    listed = json.loads(wb("eval", "suites", "--project", project, "--json").stdout)
    assert [s["id"] for s in listed] == [suite["id"]]
    shown = wb("eval", "suite", "show", "codes", "--project", project, "--items", "2")
    assert shown.returncode == 0 and "codes v1" in shown.stdout and f"{len(rows) - 2} more" in shown.stdout

    setup = save_config_file(str(tmp_path / "fit.yaml"), TrainConfig(
        max_steps=4, batch_size=4, learning_rate=5e-3, r=4, alpha=8, max_length=48, save_steps=2,
        target_modules=["c_attn"]), base_model="tiny", name="learnt")
    trained = wb("train", "--config", setup, "--project", project, "--dataset", "codes")
    assert trained.returncode == 0, trained.stderr

    wrong = wb("eval", "run", "--suite", "codes", "--model", "learnt:7", "--project", project)
    assert wrong.returncode == 1 and "no checkpoint-7 adapter" in wrong.stderr and "learnt · final" in wrong.stderr
    unknown = wb("eval", "run", "--suite", "codes", "--model", "nobody", "--project", project)
    assert unknown.returncode == 1 and "No base model or run matches 'nobody'" in unknown.stderr

    ran = wb("eval", "run", "--suite", "codes v1", "--model", "tiny", "--model", "learnt:2", "--project", project,
             "--json")
    assert ran.returncode == 0, ran.stderr
    base, tuned = json.loads(ran.stdout)["eval_runs"]
    assert (base["status"], tuned["status"]) == ("completed", "completed")
    assert base["model"]["run_id"] is None and (tuned["model"]["checkpoint"], tuned["model"]["step"]) == (
        "checkpoint-2", 2)
    assert base["done_items"] == tuned["done_items"] == len(rows) and "items" in ran.stderr  # progress: stderr

    compared = wb("eval", "compare", base["id"][:8], tuned["id"], "--project", project, "--json")
    assert compared.returncode == 0, compared.stderr
    c = json.loads(compared.stdout)
    store = ProjectStore.open(project)
    try:
        expected = eval_compare.compare(store, [base["id"], tuned["id"]])
        tests = {t.metric: t for t in expected.pairs(base["id"], tuned["id"])}
    finally:
        store.close()
    assert c["metrics"] == expected.metrics == ["exact_match", "rouge_l", "chrf"]
    for rid in (base["id"], tuned["id"]):
        for m in c["metrics"]:
            est = expected.table[rid][m]
            assert c["table"][rid][m] == {"value": est.value, "low": est.low, "high": est.high, "n": est.n}
    pair = c["pairs"][0]
    assert (pair["a"], pair["b"]) == (base["id"], tuned["id"])
    assert {t["metric"]: (t["diff"], t["p_value"]) for t in pair["tests"]} == {
        m: (t.diff, t.p_value) for m, t in tests.items()}
    assert len(c["items"]) == len(rows) and all(set(i["outputs"]) == {base["id"], tuned["id"]} for i in c["items"])
    human = wb("eval", "compare", base["id"], tuned["id"], "--project", project)
    rouge = expected.table[tuned["id"]]["rouge_l"]
    assert f"{rouge.value:.4f} [{rouge.low:.4f}, {rouge.high:.4f}]" in human.stdout and " minus " in human.stdout


@pytest.mark.slow
def test_ctrl_c_cancels_the_eval_run_and_keeps_what_it_generated(tmp_path, tiny_model_dir, wb):
    """SIGINT to a real `workbench eval run`: the child stops after its batch, the eval run ends
    cancelled (resumable) with its items kept, and the command exits 130."""
    import signal
    import subprocess
    import sys

    from tests.test_cli import REPO
    from workbench.store import ProjectStore

    project = str(tmp_path / "P.wbproj")
    ProjectStore.create(project).close()
    items = write_jsonl(tmp_path / "items.jsonl", [{"prompt": f"Tell me about order {i}.", "reference": f"Order {i}."}
                                                   for i in range(40)])
    made = wb("eval", "suite", "create", "--name", "probe", "--from-file", str(items), "--metrics", "rouge_l",
              "--max-new-tokens", "24", "--project", project, "--json")
    assert made.returncode == 0, made.stderr
    proc = subprocess.Popen([sys.executable, "-m", "workbench.cli", "eval", "run", "--suite", "probe", "--model",
                             "tiny", "--project", project, "--json"], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stderr:  # the eval run was queued and its child started: now interrupt it
            if line.startswith("eval "):
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "cancelling" in err and "Traceback" not in err, err
    (result,) = json.loads(out)["eval_runs"]
    assert result["status"] == "cancelled" and result["done_items"] < 40
    store = ProjectStore.open(project)
    try:
        assert len(store.item_results(result["id"])) == result["done_items"]  # what it generated is kept
    finally:
        store.close()


@pytest.mark.slow
def test_cross_validation_trains_the_folds_and_prints_mean_and_std(tmp_path, tiny_model_dir, wb):
    import statistics

    from tests.helpers.rows import chat

    project = str(tmp_path / "P.wbproj")
    rows = [chat(f"What is the code word for the {a}?", f"The {a} code is {c}.") for a, c in zip(ANIMALS, CODES)]
    assert wb("import", str(write_jsonl(tmp_path / "codes.jsonl", rows)), "--project", project,
              "--name", "codes").returncode == 0
    too_few = wb("eval", "cv", "--project", project, "--dataset", "codes", "--model", "tiny", "--k", "1")
    assert too_few.returncode == 1 and "k of 2 or more" in too_few.stderr
    assert json.loads(wb("runs", "--project", project, "--json").stdout) == []  # nothing was queued

    done = wb("eval", "cv", "--project", project, "--dataset", "codes", "--model", "tiny", "--k", "2", "--seed", "3",
              "--metrics", "rouge_l,length", "--max-new-tokens", "8", "--max-steps", "2", "--batch-size", "2",
              "--max-length", "48", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["done"] == [0, 1] and report["pending"] == [] and report["failed"] == []
    assert (report["cv"]["k"], report["cv"]["seed"], report["cv"]["config"]["seed"]) == (2, 3, 3)
    rouge = report["metrics"]["rouge_l"]
    assert rouge["mean"] == pytest.approx(statistics.mean(rouge["values"]))
    assert rouge["std"] == pytest.approx(statistics.stdev(rouge["values"]))
    runs = json.loads(wb("runs", "--project", project, "--json").stdout)
    assert sorted(r["status"] for r in runs) == ["completed", "completed"]  # trained through the queue
