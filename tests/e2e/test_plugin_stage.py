"""A plug-in package adds a stage with its own judge role and its own option: two files (a module
and its dist-info's entry_points.txt), nothing in factbench. It is listed, its role's and its
option's flags exist, a run and the Scorer execute it, a changed model for its role (or a changed
option) refuses a resume, the summary counts its failures, and a repaired run directory redoes its
records like a built-in stage's."""

from __future__ import annotations

import json
import sys

import pytest
from conftest import install_plugin, role_args, write_longfact_fixture

from factbench.cli.main import build_parser, main
from factbench.pipeline.options import UsageError
from factbench.testing.scripted_server import Fault, system_and_user

HEDGE_SYSTEM = "You count hedged sentences (perhaps, maybe) in a response."

PLUGIN = f'''
from pydantic import BaseModel, Field

from factbench.judges.judge import Judge
from factbench.judges.parsing import ParseError
from factbench.judges.templates import JudgeTemplate, quote
from factbench.stages.base import JudgeRole, Stage, StageError
from factbench.stages.claims import ClaimsStage
from factbench.stages.generate import AnswerStage
from factbench.store.records import Record


class HedgesRecord(Record):
    hedged: int
    words: list[str]
    judge: str


class HedgesOptions(BaseModel):
    hedge_words: str = Field(default="perhaps,maybe", description="comma-separated words that mark a hedge")


def parse_hedges(text, words=("perhaps", "maybe")):
    found = text.split()
    if not found or found[0] in ("???", "garbage"):
        raise ParseError("no_count")
    return sum(1 for w in found if w.lower().strip(".,") in words)


def parses(judge, text):
    try:
        judge.parse(text)
    except ParseError:
        return False
    return True


TEMPLATE = JudgeTemplate(name="hedge-count", version="1", system={HEDGE_SYSTEM!r}, schema={{}})
JUDGE = Judge(name="hedge-count", role="hedging", template=TEMPLATE, parse=parse_hedges,
              description="counts hedged sentences")
HEDGING = JudgeRole("hedging", "hedging-judge", "the judge that counts hedges", JUDGE.name)


class HedgesStage(Stage):
    name = "hedges"
    record_type = HedgesRecord
    order = 55
    reads = (AnswerStage, ClaimsStage)
    roles = (HEDGING,)
    options = HedgesOptions
    role = "hedging"

    async def produce(self, ctx, sample):
        judge = ctx.judges["hedging"]
        messages = [{{"role": "system", "content": judge.template.system}},
                    {{"role": "user", "content": quote("answer", sample.need(AnswerStage).answer)}}]
        completion = await ctx.clients["hedging"].complete(messages, template=judge.id,
                                                           accept=lambda c: parses(judge, c.text))
        words = tuple(ctx.options[self.name].hedge_words.split(","))
        try:
            hedged = parse_hedges(completion.text, words)
        except ParseError as exc:
            raise StageError(exc.kind, completion.text[:80]) from exc
        return HedgesRecord(task=sample.task.name, id=sample.prompt.id, hedged=hedged, words=list(words),
                            judge=judge.id)


STAGE = HedgesStage()
'''


@pytest.fixture
def hedge_plugin(tmp_path, monkeypatch):
    site = tmp_path / "site"
    files = install_plugin(site, "hedge_plugin", PLUGIN, "[factbench.stages]\nhedges = hedge_plugin:STAGE\n\n"
                                                         "[factbench.judges]\nhedge-count = hedge_plugin:JUDGE\n")
    assert [str(f.relative_to(site)) for f in files] == ["hedge_plugin-0.1.dist-info/entry_points.txt",
                                                         "hedge_plugin.py"]
    monkeypatch.syspath_prepend(str(site))
    yield
    sys.modules.pop("hedge_plugin", None)


def _hedge_requests(server) -> list[dict]:
    return [b for b in server.state.log if system_and_user(b)[0] == HEDGE_SYSTEM]


def test_listed_and_its_flags_exist(hedge_plugin, capsys):
    assert main(["list", "stages", "--json"]) == 0
    stages = json.loads(capsys.readouterr().out)
    assert [s["name"] for s in stages] == ["answers", "claims", "evidence", "verdicts", "informativeness", "hedges",
                                           "relevance"]
    hedges = stages[5]
    assert hedges["roles"] == ["hedging"] and hedges["flags"] == ["--hedging-judge", "--hedge-words"]
    assert hedges["options"] == {"hedge_words": "perhaps,maybe"}
    assert hedges["from"].startswith("hedge-plugin 0.1 (hedge_plugin:STAGE)")
    args = build_parser().parse_args(["run", "--hedging-judge", "openai/h", "--hedging-judge-base-url", "http://h/v1",
                                      "--hedging-judge-concurrency", "3", "--judge", "openai/j", "--model", "openai/m"])
    from factbench.cli.options import options_from

    roles = options_from(args).role_specs(True)
    assert roles["hedging"].model == "openai/h" and roles["hedging"].base_urls == ("http://h/v1",)
    assert roles["hedging"].max_concurrency == 3 and roles["verifier"].model == "openai/j"
    assert "--hedge-words VALUE" in build_parser()._subparsers._group_actions[0].choices["run"].format_help()
    args = build_parser().parse_args(["run", "--hedge-words", "probably", "--judge", "openai/j", "--model", "openai/m"])
    assert options_from(args).settings("r").stage_options == {"hedges": {"hedge_words": "probably"}}


