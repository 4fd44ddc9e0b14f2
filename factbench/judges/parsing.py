"""Parsers for judge outputs: strict JSON first, a tolerant fallback second, never a guess.

The templates ask for compact output in order (one claim list per sentence; one label letter
per claim, in one string; no ids). A compact list is taken only when it has exactly one entry per item asked
for; a list of another length cannot be aligned and is an error for every item, except a
list cut off by the token limit, whose finished entries are the first ones. The fallback
reads the older id-keyed JSON, salvaged objects and "3: supported" lines. A missing, unknown
or unparseable label is returned as an error kind, never as a verdict.
"""

from __future__ import annotations

import json
import re
from typing import Any


class ParseError(ValueError):
    def __init__(self, kind: str, detail: str = ""):
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")

_LABEL_WORDS = {
    "supported": "supported", "support": "supported", "supports": "supported", "true": "supported",
    "correct": "supported", "yes": "supported", "confirmed": "supported", "s": "supported",
    "unsupported": "unsupported", "not supported": "unsupported", "not_supported": "unsupported",
    "refuted": "unsupported", "contradicted": "unsupported", "false": "unsupported", "incorrect": "unsupported",
    "no": "unsupported", "ns": "unsupported",
    "unverifiable": "unverifiable", "inconclusive": "unverifiable", "not enough evidence": "unverifiable",
    "not enough information": "unverifiable", "insufficient evidence": "unverifiable", "unknown": "unverifiable",
    "cannot be verified": "unverifiable", "nei": "unverifiable", "undetermined": "unverifiable",
}


def extract_json(text: str) -> Any:
    """The JSON value in a judge output: plain, fenced, or embedded in prose (trailing commas tolerated)."""
    candidates = [text.strip()]
    candidates += [m.strip() for m in _FENCE.findall(text)]
    start, end = text.find("{"), text.rfind("}")
    if start != -1 and end > start:
        candidates.append(text[start:end + 1])
    for cand in candidates:
        for variant in (cand, _TRAILING_COMMA.sub(r"\1", cand)):
            try:
                return json.loads(variant)
            except (json.JSONDecodeError, RecursionError):
                continue
    raise ParseError("invalid_json", text[:80])


_COMPACT_OPEN = re.compile(r'^\s*(?:```(?:json)?\s*)?\{\s*"(?P<key>\w+)"\s*:\s*\[')


def salvage_prefix(text: str, key: str) -> tuple[list[Any] | None, bool]:
    """The finished entries of a compact list `{"key": [...` that is not valid JSON as a whole (cut
    off by the token limit), and whether the list itself was closed; (None, False) when it is not one."""
    m = _COMPACT_OPEN.match(text)
    if not m or m.group("key") != key:
        return None, False
    decoder = json.JSONDecoder()
    items: list[Any] = []
    pos = m.end()
    while True:
        while pos < len(text) and text[pos] in " \n\r\t,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            return items, pos < len(text)
        try:
            item, pos = decoder.raw_decode(text, pos)
        except (json.JSONDecodeError, RecursionError):
            return items, False
        items.append(item)


def compact_list(text: str, key: str) -> tuple[list[Any] | None, bool]:
    """(entries, complete) of a compact `{"key": [...]}` output; (None, False) when it is not one.
    `complete` is False for a list cut off before its end: its entries are a prefix."""
    try:
        data = extract_json(text)
    except ParseError:
        return salvage_prefix(text, key)
    if isinstance(data, dict) and isinstance(data.get(key), list):
        return data[key], True
    return None, False


def salvage_items(text: str) -> list[dict[str, Any]]:
    """Complete `{"id": ...}` objects from an output that is not valid JSON as a whole (for
    example cut off by the token limit): what was finished is kept, the rest stays missing."""
    decoder = json.JSONDecoder()
    items, pos = [], text.find("{", 1)
    while pos != -1:
        try:
            obj, end = decoder.raw_decode(text, pos)
        except (json.JSONDecodeError, RecursionError):
            pos = text.find("{", pos + 1)
            continue
        if isinstance(obj, dict) and "id" in obj:
            items.append(obj)
        pos = text.find("{", end)
    return items


