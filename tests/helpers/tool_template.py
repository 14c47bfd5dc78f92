"""A ChatML chat template that renders tools the way Qwen2.5-Instruct's does (tool definitions in
the system turn, calls in <tool_call> tags, results in <tool_response> tags inside a user turn),
written for tests; and tool-calling conversations in the stored shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.helpers.chatml_folder import build_chatml_folder

TOOL_CHATML = (
    "{%- if tools %}"
    "{{- '<|im_start|>system\\n' }}"
    "{%- if messages[0]['role'] == 'system' %}{{- messages[0]['content'] + '\\n\\n' }}{%- endif %}"
    "{{- '# Tools\\n<tools>' }}"
    "{%- for tool in tools %}{{- '\\n' }}{{- tool | tojson }}{%- endfor %}"
    "{{- '\\n</tools>' + eos_token + '\\n' }}"
    "{%- elif messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + eos_token + '\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if message.role == 'user' or (message.role == 'assistant' and not message.tool_calls) %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + eos_token + '\\n' }}"
    "{%- elif message.role == 'assistant' %}"
    "{{- '<|im_start|>assistant' }}"
    "{%- if message.content %}{{- '\\n' + message.content }}{%- endif %}"
    "{%- for tool_call in message.tool_calls %}"
    "{%- if tool_call.function is defined %}{%- set tool_call = tool_call.function %}{%- endif %}"
    "{{- '\\n<tool_call>\\n{\"name\": \"' + tool_call.name + '\", \"arguments\": ' }}"
    "{{- tool_call.arguments | tojson }}{{- '}\\n</tool_call>' }}"
    "{%- endfor %}"
    "{{- eos_token + '\\n' }}"
    "{%- elif message.role == 'tool' %}"
    "{%- if loop.index0 == 0 or messages[loop.index0 - 1].role != 'tool' %}{{- '<|im_start|>user' }}{%- endif %}"
    "{{- '\\n<tool_response>\\n' + message.content + '\\n</tool_response>' }}"
    "{%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}{{- eos_token + '\\n' }}{%- endif %}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city now",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def weather_call(city: str, call_id: str = "") -> dict[str, Any]:
    call: dict[str, Any] = {"type": "function", "function": {"name": "get_weather", "arguments": {"city": city}}}
    return {**call, "id": call_id} if call_id else call


def tool_conversation(city: str = "Paris", degrees: int = 18) -> list[dict[str, Any]]:
    """A stored tool-calling conversation: question, call, result, answer (tools on the first)."""
    return [
        {"role": "user", "content": f"What is the weather in {city}?", "tools": [WEATHER_TOOL]},
        {"role": "assistant", "content": "", "tool_calls": [weather_call(city)]},
        {"role": "tool", "content": f"{degrees} C and sunny", "name": "get_weather"},
        {"role": "assistant", "content": f"It is {degrees} C and sunny in {city}."},
    ]


def build_tool_folder(folder: Path, **config: Any) -> Path:
    """A tokenizer-only model folder (tests/helpers/chatml_folder) whose template renders tools."""
    return build_chatml_folder(folder, **{"chat_template": TOOL_CHATML, **config})
