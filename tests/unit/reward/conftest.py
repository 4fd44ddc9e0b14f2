"""Fixtures shared by the reward adapter and trainer contract tests."""

import pytest

from factbench.reward import Scorer


@pytest.fixture
def scorer(server):
    """A Scorer against the session's scripted judge, without the call cache (every call reaches the judge)."""
    with Scorer(judge="openai/judge", judge_base_url=server.base_url, use_cache=False) as s:
        yield s
