"""The demo support dataset: imports cleanly, is reproducible, and agrees with the shop's facts."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.data import import_file, read_rows
from workbench.services import paths

ROOT = Path(__file__).resolve().parents[3]
DATASET = Path(paths.demo_dataset_path())
README = ROOT / "workbench" / "resources" / "demo" / "README.md"  # documents the file; not shipped
GENERATOR = ROOT / "tools" / "demo_data"


@pytest.fixture(scope="module")
def shop():
    spec = importlib.util.spec_from_file_location("demo_shop_facts", GENERATOR / "shop.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


@pytest.fixture(scope="module")
def conversations():
    return [json.loads(line)["messages"] for line in DATASET.read_text(encoding="utf-8").splitlines()]


def test_imports_without_problems(tmp_path):
    outcome = import_file(DATASET, dest_dir=tmp_path)
    assert outcome.format == "openai_messages"
    assert outcome.row_count >= 320 and outcome.problem_count == 0
    assert read_rows(outcome.parquet_path, 0, 1)[0]["messages"][0]["role"] == "system"


def test_shape_system_prompt_and_multi_turn_share(conversations, shop):
    assert {c[0]["content"] for c in conversations} == {shop.SYSTEM_PROMPT}
    user_turns = [sum(m["role"] == "user" for m in c) for c in conversations]
    assert sum(n >= 2 for n in user_turns) / len(conversations) >= 0.4
    assert sum(n >= 3 for n in user_turns) >= 40
    openers = {c[1]["content"] for c in conversations}
    assert len(openers) >= 0.6 * len(conversations)  # varied, not one template repeated
    replies = [m["content"] for c in conversations for m in c if m["role"] == "assistant"]
    assert len(set(replies)) >= 0.45 * len(replies)


def test_replies_agree_with_the_shop_facts(conversations, shop):
    text = "\n".join(m["content"] for c in conversations for m in c[1:])
    assert re.findall(r"\bBB-\d+", text) == re.findall(r"\bBB-\d{6}\b", text)
    for product in shop.PRODUCTS:
        pattern = rf"{re.escape(product.name)} (?:\(|is |at )\$([\d,]+\.\d\d)"
        prices = set(re.findall(pattern, text))
        assert prices <= {f"{product.price:,.2f}"}, product.name
    assert set(re.findall(r"free on orders over \$(\d+\.\d\d)", text)) <= {"60.00", "150.00"}
    assert set(re.findall(r"(\d+)-day return window", text)) == {"30"}
    assert set(re.findall(r"within (\d+) hours? of being placed", text)) == {"1"}
    assert set(re.findall(r"Standard shipping \(([^)]*)\) costs \$([\d.]+)", text)) == {("3–5 business days", "5.95")}
    assert set(re.findall(r"(\d)-year warranty", text)) == {"1", "2"}


def test_readme_states_the_same_facts(shop):
    readme = README.read_text(encoding="utf-8")
    for product in shop.PRODUCTS:
        row = re.search(rf"^\| {re.escape(product.name)} \| \$([\d,.]+) \|.*\| (\S+(?: years?)?) \|$", readme, re.M)
        assert row, product.name
        assert row.group(1) == f"{product.price:,.2f}"
        years = product.warranty_years
        assert row.group(2) == (f"{years} year{'s' if years > 1 else ''}" if years else "—")
    assert shop.SYSTEM_PROMPT in " ".join(line.lstrip("> ") for line in readme.splitlines())
    for fact in ("$5.95", "$14.95", "free on orders over $60", "**30 days**", "**1 hour**", "$6.95",
                 "5–7 business days", "WELCOME10", "1-800-555-0142", "2 pm Eastern Time"):
        assert fact in readme, fact


def test_generator_is_deterministic(tmp_path):
    out = tmp_path / "again.jsonl"
    subprocess.run([sys.executable, str(GENERATOR / "make_support_chats.py"), "--out", str(out)],
                   check=True, capture_output=True, timeout=120)
    assert out.read_bytes() == DATASET.read_bytes()
