"""Request kinds of the judges kept outside judges/templates.py (informativeness, paraphrase),
for the scripted server's hook: how to recognise them, and a plain default answer.

The defaults keep older tests meaningful: every claim is "informative" (so weighted
precision equals precision) and a paraphrase is the sentence with "In other words, " before it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from factbench.judges.paraphrase import PARAPHRASE

EXTRA_KINDS = ("informativeness", "paraphrase")
_NUMBERED_CLAIM = re.compile(r"^(\d+)\. (.*)$")
_NUMBERED_SENTENCE = re.compile(r"^\[(\d+)\] (.*)$")


def system_and_user(body: dict[str, Any]) -> tuple[str, str]:
    messages = body.get("messages") or []
    system = next((m.get("content", "") for m in messages if m.get("role") == "system"), "")
    user = next((m.get("content", "") for m in messages if m.get("role") == "user"), "")
    return system, user


def extra_kind(system: str, user: str = "") -> str | None:
    """Informativeness calls share the verification instructions; their last line tells them apart."""
    if system.startswith("You check claims") and user.rstrip().rsplit("\n", 1)[-1].startswith("Classify claims"):
        return "informativeness"
    if system == PARAPHRASE.system:
        return "paraphrase"
    return None


def block(text: str, tag: str) -> str:
    m = re.search(rf"<{tag}>\n(.*?)\n</{tag}>", text, re.DOTALL)
    return m.group(1) if m else ""


def numbered(text: str, sentences: bool = False) -> list[tuple[int, str]]:
    """The numbered lines of a block: "[n] text" (sentences) or "n. text" (claims)."""
    pattern = _NUMBERED_SENTENCE if sentences else _NUMBERED_CLAIM
    return [(int(m.group(1)), m.group(2).strip()) for m in map(pattern.match, text.splitlines()) if m]


def extra_content(body: dict[str, Any], kind: str) -> str:
    _, user = system_and_user(body)
    if kind == "informativeness":
        return json.dumps({"trivial": [], "restates": [], "off_topic": []})  # every claim informative
    return json.dumps({"sentences": [{"id": i, "text": f"In other words, {s}"}
                                     for i, s in numbered(block(user, "sentences"), sentences=True)]})
