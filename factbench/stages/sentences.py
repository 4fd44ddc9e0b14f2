"""Sentences of one line: spaCy's rule-based sentencizer, with an exact shortcut for plain lines.

spaCy is the authority, but importing it takes ~1.2 s, which would sit between the start of
a run and its first judge request. Most answer lines are plain prose whose sentence ends
are unambiguous, and for those :func:`fast_split` gives exactly spaCy's split without spaCy:

- every character is a Latin letter, an ASCII digit, a single space or one of ,;:'"()%&/-.!?
- every . ! or ? ends a space-separated token that is a word of letters or digits followed by
  that one mark, and the next token (if any) starts with a letter or digit; such a mark is
  split off by spaCy's tokenizer and ends a sentence;
- the token is not one of the tokenizer's special cases ("Dr.", "Calif.", "vs.", single
  letters, ...). Their set is read from spaCy the first time it loads and kept next to the
  call cache (per spaCy version); until then, any word of one or two letters, or of up to six
  starting with a capital or ending in one, before a period sends the line to spaCy.

Anything else goes to spaCy. tests/unit/stages/test_sentences.py checks the shortcut
against spaCy on the benchmark answers and on generated lines.
"""

from __future__ import annotations

import json
import re
import threading
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

_PLAIN = re.compile(r"^[A-Za-z0-9\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff ,;:'\"()%&/\-.!?]+$")
_MARKS = ".!?"
_HAS_MARK = re.compile("[.!?]").search  # one C call per token, the hot test of fast_split
_lock = threading.Lock()
_state: dict[str, object] = {}


def _special_path() -> Path | None:
    from factbench.llm.cache import default_cache_path

    try:
        return default_cache_path().parent / f"spacy-{version('spacy')}-sentence-specials.json"
    except PackageNotFoundError:
        return None


def nlp():
    """spaCy's blank English pipeline with the sentencizer (loaded once, thread-safe)."""
    with _lock:
        if "nlp" not in _state:
            import spacy
            from spacy.tokenizer import Tokenizer

            pipeline = spacy.blank("en")
            pipeline.add_pipe("sentencizer")
            pipeline.max_length = 5_000_000
            tokenizer = pipeline.tokenizer
            assert isinstance(tokenizer, Tokenizer)  # a blank pipeline's tokenizer (typed as any callable)
            specials = sorted(k for k in tokenizer.rules if any(m in k for m in _MARKS))
            _state["specials"] = frozenset(specials)
            _save_specials(specials)
            _state["nlp"] = pipeline
        return _state["nlp"]


def _save_specials(specials: list[str]) -> None:
    path = _special_path()
    if path is None or path.exists():
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(specials))
        tmp.replace(path)
    except OSError:
        pass  # only a speed-up is lost


def _specials() -> frozenset[str] | None:
    """The tokenizer's special cases that contain a sentence mark, when known without loading spaCy."""
    if "specials" not in _state:
        path = _special_path()
        try:
            loaded = json.loads(path.read_text()) if path is not None and path.exists() else None
        except (OSError, ValueError):
            loaded = None
        if not isinstance(loaded, list):
            return None
        _state.setdefault("specials", frozenset(str(x) for x in loaded))
    return _state["specials"]  # type: ignore[return-value]


def _plain_end(token: str, specials: frozenset[str] | None) -> bool:
    word, mark = token[:-1], token[-1]
    if not word.isalnum() or any(m in word for m in _MARKS):
        return False
    if specials is not None:
        return token not in specials and not (mark == "." and word[-1].isupper())
    if mark != ".":
        return True
    return len(word) > 2 and not word[-1].isupper() and not (word[0].isupper() and len(word) <= 6)


def fast_split(line: str, specials: frozenset[str] | None = None) -> list[str] | None:
    """spaCy's sentences of a plain `line` (see the module docstring), or None when it is not plain."""
    if not _PLAIN.match(line) or "  " in line or line != line.strip():
        return None
    tokens = line.split(" ")
    out: list[str] = []
    start = pos = 0
    for i, token in enumerate(tokens):
        end = pos + len(token)
        if _HAS_MARK(token):
            if token[-1] not in _MARKS or not _plain_end(token, specials):
                return None
            if i + 1 < len(tokens):
                if not tokens[i + 1][:1].isalnum():
                    return None
                out.append(line[start:end])
                start = end + 1
        pos = end + 1
    out.append(line[start:])
    return out


def split_line(line: str) -> list[str]:
    """The sentences of one line, as spaCy's sentencizer splits it."""
    parts = fast_split(line, _specials())
    if parts is not None:
        return parts
    return [sent.text for sent in nlp()(line).sents]
