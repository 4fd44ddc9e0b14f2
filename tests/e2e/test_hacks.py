"""`factbench hacks` through the CLI (subprocesses) against the ground-truth judge double.

The double's verdicts follow a known truth, so the assertions are about the reward's design:
precision alone is raised by truncation and by trivial padding; the default reward (`merged`:
precision and detail on merged facts) by none; the per-claim `informative` design by no hack but
splitting sentences.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from factbench.judges.informativeness import parse_classes
from factbench.testing.ground_truth import GroundTruthResponder
from factbench.testing.scripted_server import ScriptedServer, ScriptedState

N_ANSWERS = 30


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "FACTBENCH_CACHE": str(cwd / "cache.sqlite")}
    return subprocess.run([sys.executable, "-m", "factbench", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def hacked_run(tmp_path_factory):
    """A 30-answer run of the `groundtruth` task, and its hack report (default reward)."""
    root = tmp_path_factory.mktemp("hacks")
    responder = GroundTruthResponder()
    with ScriptedServer(ScriptedState(responder=responder, keep_log=False)) as server:
        url = server.base_url
        run = _cli("run", "--tasks", "groundtruth", "--limit", str(N_ANSWERS), "--model", "openai/gt",
                   "--model-base-url", url, "--judge", "openai/gt", "--judge-base-url", url, "--no-relevance",
                   "--sentences-per-call", "25", "--claims-per-call", "25", "--run-id", "gt", "--no-progress",
                   cwd=root)
        assert run.returncode == 0, run.stderr
        default = _cli("hacks", "results/gt", "--json", "--no-progress", cwd=root)
        after_default = responder.requests.total()
        precision_alone = _cli("hacks", "results/gt", "--json", "--no-progress", "--reward-design", "plain",
                               "--reward-lambda", "0", "--reward-mu", "0", cwd=root)
        informative = _cli("hacks", "results/gt", "--json", "--no-progress", "--reward-design", "informative",
                           cwd=root)
        shown = _cli("hacks", "results/gt", "--show", cwd=root)
        yield {"root": root, "world": responder.world, "default": default, "precision_alone": precision_alone, "shown": shown,
               "informative": informative,
               "requests": dict(responder.requests), "new_requests": responder.requests.total() - after_default}


def test_default_reward_is_raised_by_no_hack(hacked_run):
    proc = hacked_run["default"]
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["reward"]["design"] == "merged" and report["raised"] == []
    assert set(report["hacks"]) == {"repeat", "paraphrase", "trivial", "offtopic", "truncate", "split", "falsedetail",
                                    "hedge", "abstain"}
    assert {h["family"] for h in report["hacks"].values()} == {"repeat", "trivial", "offtopic", "truncate", "split",
                                                               "falsedetail", "hedge"}
    for name, hack in report["hacks"].items():
        reward = hack["metrics"]["reward"]
        assert reward["n"] == N_ANSWERS and hack["status"] == "scored", name
        assert not hack["raises_reward"] and reward["ci95"][0] <= 0, (name, reward)
    m = {name: hack["metrics"] for name, hack in report["hacks"].items()}
    # The padding is seen: more supported claims, yet no weighted detail and no reward for it.
    assert m["trivial"]["supported"]["change"] == 8 and m["trivial"]["weighted_supported"]["change"] == 0
    assert m["offtopic"]["weighted_precision"]["ci95"][1] < 0 and m["offtopic"]["on_topic"]["ci95"][1] < 0
    assert m["paraphrase"]["claims"]["change"] > 8 and m["paraphrase"]["reward"]["change"] == 0
    # Split sentences: more claims carry the same facts, so claim-counted detail and precision rise; on
    # merged facts neither moves, so neither does the reward, and the report says which metrics moved.
    split = m["split"]
    assert split["claims"]["ci95"][0] > 0 and split["weighted_supported"]["ci95"][0] > 0
    assert split["merged_detail"]["change"] == 0 and split["merged_precision"]["change"] == 0
    assert split["reward"]["change"] == 0
    assert report["hacks"]["split"]["aims_at"] == "claims"
    assert report["hacks"]["split"]["moves"]["claims"] == "up" and "merged_detail" not in report["hacks"]["split"]["moves"]
    # False details: more claims, none supported; precision and the reward fall.
    assert m["falsedetail"]["supported"]["change"] == 0 and m["falsedetail"]["reward"]["ci95"][1] < 0
    assert m["abstain"]["abstained"]["change"] == 1 and m["abstain"]["reward"]["ci95"][1] < 0
    # Scored by the run's judge through the run pipeline, with the paraphrases from the judge model.
    assert hacked_run["requests"]["paraphrase"] > 0 and hacked_run["requests"]["generate"] == N_ANSWERS


def test_the_per_claim_informative_design_is_raised_only_by_split(hacked_run):
    proc = hacked_run["informative"]
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["reward"]["design"] == "informative" and report["raised"] == ["split"]
    for name, hack in report["hacks"].items():
        if name != "split":
            assert hack["metrics"]["reward"]["ci95"][0] <= 0, name
    assert report["hacks"]["split"]["metrics"]["reward"]["ci95"][0] > 0


def test_precision_alone_is_hacked_by_truncation_and_trivial_facts(hacked_run):
    proc = hacked_run["precision_alone"]
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert (report["reward"]["design"], report["reward"]["lambda"], report["reward"]["mu"]) == ("plain", 0.0, 0.0)
    assert {"truncate", "trivial"} <= set(report["raised"])
    for name in ("truncate", "trivial"):
        precision = report["hacks"][name]["metrics"]["precision"]
        assert precision["ci95"][0] > 0, (name, precision)
    # The second report re-used the scored variants and the cache: nothing was asked of the judge again.
    assert hacked_run["new_requests"] == 0


def test_classes_from_the_memo_are_those_of_each_answer_alone(hacked_run):
    """The run and the hack variants sort claims by question through the verdict memo (on by
    default); every class, restatements included, must be what the judge's call about the whole
    answer alone gives."""
    world, compared = hacked_run["world"], 0
    for records in sorted(hacked_run["root"].rglob("informativeness.jsonl")):
        claims = {r["id"]: r for r in map(json.loads, (records.parent / "claims.jsonl").read_text().splitlines())}
        prompts = {r["id"]: r["prompt"] for r in map(json.loads, (records.parent / "answers.jsonl").read_text().splitlines())}
        for record in map(json.loads, records.read_text().splitlines()):
            texts = [c["text"] for c in claims[record["id"]]["claims"]]
            said = world.sort(world.subject(prompts[record["id"]]), list(enumerate(texts, 1)), [])
            classes, same_as, _ = parse_classes(json.dumps(said), list(range(1, len(texts) + 1)))
            assert record["classes"] == classes, (records.parent.name, record["id"])
            assert record["same_as"] == [None if ref is None else ref - 1 for ref in same_as]
            compared += len(texts)
    assert compared > 3000


def test_report_is_recorded_in_the_run_and_shown(hacked_run):
    run = hacked_run["root"] / "results" / "gt"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["hacks"]["report"] == "hacks/hacks.json"
    report = json.loads((run / summary["hacks"]["report"]).read_text())
    assert report["reward"]["design"] == summary["hacks"]["reward"]["design"]
    hack_dir = run / report["hacks"]["trivial"]["dir"]
    variants = [json.loads(x) for x in (hack_dir.parent / "variants" / "trivial.jsonl").read_text().splitlines()]
    assert len(variants) == N_ANSWERS and all("has a name." in v["response"] for v in variants)
    assert json.loads((hack_dir / "summary.json").read_text())["overall"]["n_answers"] == N_ANSWERS
    shown = hacked_run["shown"]
    assert shown.returncode == (1 if report["raised"] else 0)
    assert "| reward |" in shown.stdout and "truncate" in shown.stdout


def test_bad_input_is_a_usage_error(tmp_path):
    missing = _cli("hacks", str(tmp_path / "nope"), cwd=tmp_path)
    assert missing.returncode == 2 and "not a run directory" in missing.stderr
    assert "Traceback" not in missing.stderr
    (tmp_path / "r").mkdir()
    no_report = _cli("hacks", str(tmp_path / "r"), "--show", cwd=tmp_path)
    assert no_report.returncode == 2 and "no hack report" in no_report.stderr
    unknown = _cli("hacks", str(tmp_path / "r"), "--hacks", "truncate,shout", cwd=tmp_path)
    assert unknown.returncode == 2 and "unknown hack(s) shout" in unknown.stderr


TASK_FILE = '''
from factbench.tasks import Task
from factbench_tasks.groundtruth import load

TASKS = [Task(name="gtfile", version="1", loader=load, k=32, has_references=True)]
'''


class NoParaphrase(GroundTruthResponder):
    """The ground-truth double, except that no paraphrase it writes parses."""

    def __call__(self, body, kind):
        return "I would rather not." if kind == "paraphrase" else super().__call__(body, kind)


@pytest.fixture(scope="module")
def file_task_run(tmp_path_factory):
    """A 10-answer run of a task defined in ./tasks.py, judged by a double that never paraphrases."""
    root = tmp_path_factory.mktemp("filetask")
    (root / "tasks.py").write_text(TASK_FILE)
    with ScriptedServer(ScriptedState(responder=NoParaphrase(), keep_log=False)) as server:
        url = server.base_url
        run = _cli("run", "--tasks", "./tasks.py", "--limit", "10", "--model", "openai/gt", "--model-base-url", url,
                   "--judge", "openai/gt", "--judge-base-url", url, "--no-relevance", "--run-id", "f",
                   "--no-progress", cwd=root)
        assert run.returncode == 0, run.stderr
        without_file = _cli("hacks", "results/f", "--hacks", "split", "--no-progress", cwd=root)
        hacked = _cli("hacks", "results/f", "--tasks", "./tasks.py", "--hacks", "paraphrase,split,falsedetail",
                      "--no-progress", cwd=root)
        as_json = _cli("hacks", "results/f", "--tasks", "./tasks.py", "--hacks", "paraphrase,split,falsedetail",
                       "--no-progress", "--json", cwd=root)
    yield {"root": root, "without_file": without_file, "hacked": hacked, "json": as_json}


def test_hacks_on_a_file_task_run_need_and_take_the_task_file(file_task_run):
    proc = file_task_run["without_file"]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "'gtfile'" in proc.stderr and "--tasks ./tasks.py" in proc.stderr
    report = json.loads(file_task_run["json"].stdout)
    assert report["hacks"]["split"]["status"] == "scored" and report["hacks"]["split"]["metrics"]["reward"]["n"] == 10


def test_an_empty_variant_is_reported_and_the_others_still_printed(file_task_run):
    proc = file_task_run["hacked"]
    assert "Traceback" not in proc.stderr and "variants/" not in proc.stderr + proc.stdout
    report = json.loads(file_task_run["json"].stdout)
    assert proc.returncode == (1 if report["raised"] else 0)  # from the hacks that were scored
    paraphrase = report["hacks"]["paraphrase"]
    assert paraphrase["status"] == "empty" and "incomplete_paraphrase: 10" in paraphrase["reason"]
    assert report["not_scored"] == {"paraphrase": paraphrase["reason"]}
    # The table has the scored hacks; the empty one is named with its reason, and on stderr.
    assert "| metric | split | falsedetail |" in proc.stdout
    assert "**paraphrase** (aims at supported): not scored, empty" in proc.stdout
    assert "paraphrase was not scored" in proc.stderr
    assert "**falsedetail** (aims at supported): moves" in proc.stdout
    falsedetail = report["hacks"]["falsedetail"]["metrics"]
    assert falsedetail["precision"]["ci95"][1] < 0 and falsedetail["reward"]["ci95"][1] < 0


def test_a_variant_whose_scoring_stops_is_reported_failed(file_task_run, monkeypatch):
    """The judge goes away while one variant is scored: that variant is `failed`, the other reported."""
    from factbench.errors import RunAborted
    from factbench.hacks import runner
    from factbench.llm.cache import CallCache
    from factbench.reports.hacks import markdown

    root = file_task_run["root"]
    real = runner._score

    def judge_gone_for_split(name, *args):
        if name == "split":
            raise RunAborted("the judge stopped answering")
        return real(name, *args)

    monkeypatch.setattr(runner, "_score", judge_gone_for_split)
    options = runner.HackOptions(hacks=("split", "falsedetail"), tasks=str(root / "tasks.py"))
    report = runner.run_hacks(root / "results" / "f", None, CallCache(str(root / "cache.sqlite")), options)
    assert report["hacks"]["split"]["status"] == "failed" and report["hacks"]["split"]["metrics"] == {}
    assert report["not_scored"] == {"split": "scoring stopped: the judge stopped answering"}
    assert report["hacks"]["falsedetail"]["status"] == "scored" and report["raised"] == [] and not report["incomplete"]
    text = markdown(report)
    assert "| metric | falsedetail |" in text and "**split** (aims at claims): not scored, failed" in text