def normalise_label(word: Any, mode: str = "ternary") -> str | None:
    """Map a judge's label word to ours; None for a word we do not know."""
    if not isinstance(word, str):
        return None
    key = " ".join(word.strip().strip(".!\"'*").lower().replace("_", " ").split())
    label = _LABEL_WORDS.get(key) or _LABEL_WORDS.get(key.replace(" ", "_"))
    if label == "unverifiable" and mode == "binary":
        return "unsupported"
    return label


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("[#P").rstrip("].").isdigit():
        return int(value.strip().lstrip("[#P").rstrip("]."))
    return None


# ------------------------------------------------------------------ extraction

_SENTENCE_HEADING = re.compile(r"^\s*(?:sentence\s*)?\[?(\d+)\]?\s*[:.)]?\s*$", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+(.*\S)\s*$")


def _clean_claims(claims: list[Any]) -> list[str]:
    return [c.strip() for c in claims if isinstance(c, str) and c.strip()]


SAME_SENTENCE = "="  # an entry standing for its sentence as its one claim (templates.SAME_SENTENCE)


def parse_sentence_claims(text: str, expected_ids: list[int]) -> tuple[dict[int, list[str]], list[str]]:
    """Claims per sentence id, and the error kinds found (missing sentence entries are errors). A
    sentence whose entry is "=" gets the one claim SAME_SENTENCE: the caller puts the sentence there."""
    lists, complete = compact_list(text, "claims")
    if lists is not None and all(isinstance(x, list) or x == SAME_SENTENCE for x in lists):
        lists = [[SAME_SENTENCE] if x == SAME_SENTENCE else x for x in lists]
        if complete and len(lists) != len(expected_ids):
            return {}, ["claims_count_mismatch"] * len(expected_ids)  # which list belongs to which sentence is unknown
        found = {sid: _clean_claims(c) for sid, c in zip(expected_ids, lists)}
        return found, ["missing_sentence"] * (len(expected_ids) - len(found))
    return _parse_id_keyed_claims(text, expected_ids)


def _parse_id_keyed_claims(text: str, expected_ids: list[int]) -> tuple[dict[int, list[str]], list[str]]:
    """Fallback: `{"sentences": [{"id": 1, "claims": [...]}, ...]}`, salvaged objects, or heading lines."""
    errors: list[str] = []
    found: dict[int, list[str]] = {}
    try:
        data = extract_json(text)
        items = data.get("sentences") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ParseError("invalid_shape")
        for item in items:
            if not isinstance(item, dict):
                errors.append("invalid_item")
                continue
            sid = _as_int(item.get("id"))
            claims = item.get("claims")
            if sid is None or not isinstance(claims, list):
                errors.append("invalid_item")
                continue
            found[sid] = _clean_claims(claims)
    except ParseError as exc:
        salvaged = [i for i in salvage_items(text) if _as_int(i.get("id")) is not None and isinstance(i.get("claims"), list)]
        found = {sid: _clean_claims(i["claims"]) for i in salvaged if (sid := _as_int(i["id"])) is not None} \
            or _parse_claim_lines(text)
        if not found:
            return {}, [exc.kind]
    expected = set(expected_ids)
    for sid in expected_ids:
        if sid not in found:
            errors.append("missing_sentence")
    return {k: v for k, v in found.items() if k in expected}, errors


def _parse_claim_lines(text: str) -> dict[int, list[str]]:
    """Fallback: 'Sentence 3:' (or '[3]') headings followed by '- claim' lines."""
    out: dict[int, list[str]] = {}
    current: int | None = None
    for line in text.splitlines():
        heading = _SENTENCE_HEADING.match(line)
        if heading:
            current = int(heading.group(1))
            out.setdefault(current, [])
            continue
        bullet = _BULLET.match(line)
        if bullet and current is not None:
            out[current].append(bullet.group(1))
    return out


# ------------------------------------------------------------------ verification

_VERDICT_LINE = re.compile(r"^\s*(?:claim\s*)?\[?(\d+)\]?\s*[:.)\-]\s*\**\s*([A-Za-z _]+?)\s*\**\s*\.?\s*$",
                           re.IGNORECASE)


_LETTERS_OPEN = re.compile(r'^\s*(?:```(?:json)?\s*)?\{\s*"labels"\s*:\s*"(?P<letters>[A-Za-z ,]*)$')
_LETTER_LABELS = {"S": "supported", "U": "unsupported", "N": "unverifiable"}


def parse_verdicts(text: str, n_claims: int, mode: str = "ternary") -> tuple[list[str | None], list[str | None]]:
    """Per-claim labels (None where there is none) and per-claim error kinds (None where fine).
    The compact format is one letter per claim in one string, `{"labels": "SSUN"}`; a list of
    label words (the format before) is read too."""
    try:
        data = extract_json(text)
    except ParseError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("labels"), str):
        return _labels_from_letters(data["labels"], n_claims, mode, complete=True)
    if data is None and (m := _LETTERS_OPEN.match(text)):  # cut off inside the string: its letters are the first
        return _labels_from_letters(m.group("letters"), n_claims, mode, complete=False)
    words, complete = (data["labels"], True) if isinstance(data, dict) and isinstance(data.get("labels"), list) \
        else salvage_prefix(text, "labels") if data is None else (None, False)
    if words is not None:
        if complete and len(words) != n_claims:
            return [None] * n_claims, ["label_count_mismatch"] * n_claims  # never guess which is which
        return _labels_from({i: w for i, w in enumerate(words[:n_claims], start=1)}, n_claims, mode)
    return _parse_id_keyed_verdicts(text, n_claims, mode)


