"""Cleaning keeps tool-calling conversations whole: an assistant turn that only calls a tool is
not an empty message, and dropping an empty first message keeps the tool definitions."""

from __future__ import annotations

from tests.helpers.tool_template import WEATHER_TOOL, tool_conversation

from workbench.data import read_rows
from workbench.services import dataset_ops


def test_a_tool_call_is_not_an_empty_message(store, add_raw_version):
    v = add_raw_version([tool_conversation("Oslo", 4), tool_conversation("Lima", 20)])
    report = dataset_ops.preview_clean(store, v.id, "empty")
    assert report.removed == [] and report.changed == []


def test_dropping_an_empty_first_message_keeps_the_tools(store, add_raw_version):
    blank_system = [{"role": "system", "content": " ", "tools": [WEATHER_TOOL]}] + [
        {k: v for k, v in m.items() if k != "tools"} for m in tool_conversation()]
    v = add_raw_version([blank_system])
    new = dataset_ops.apply_clean(store, v.id, "empty", {"messages": "drop_message"})
    (row,) = read_rows(store.abspath(new.blob_path), 0, 1)
    assert row["messages"] == tool_conversation()
