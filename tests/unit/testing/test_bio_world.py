"""The benchmark's synthetic biographies: today's world stays as it was (its printed figures are
compared across versions), and the realistic world has the sizes it claims."""

from __future__ import annotations

import hashlib
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
import bio_world  # noqa: E402

from factbench.stages.claims import merge_duplicates  # noqa: E402
from factbench.store.records import Claim  # noqa: E402


def _digest(people: list[bio_world.Person]) -> str:
    h = hashlib.sha256()
    for p in people:
        h.update(repr((p.name, p.paragraphs, [(f.paragraph, f.article, f.atoms) for f in p.facts], p.answer,
                       [s and s.article for s in p.sources])).encode())
    return h.hexdigest()


def test_todays_world_is_unchanged():
    """Pinned: the printed figures of the bench's first scenario are compared across versions."""
    assert _digest([bio_world.person(i, 25) for i in range(50)]) == \
        "62da24e2110b8228bcd39ab602f49be385798dc1bc3409a038785c637ccd0038"  # the world at 0ee246a


def test_realistic_world_has_wikipedia_sized_pages_and_twelve_word_claims():
    people = [bio_world.realistic_person(i) for i in range(50)]
    passages = [len(text) for p in people for text in p.paragraphs]
    assert all(10 <= len(p.paragraphs) <= 12 for p in people)
    assert max(passages) <= 256 * 4  # FActScore's passage size, at 4 characters a token
    assert 220 * 4 <= statistics.mean(passages)
    words = [len(a.split()) for p in people for a in p.answer]
    assert 11.5 <= statistics.mean(words) <= 13.5
    assert all(len(p.answer) == 24 for p in people)
    kept = [len(merge_duplicates([Claim(text=a, sentence=i) for i, a in enumerate(p.answer)])[0]) for p in people]
    assert statistics.mean(kept) >= 23  # distinct facts are not merged as near-duplicates
    for p in people:  # every stated fact is in the paragraph it came from
        for sentence, fact in zip(p.answer, p.sources):
            if fact is not None:
                assert fact.article in p.paragraphs[fact.paragraph]
                assert "Atlantis" not in sentence and "perhaps" not in sentence
