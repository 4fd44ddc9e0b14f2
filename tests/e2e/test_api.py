"""factbench.evaluate: the same run as the CLI, from a script and from inside a running event loop."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap

from conftest import role_args, write_longfact_fixture

import factbench
from factbench.cli.main import main


def _options(server, data, res, run_id):
    return dict(model="openai/test-model", model_base_url=server.base_url, judge="openai/judge",
                judge_base_url=server.base_url, data_dir=str(data), results_dir=str(res), run_id=run_id,
                evidence="none", progress=False)


def test_evaluate_from_a_script_is_the_cli_run(tmp_path, server):
    data = write_longfact_fixture(tmp_path / "data")
    script = tmp_path / "score.py"
    script.write_text(textwrap.dedent(f"""
        import json
        import factbench
        result = factbench.evaluate("longfact-objects", **{_options(server, data, tmp_path / 'res', 'py')!r})
        scores, claims = result.scores_df(), result.claims_df()
        print(json.dumps({{"run_dir": str(result.run_dir), "answers": result.summary.overall.n_answers,
                          "score_rows": len(scores), "claim_rows": len(claims),
                          "labels": sorted(set(claims["label"])), "precision": float(scores["precision"].mean())}}))
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["answers"] == 6 and got["score_rows"] == 6
    summary = json.loads((tmp_path / "res" / "py" / "summary.json").read_text())
    assert got["claim_rows"] == summary["overall"]["n_claims"]
    assert set(got["labels"]) <= {"supported", "unsupported", "unverifiable"}
    assert abs(got["precision"] - summary["overall"]["metrics"]["precision"]["mean"]) < 1e-9

    # The CLI with the same options resumes the Python run: same identity, nothing left to do.
    requests = server.state.requests.total()
    cli = ["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(tmp_path / "res"),
           "--run-id", "py"] + role_args(server.base_url)
    assert main(cli) == 0
    assert server.state.requests.total() == requests
    resumed = json.loads((tmp_path / "res" / "py" / "summary.json").read_text())
    assert resumed["resumed"]["verdicts"] == 6 and resumed["tasks"] == summary["tasks"]


def test_evaluate_inside_a_running_loop_and_evaluate_async(tmp_path, server):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=2)

    async def notebook_cell():
        blocking = factbench.evaluate("longfact-objects", **_options(server, data, tmp_path / "res", "nb"))
        awaited = await factbench.evaluate_async("longfact-objects", **_options(server, data, tmp_path / "res", "nb2"))
        return blocking, awaited

    blocking, awaited = asyncio.run(notebook_cell())
    assert blocking.summary.overall.n_answers == awaited.summary.overall.n_answers == 2
    assert awaited.summary.cache["hits"] == awaited.summary.cache["calls"]  # same work: all from the cache
    assert factbench.EvalResult.load(blocking.run_dir).summary.run_id == "nb"
    assert blocking.summary.reward["design"] == "merged"  # how scores.jsonl's reward was composed


def test_evaluate_rejects_an_unknown_option(tmp_path):
    try:
        factbench.evaluate("demo", judge="openai/j", limt=3)
    except ValueError as exc:
        assert "limt" in str(exc)
    else:
        raise AssertionError("an unknown keyword must be refused")
