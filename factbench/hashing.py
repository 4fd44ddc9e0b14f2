"""Stable hashes of JSON-able values (cache keys, template versions, run identities)."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from typing import Any

# One encoder for every call (json.dumps builds a new one per call when given options).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: equal values give equal text."""
    return _CANONICAL.encode(value)


def sha256_hex(value: Any, length: int = 64) -> str:
    if type(value) is list and len(value) <= 4 and all(type(item) is str for item in value):
        return _strings_sha(tuple(value), length)
    text = value if isinstance(value, str) else canonical_json(value)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


@lru_cache(maxsize=4096)
def _strings_sha(items: tuple[str, ...], length: int) -> str:
    """A few strings' hash, kept: the same passage ([title, text]) is hashed for every claim it serves."""
    return hashlib.sha256(canonical_json(list(items)).encode("utf-8")).hexdigest()[:length]