def _labels_from_letters(value: str, n_claims: int, mode: str,
                         complete: bool) -> tuple[list[str | None], list[str | None]]:
    letters = [c for c in value if c not in " ,"]
    if complete and len(letters) != n_claims:
        return [None] * n_claims, ["label_count_mismatch"] * n_claims  # never guess which is which
    labels: list[str | None] = [None] * n_claims
    errors: list[str | None] = ["missing_label"] * n_claims
    for k, letter in enumerate(letters[:n_claims]):
        label = _LETTER_LABELS.get(letter.upper())
        if label == "unverifiable" and mode == "binary":
            label = "unsupported"
        labels[k], errors[k] = label, (None if label else "unknown_label")
    return labels, errors


def _labels_from(raw: dict[int, Any], n_claims: int, mode: str) -> tuple[list[str | None], list[str | None]]:
    labels: list[str | None] = [None] * n_claims
    errors: list[str | None] = ["missing_label"] * n_claims
    for cid, word in raw.items():
        if 1 <= cid <= n_claims:
            label = normalise_label(word, mode)
            labels[cid - 1] = label
            errors[cid - 1] = None if label else "unknown_label"
    return labels, errors


def _parse_id_keyed_verdicts(text: str, n_claims: int, mode: str) -> tuple[list[str | None], list[str | None]]:
    """Fallback: `{"verdicts": [{"id": 1, "label": ...}, ...]}`, salvaged objects, or "1: supported" lines."""
    raw: dict[int, Any] = {}
    try:
        data = extract_json(text)
        items = data.get("verdicts") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ParseError("invalid_shape")
        for item in items:
            if isinstance(item, dict) and (vid := _as_int(item.get("id"))) is not None:
                raw.setdefault(vid, item.get("label"))
    except ParseError as exc:
        for item in salvage_items(text):
            if (vid := _as_int(item.get("id"))) is not None:
                raw.setdefault(vid, item.get("label"))
        for line in text.splitlines():
            m = _VERDICT_LINE.match(line)
            if m:
                raw.setdefault(int(m.group(1)), m.group(2))
        if not raw:
            return [None] * n_claims, [exc.kind] * n_claims
    return _labels_from(raw, n_claims, mode)


_BARE_WINNER = re.compile(r"(?:(?:the\s+)?winner(?:\s+is)?\s*[:=\-]?\s*)?(?:response\s+)?\**(A|B|tie)\**\.?",
                          re.IGNORECASE)


def parse_winner(text: str) -> str:
    """'A', 'B' or 'tie'; raises ParseError otherwise."""
    try:
        data = extract_json(text)
        word = data.get("winner") if isinstance(data, dict) else None
    except ParseError:
        m = _BARE_WINNER.fullmatch(text.strip())  # the whole answer must be the verdict: never guess
        word = m.group(1) if m else None
    if isinstance(word, str):
        w = word.strip().strip(".\"'").lower()
        if w in ("a", "response a"):
            return "A"
        if w in ("b", "response b"):
            return "B"
        if w in ("tie", "equal", "both", "draw"):
            return "tie"
    raise ParseError("unknown_winner", str(text)[:80])
