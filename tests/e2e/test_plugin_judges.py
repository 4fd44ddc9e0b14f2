"""A plug-in judge owns its prompt for every role: the text of its template (and its own message
layout, where it has one) is what reaches the server, and its id is what the records carry."""

from __future__ import annotations

import json
import sys

import pytest
from conftest import install_plugin, role_args, write_longfact_fixture

from factbench.cli.main import main
from factbench.testing.scripted_server import request_kind, system_and_user

PLUGIN = '''
import dataclasses

from factbench.judges.builtin import CLAIMS, RELEVANCE_PAIRWISE, VERIFY_TERNARY
from factbench.judges.informativeness import INFORMATIVENESS_JUDGE
from factbench.judges.judge import Judge
from factbench.judges.templates import relevance_messages


def noted(template, role):
    return dataclasses.replace(template, name=f"x-{template.name}", system=template.system + f"\\n\\n[{role} plug-in]")


def own_layout(question, a, b, template):
    messages = relevance_messages(question, a, b, template)
    messages[-1] = {**messages[-1], "content": messages[-1]["content"] + "\\n(plug-in layout)"}
    return messages


def variant(judge, role, **extra):
    knowledge = noted(judge.knowledge_template, role) if judge.knowledge_template else None
    return dataclasses.replace(judge, name=f"x-{judge.name}", template=noted(judge.template, role),
                               knowledge_template=knowledge, **extra)


JUDGES = [variant(CLAIMS, "extractor"), variant(VERIFY_TERNARY, "verifier"),
          variant(INFORMATIVENESS_JUDGE, "informativeness"),
          variant(RELEVANCE_PAIRWISE, "relevance", messages=own_layout, parser_version="2")]
'''


@pytest.fixture
def judge_plugin(tmp_path, monkeypatch):
    site = tmp_path / "site"
    install_plugin(site, "x_judges", PLUGIN, "[factbench.judges]\nx = x_judges:JUDGES\n")
    monkeypatch.syspath_prepend(str(site))
    yield
    sys.modules.pop("x_judges", None)


def test_each_roles_plugin_text_reaches_the_server(judge_plugin, server, tmp_path):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=2)
    names = "x-claims,x-verify-ternary,x-informativeness,x-relevance-pairwise"
    assert main(["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(tmp_path),
                 "--run-id", "x", "--judges", names, "--reference-model", "openai/ref",
                 "--reference-model-base-url", server.base_url] + role_args(server.base_url)) == 0
    plugin = sys.modules["x_judges"]
    knowledge = {j.role: (j.knowledge_template or j.template) for j in plugin.JUDGES}  # --evidence none
    expected = {"extract": knowledge["extractor"].system, "verify": knowledge["verifier"].system,
                "informativeness": knowledge["informativeness"].system, "relevance": knowledge["relevance"].system}
    seen: dict[str, set[str]] = {}
    for body in server.state.log:
        kind = request_kind(body)
        if kind in expected:
            seen.setdefault(kind, set()).add(system_and_user(body)[0])
    assert seen == {kind: {text} for kind, text in expected.items()}  # every call, every role: the plug-in's text
    # The reference model answers like the model under test here: both orders are one call, then a cache hit.
    relevance_users = [system_and_user(b)[1] for b in server.state.log if request_kind(b) == "relevance"]
    assert len(relevance_users) == 2 and all(u.endswith("(plug-in layout)") for u in relevance_users)
    run = tmp_path / "x"

    def first(stage: str) -> dict:
        return json.loads((run / f"{stage}.jsonl").read_text().splitlines()[0])

    assert first("claims")["extractor"] == knowledge["extractor"].id
    assert first("verdicts")["verifier"] == knowledge["verifier"].id
    assert first("informativeness")["judge"] == knowledge["informativeness"].id
    templates = json.loads((run / "run.json").read_text())["identity"]["templates"]
    assert templates["x-relevance"] == knowledge["relevance"].id + "+parser2"  # the parser version is identity
    assert json.loads((run / "run.json").read_text())["identity"]["judge_names"]["relevance"] == "x-relevance-pairwise"