def test_a_run_executes_it_and_a_changed_model_refuses_the_resume(hedge_plugin, server, tmp_path, capsys):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=3)
    base = ["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(tmp_path),
            "--run-id", "h", "--no-relevance", "--fail-on-error", "1", "--hedging-judge-base-url", server.base_url] + role_args(server.base_url)
    # The first answer's hedge count does not parse: a counted failure of the plug-in stage.
    server.state.faults = [Fault("text:??? no idea", when=lambda b: system_and_user(b)[0] == HEDGE_SYSTEM)]
    assert main(base + ["--hedging-judge", "openai/hedger", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    run = tmp_path / "h"
    records = [json.loads(x) for x in (run / "hedges.jsonl").read_text().splitlines()]
    assert len(records) == 2 and all(r["judge"].startswith("hedge-count-v1+") for r in records)
    assert len(_hedge_requests(server)) == 3 and all(b["model"] == "hedger" for b in _hedge_requests(server))
    assert summary["errors"]["stage_failures"] == {"hedges": {"no_count": 1}}
    spec = json.loads((run / "run.json").read_text())
    assert spec["identity"]["judges"]["hedging"]["model"] == "openai/hedger"
    assert spec["identity"]["templates"]["hedge-count"].startswith("hedge-count-v1+")
    # Resuming with the same model retries the failed answer only.
    assert main(base + ["--hedging-judge", "openai/hedger", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["errors"]["stage_failures"] == {}
    assert len(_hedge_requests(server)) == 4
    # Another model for the new role is a different run, exactly like another --verifier.
    assert main(base + ["--hedging-judge", "openai/other"]) == 2
    assert "judges.hedging.model: 'openai/hedger' -> 'openai/other'" in capsys.readouterr().err
    # So is another value of its option, exactly like another --claims-per-call.
    assert main(base + ["--hedging-judge", "openai/hedger", "--hedge-words", "probably"]) == 2
    assert "scoring.stage_options" in capsys.readouterr().err


def test_its_option_reaches_the_stage_and_its_file_is_repaired_like_a_built_in(hedge_plugin, server, tmp_path, capsys):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=2)
    base = ["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(tmp_path),
            "--run-id", "o", "--no-relevance", "--no-cache", "--hedge-words", "probably,likely"] + role_args(server.base_url)
    assert main(base) == 0
    run = tmp_path / "o"
    records = [json.loads(x) for x in (run / "hedges.jsonl").read_text().splitlines()]
    assert len(records) == 2 and all(r["words"] == ["probably", "likely"] for r in records)
    spec = json.loads((run / "run.json").read_text())
    assert spec["identity"]["scoring"]["stage_options"] == {"hedges": {"hedge_words": "probably,likely"}}
    # An answer line damaged on disk: its hedges record was built on it, so it is moved aside and redone.
    answers = (run / "answers.jsonl").read_text().splitlines()
    (run / "answers.jsonl").write_text("garbage\n" + "\n".join(answers[1:]) + "\n")
    before = len(_hedge_requests(server))
    assert main(base) == 0
    assert "built on a answers record that was moved aside" in capsys.readouterr().err
    assert (run / "hedges.jsonl.corrupt").exists() and len(_hedge_requests(server)) == before + 1
    assert len((run / "hedges.jsonl").read_text().splitlines()) == 2


def test_the_scorer_executes_it_and_a_failure_masks_the_answer(hedge_plugin, server):
    from factbench import Scorer

    server.state.faults = [Fault("text:garbage", when=lambda b: system_and_user(b)[0] == HEDGE_SYSTEM)]
    with pytest.raises(UsageError, match="unknown option 'hedge_word' \\(did you mean 'hedge_words'"):
        Scorer(judge="openai/judge", judge_base_url=server.base_url, hedge_word="x", preflight=False)
    with Scorer(judge="openai/judge", judge_base_url=server.base_url, use_cache=False, hedge_words="perhaps",
                hedging_judge="openai/hedger", hedging_judge_base_url=server.base_url) as scorer:
        assert scorer.identity["judges"]["hedging"]["model"] == "openai/hedger"
        assert scorer.identity["scoring"]["stage_options"] == {"hedges": {"hedge_words": "perhaps"}}
        first, second = scorer.score_sync(["Who was Ada Lovelace?"] * 2,
                                          ["Ada Lovelace was a mathematician. She was born in 1815.",
                                           "Ada Lovelace wrote notes. Perhaps she was born in London."])
    assert len(_hedge_requests(server)) == 2
    masked, scored = (first, second) if first.masked else (second, first)
    assert masked.reward is None and masked.errors == ["hedges:no_count"]
    assert scored.reward is not None and not scored.masked
