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
# "n. text", and after it the claim's own passages where the verification layout names them
_NUMBERED_CLAIM = re.compile(r"^(\d+)\. (.*?)(?: \[(none|P\d+(?:, P\d+)*)\])?$")
_ENTRY = re.compile(r"^\[P(\d+)\] (.*)$")
_NUMBERED_SENTENCE = re.compile(r"^\[(\d+)\] (.*)$")


def system_and_user(body: dict[str, Any]) -> tuple[str, str]:
    messages = body.get("messages") or []
    system = next((m.get("content", "") for m in messages if m.get("role") == "system"), "")
    user = next((m.get("content", "") for m in messages if m.get("role") == "user"), "")
    return system, user


def extra_kind(system: str, user: str = "") -> str | None:
    """Informativeness calls share the verification instructions; their last line tells them apart."""
    if user.rstrip().rsplit("\n", 1)[-1].startswith(("Classify claims", "Sort claims")):  # per answer, or by question
        return "informativeness"
    if system == PARAPHRASE.system:
        return "paraphrase"
    return None


def block(text: str, tag: str) -> str:
    m = re.search(rf"<{tag}>\n(.*?)\n</{tag}>", text, re.DOTALL)
    return m.group(1) if m else ""


def blocks(text: str, tag: str) -> str:
    """Every block of a tag, joined (a call about claims of several questions has one per question)."""
    return "\n".join(re.findall(rf"<{tag}>\n(.*?)\n</{tag}>", text, re.DOTALL))


def sections(user: str) -> list[str]:
    """A prompt's parts, one per question block (one part when it has a single question)."""
    starts = [m.start() for m in re.finditer(r"<question>\n", user)]
    if len(starts) <= 1:
        return [user]
    return [user[a:b] for a, b in zip(starts, starts[1:] + [len(user)])]


def numbered(text: str, sentences: bool = False) -> list[tuple[int, str]]:
    """The numbered lines of a block: "[n] text" (sentences) or "n. text" (claims)."""
    pattern = _NUMBERED_SENTENCE if sentences else _NUMBERED_CLAIM
    return [(int(m.group(1)), m.group(2).strip()) for m in map(pattern.match, text.splitlines()) if m]


def claims_with_refs(user: str) -> list[tuple[int, str, list[int] | None]]:
    """The claims of a verification prompt: number, text and its own passages' numbers (None where
    the prompt names none: no evidence)."""
    out = []
    for m in map(_NUMBERED_CLAIM.match, blocks(user, "claims").splitlines()):
        if m:
            refs = None if m.group(3) is None else [int(r[1:]) for r in m.group(3).split(", ") if r != "none"]
            out.append((int(m.group(1)), m.group(2).strip(), refs))
    return out


def passages_of(user: str) -> dict[int, str]:
    """The numbered entries of a prompt's evidence block, one a line under the line naming their
    source ("From <title>:"): "[P3] text" -> 3: "text"."""
    return {int(m.group(1)): m.group(2) for m in map(_ENTRY.match, block(user, "passages").splitlines()) if m}


def extra_content(body: dict[str, Any], kind: str) -> str:
    _, user = system_and_user(body)
    if kind == "informativeness":
        return "{}"  # every claim informative
    return json.dumps({"sentences": [{"id": i, "text": f"In other words, {s}"}
                                     for i, s in numbered(block(user, "sentences"), sentences=True)]})
