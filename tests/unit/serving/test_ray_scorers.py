"""The Scorer as a pool of Ray actors gives what one Scorer gives, in order."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest
from local_ray import LOOPBACK, NO_EGRESS, descendants, off_loopback, tcp_sockets

from factbench.serving.ray_scorers import split


def test_split_is_contiguous_balanced_and_complete():
    assert [list(r) for r in split(7, 3)] == [[0, 1, 2], [3, 4], [5, 6]]
    assert [list(r) for r in split(2, 4)] == [[0], [1]]
    assert split(0, 2) == []


@pytest.mark.slow
def test_ray_actor_pool_scores_like_one_scorer(server, monkeypatch):
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'factbench[ray]')")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # no token file made in ~/.ray for a test's Ray
    for name, value in NO_EGRESS.items():  # Ray on loopback alone (tests/local_ray.py)
        monkeypatch.setenv(name, value)
    from factbench.reward.scorer import Scorer
    from factbench.serving.ray_scorers import RayScorerPool

    prompts = [f"Tell me about object {i}." for i in range(5)]
    responses = [f"Object {i} is a large red box. It was made in {1900 + i}. It sits in a museum." for i in range(5)]
    kwargs = {"judge": "openai/judge", "judge_base_url": server.base_url, "use_cache": False}
    with Scorer(**kwargs) as scorer:
        expected = scorer.score_sync(prompts, responses)
    temp_dir = tempfile.mkdtemp(prefix="fbray", dir="/tmp")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=temp_dir,
             _node_ip_address=LOOPBACK)
    try:
        with RayScorerPool(2, judge_budget=8, **kwargs) as pool:
            got = pool.score(prompts, responses)
            # This process, its Ray (GCS, raylet) and the actors talk over loopback alone.
            sockets = tcp_sockets(descendants(os.getpid()))
    finally:
        ray.shutdown()
        shutil.rmtree(temp_dir, ignore_errors=True)
    assert any(LOOPBACK in end for end, _, _ in sockets) and not off_loopback(sockets), sockets
    assert [r.reward for r in got] == [r.reward for r in expected]
    assert [r.model_dump() for r in got] == [r.model_dump() for r in expected]
