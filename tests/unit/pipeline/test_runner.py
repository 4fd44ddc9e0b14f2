"""The runner loops over whatever stage list it is given, and resumes stage by stage."""

from __future__ import annotations

import json

from conftest import write_longfact_fixture

from factbench.llm.client import RoleSpec
from factbench.pipeline.runner import Runner, RunSettings
from factbench.stages.registry import registered_stages
from factbench.tasks import resolve_tasks


def _roles(url: str) -> dict[str, RoleSpec]:
    return {role: RoleSpec(role=role, model="openai/judge", base_urls=(url,), max_retries=0)
            for role in ("model", "extractor", "verifier")}


def test_the_stage_list_is_the_pipeline(server, tmp_path):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=3)
    tasks = resolve_tasks("longfact-objects")
    settings = RunSettings(run_id="r", results_dir=str(tmp_path), data_dir=str(data), evidence="none",
                           relevance=False, progress=False)
    first = Runner(settings, _roles(server.base_url), tasks, cache=None, stages=registered_stages()[:2]).run()
    run = tmp_path / "r"
    assert len((run / "claims.jsonl").read_text().splitlines()) == 3
    assert (run / "verdicts.jsonl").read_text() == ""  # stages after the list's end never ran (the file exists, empty)
    # nothing verified yet: every answer is counted, none is scored (pending, not failed)
    assert (first.overall.n_answers, first.overall.n_scored, first.overall.answer_status["pending"]) == (3, 0, 3)
    calls_before = dict(server.state.requests)
    second = Runner(settings, _roles(server.base_url), tasks, cache=None).run()
    # The resume ran only the missing stages: no new answers or claims, one verification and one
    # informativeness call per answer.
    assert second.resumed == {"answers": 3, "claims": 3, "evidence": 0, "verdicts": 0, "informativeness": 0}
    kinds = [json.loads(x)["stage"] for x in (run / "errors.jsonl").read_text().splitlines()] \
        if (run / "errors.jsonl").exists() else []
    assert kinds == []
    assert second.overall.n_answers == 3
    new = {k: v - calls_before.get(k, 0) for k, v in server.state.requests.items() if v != calls_before.get(k, 0)}
    assert new == {"verify": 3, "informativeness": 3}
