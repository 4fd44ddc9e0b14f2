"""Third-party plugins: an evidence backend and a judge shipped by a tiny package, found through
their entry-point groups and used by a real run."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest
from conftest import install_plugin, role_args, write_longfact_fixture

from factbench.cli.main import main

PLUGIN = '''
import dataclasses

from factbench.evidence.backends import Backend
from factbench.judges.builtin import VERIFY_TERNARY
from factbench.judges.judge import Judge
from factbench.store.records import Passage

CLOSED = []


class ToyEvidence(Backend):
    def __init__(self, arg, k):
        self.name = f"toy:{arg}?k={k}"
        self.k = k

    async def retrieve(self, claims, prompt, task):
        return [[Passage(title="Toy", text=f"toy passage for: {c}")] for c in claims], []

    async def aclose(self):
        CLOSED.append(self.name)


def open_toy(arg, options, cache):
    return ToyEvidence(arg, int(options.get("k", 1)))


STRICT = Judge(name="verify-strict", role="verifier", mode="ternary", parse=VERIFY_TERNARY.parse,
               template=dataclasses.replace(VERIFY_TERNARY.template, version="2"),
               knowledge_template=VERIFY_TERNARY.knowledge_template, description="a stricter verifier")
'''


@pytest.fixture
def toy_plugin(tmp_path, monkeypatch):
    site = tmp_path / "site"
    install_plugin(site, "toy_fb_plugin", textwrap.dedent(PLUGIN),
                   "[factbench.evidence]\ntoy = toy_fb_plugin:open_toy\n\n[factbench.judges]\nstrict = toy_fb_plugin:STRICT\n")
    monkeypatch.syspath_prepend(str(site))
    yield
    sys.modules.pop("toy_fb_plugin", None)


def test_listed_with_their_origin(toy_plugin, capsys):
    assert main(["list", "evidence"]) == 0
    out = capsys.readouterr().out
    assert "toy" in out and "toy-fb-plugin 0.1 (toy_fb_plugin:open_toy)" in out and "corpus" in out
    assert main(["list", "judges", "--json"]) == 0
    judges = {j["name"]: j for j in json.loads(capsys.readouterr().out)}
    assert judges["verify-strict"]["role"] == "verifier"
    assert judges["verify-strict"]["from"].startswith("toy-fb-plugin 0.1")
    assert judges["claims"]["from"].startswith("factbench ")


def test_run_uses_a_third_party_backend_and_judge(toy_plugin, server, tmp_path):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=2)
    rc = main(["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(tmp_path),
               "--run-id", "p", "--evidence", "toy:shelf?k=1", "--judges", "verify-strict", "--no-relevance"]
              + role_args(server.base_url, evidence=None))
    assert rc == 0
    run = tmp_path / "p"
    evidence = [json.loads(x) for x in (run / "evidence.jsonl").read_text().splitlines()]
    assert evidence and all(e["backend"] == "toy:shelf?k=1" for e in evidence)
    assert all(p["text"].startswith("toy passage for: ") for e in evidence for p in e["passages"])
    verdicts = [json.loads(x) for x in (run / "verdicts.jsonl").read_text().splitlines()]
    assert all(v["verifier"].startswith("verify-ternary-evidence-v2+") for v in verdicts)
    assert any(label for v in verdicts for label in v["labels"])  # the server judged them: a real run
    spec = json.loads((run / "run.json").read_text())
    assert spec["tasks"]["longfact-objects"]["evidence"] == "toy:shelf?k=1"
    assert spec["settings"]["judges"] == ["verify-strict"]
    assert sys.modules["toy_fb_plugin"].CLOSED == ["toy:shelf?k=1"]  # the backend was closed at the end


def test_unknown_judge_or_backend_is_a_usage_error(server, tmp_path, capsys):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=1)
    base = ["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(tmp_path)]
    assert main(base + ["--judges", "no-such-judge"] + role_args(server.base_url)) == 2
    assert "unknown judge 'no-such-judge'" in capsys.readouterr().err
    assert main(base + ["--evidence", "nowhere:x"] + role_args(server.base_url, evidence=None)) == 2
    assert "unknown evidence backend 'nowhere:x'" in capsys.readouterr().err


def test_binary_verifier_chosen_by_name(server, tmp_path):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=1)
    assert main(["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(tmp_path),
                 "--run-id", "b", "--evidence", "none", "--judges", "verify-binary", "--no-relevance"]
                + role_args(server.base_url)) == 0
    spec = json.loads((tmp_path / "b" / "run.json").read_text())
    assert spec["identity"]["scoring"]["verify_mode"] == "binary"
    assert any(t.startswith("verify-binary-knowledge-v5+") for t in spec["identity"]["templates"].values())


def test_listed_when_the_metadata_backport_supplies_the_distribution(toy_plugin, capsys):
    """litellm imports the importlib_metadata backport, whose finder then supplies every distribution;
    its name and version raise on a dist-info without METADATA, and the directory must still name it."""
    pytest.importorskip("importlib_metadata")
    from importlib.metadata import entry_points
    dists = [ep.dist for ep in entry_points(group="factbench.evidence") if ep.name == "toy"]
    assert [type(d).__module__ for d in dists] == ["importlib_metadata"]
    assert main(["list", "evidence"]) == 0
    assert "toy-fb-plugin 0.1 (toy_fb_plugin:open_toy)" in capsys.readouterr().out
