"""evaluate(), evaluate_async() and the Scorer check every role first, as the CLI does."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from conftest import write_longfact_fixture

import factbench
from factbench.llm.preflight import PreflightError
from factbench.reward.scorer import Scorer
from factbench.testing.scripted_server import ScriptedServer, ScriptedState


def _options(url: str, data, results, run_id: str) -> dict:
    return dict(model="openai/test-model", model_base_url=url, judge="openai/judge", judge_base_url=url,
                data_dir=str(data), results_dir=str(results), run_id=run_id, evidence="none", progress=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def other_models():
    """A lenient server: it lists other models, but answers whatever model a request names."""
    with ScriptedServer(ScriptedState(models=("served-a", "served-b"))) as srv:
        yield srv


def test_evaluate_against_a_server_that_does_not_serve_the_model(tmp_path, other_models):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=2)
    options = _options(other_models.base_url, data, tmp_path / "res", "pf")
    started = time.monotonic()
    with pytest.raises(PreflightError) as info:
        factbench.evaluate("longfact-objects", **options)
    assert time.monotonic() - started < 10
    message = str(info.value)
    assert "does not serve the model 'test-model'" in message and "served-a, served-b" in message
    assert "preflight=False skips" in message and "--no-preflight" not in message
    assert not (tmp_path / "res" / "pf").exists()  # nothing written
    with pytest.raises(PreflightError, match="does not serve the model 'judge'"):
        asyncio.run(factbench.evaluate_async("longfact-objects", **options))

    result = factbench.evaluate("longfact-objects", preflight=False, **options)  # the server answers anyway
    assert result.summary.overall.n_answers == 2


def test_evaluate_against_no_server_fails_in_seconds(tmp_path):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=2)
    url = f"http://127.0.0.1:{_free_port()}/v1"
    started = time.monotonic()
    with pytest.raises(PreflightError, match="does not answer"):
        factbench.evaluate("longfact-objects", **_options(url, data, tmp_path / "res", "down"))
    assert time.monotonic() - started < 5
    assert not (tmp_path / "res" / "down").exists()


def test_the_scorer_checks_its_judges(other_models):
    with pytest.raises(PreflightError, match="does not serve the model 'judge'"):
        Scorer(judge="openai/judge", judge_base_url=other_models.base_url)
    with Scorer(judge="openai/served-a", judge_base_url=other_models.base_url) as scorer:
        [result] = scorer.score_sync(["What is X?"], ["X is documented in source 1 of the archive."])
        assert result.reward is not None
    Scorer(judge="openai/judge", judge_base_url=other_models.base_url, preflight=False).close()
