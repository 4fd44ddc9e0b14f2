"""OpenRLHF's remote reward request, split into the question and the answer (docs/reward.md).

OpenRLHF (0.11, `openrlhf/utils/agent.py`, `SingleTurnAgentExecutor.execute`) posts
`{"query": [q], "prompts": [p], "labels": [l]}` where `p` is the chat-templated prompt and
`q = tokenizer.decode(prompt_ids + response_ids, skip_special_tokens=False)`: the prompt as the
tokenizer gives it back, then the rollout, special tokens and all. Decoding does not always return
the prompt byte for byte (SentencePiece tokenizers add or drop a space next to special tokens), so
the prompt is matched ignoring whitespace and the special tokens of the chat templates handled here:
Qwen and Phi-4 (ChatML), Llama 3, Mistral, Gemma, Phi-3 and DeepSeek.
"""

from __future__ import annotations

import re

# Special tokens of the supported template families; matched as whole markers, never inside text.
_SPECIAL = re.compile(
    r"<\|[A-Za-z0-9_.\-]{1,40}\|>"  # ChatML, Llama 3, Phi: <|im_start|>, <|eot_id|>, <|user|> ...
    r"|<｜[^<>｜]{1,40}｜>"  # DeepSeek: <｜User｜>, <｜end▁of▁sentence｜> ...
    r"|</?s>|<bos>|<eos>|<pad>|<start_of_turn>|<end_of_turn>"  # Llama 2 / Mistral, Gemma
    r"|\[/?INST\]|\[/?SYSTEM_PROMPT\]"  # Mistral
)
# Where a user turn starts (its role marker included), per family.
_USER_START = re.compile(
    r"<\|im_start\|>user(?:<\|im_sep\|>)?"  # Qwen, Phi-4
    r"|<\|start_header_id\|>user<\|end_header_id\|>"  # Llama 3
    r"|\[INST\]"  # Mistral
    r"|<start_of_turn>user"  # Gemma
    r"|<\|user\|>"  # Phi-3
    r"|<｜User｜>"  # DeepSeek
)
# What ends a turn: the question stops at the first of these after the user marker, the answer at
# the first after the prompt (anything later is padding or a second sequence, not the answer).
_TURN_END = re.compile(r"<\|im_end\|>|<\|eot_id\|>|<\|end\|>|<\|endoftext\|>|\[/INST\]|<end_of_turn>|</s>|<eos>"
                       r"|<｜Assistant｜>|<｜end▁of▁sentence｜>")


class QueryMismatch(ValueError):
    """The query does not begin with its prompt."""


def plain(text: str) -> str:
    """The text without special tokens, stripped."""
    return _SPECIAL.sub("", text).strip()


def question_from_prompt(prompt: str) -> str:
    """The last user turn of a chat-templated prompt, without markers; a plain prompt as it is."""
    starts = list(_USER_START.finditer(prompt))
    if not starts:
        return plain(prompt)
    rest = prompt[starts[-1].end():]
    end = _TURN_END.search(rest)
    return plain(rest[:end.start()] if end else rest)


def _visible(text: str) -> list[int]:
    """Indices of the characters that count when matching: not whitespace, not inside a special token."""
    spans = [m.span() for m in _SPECIAL.finditer(text)]
    out, k = [], 0
    for i, ch in enumerate(text):
        while k < len(spans) and spans[k][1] <= i:
            k += 1
        if (k < len(spans) and spans[k][0] <= i < spans[k][1]) or ch.isspace():
            continue
        out.append(i)
    return out


def _after_prompt(query: str, prompt: str) -> str:
    """The query past the prompt, matched ignoring whitespace and special tokens."""
    if query.startswith(prompt):
        return query[len(prompt):]
    q, p = _visible(query), _visible(prompt)
    at = next((n for n, (i, j) in enumerate(zip(q, p)) if query[i] != prompt[j]), None)
    if at is not None or len(q) < len(p):
        raise QueryMismatch(f"the query does not begin with the prompt (their text differs at visible character "
                            f"{len(q) if at is None else at} of the prompt's {len(p)}): a truncated or other prompt")
    rest = query[q[len(p) - 1] + 1:] if p else query
    # The prompt's own closing markers (`[/INST]`, `<｜Assistant｜>`) are not the end of the answer.
    for token in _SPECIAL.findall(prompt[p[-1] + 1:] if p else prompt):
        stripped = rest.lstrip()
        if stripped.startswith(token):
            rest = stripped[len(token):]
    return rest


def answer_from_query(query: str, prompt: str) -> str:
    """The rollout: what follows the prompt in the query, up to its end-of-turn marker, without markers.
    Raises QueryMismatch when the query's text does not begin with the prompt's."""
    rest = _after_prompt(query, prompt)
    end = _TURN_END.search(rest)
    return plain(rest[:end.start()] if end else rest)
