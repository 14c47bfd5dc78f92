"""check_messages keeps a tool-calling conversation whole (calls, tool keys, tool definitions)
and names the row and message of a malformed one."""

from __future__ import annotations

import json

import pytest
from tests.helpers.tool_template import WEATHER_TOOL, tool_conversation

from workbench.engine.errors import BadDataError
from workbench.engine.messages import check_messages


def test_tool_conversations_pass_whole():
    conversation = tool_conversation()
    assert check_messages(json.dumps(conversation), "row 1 of d") == conversation
    plain = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello", "extra": 1}]
    assert check_messages(plain, "row 2 of d") == [{"role": "user", "content": "hi"},
                                                   {"role": "assistant", "content": "hello"}]


@pytest.mark.parametrize("change, text", [
    (lambda c: c[1].update(tool_calls=[{"function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]),
     "Message 2 in row 7 of d has tool calls that are not"),
    (lambda c: c[1].update(tool_calls={"name": "get_weather"}), "Message 2 in row 7 of d has tool calls"),
    (lambda c: c[0].update(role="user", tool_calls=c[1]["tool_calls"]), "Message 1 in row 7 of d has tool calls"),
    (lambda c: c[2].update(tools=[WEATHER_TOOL]), "Message 3 in row 7 of d holds tool definitions"),
    (lambda c: c[0].update(tools="get_weather"), "Message 1 in row 7 of d holds tool definitions"),
])
def test_malformed_tool_keys_name_the_row_and_message(change, text):
    conversation = tool_conversation()
    change(conversation)
    with pytest.raises(BadDataError, match=text):
        check_messages(conversation, "row 7 of d")
