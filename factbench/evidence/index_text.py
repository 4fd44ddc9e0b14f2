"""How passage and claim text becomes index terms (the same rules at build and at query time).

Words are runs of Unicode letters and digits, lower-cased; stopwords and single letters are
dropped (single digits are kept: "3 children"); plural endings are folded with a conservative
S-stemmer (ies -> y, s -> nothing, except after u, s or i), so "awards" matches
"award" without the over-merging of a full stemmer.
"""

from __future__ import annotations

import re
from functools import lru_cache

TOKEN = re.compile(r"\w+", re.UNICODE)
STOPWORDS = frozenset(
    "a an and are as at be been being but by did do does for from had has have he her his how i in is it its "
    "of on or she that the their them they this to was were what when where which who whom why will with "
    "would you also into than then there these those not no".split()
)


@lru_cache(maxsize=1 << 16)  # a corpus's and its claims' words repeat: each is folded once
def index_term(token: str) -> str | None:
    """The index term for a lower-cased token, or None when the token is not indexed."""
    if token in STOPWORDS or (len(token) < 2 and not token.isdigit()):
        return None
    if len(token) > 3 and token.endswith("ies") and not token.endswith(("eies", "aies")):
        return token[:-3] + "y"
    if len(token) > 3 and token.endswith("s") and not token.endswith(("us", "ss", "is")):
        return token[:-1]
    return token


def content_words(text: str) -> list[str]:
    """A text's distinct index terms, in order of first appearance."""
    seen: dict[str, None] = {}
    for tok in TOKEN.findall(text.lower()):
        term = index_term(tok)
        if term is not None:
            seen.setdefault(term, None)
    return list(seen)
