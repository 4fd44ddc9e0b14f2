import asyncio
import json

import pytest
from conftest import role_args, write_longfact_fixture

from factbench.cli import main
from factbench.corpus import PassageStore
from factbench.evidence import EvidenceUnavailable, open_backend, retrieve_evidence
from factbench.records import Passage
from factbench.tasks import Prompt
from factbench.verify import pool_evidence


def _corpus(tmp_path):
    docs = [(f"Object {t}-{i}", [f"Object {t}-{i} is documented in source {i} of the archive and in the museum."])
            for t in range(2) for i in range(3)]
    path = tmp_path / "corpus.db"
    PassageStore.build(path, docs)
    return path


def test_backend_specs(tmp_path, monkeypatch):
    assert open_backend("none", None).name == "none"
    with pytest.raises(EvidenceUnavailable, match="SERPER_API_KEY"):
        open_backend("serper", None)
    with pytest.raises(EvidenceUnavailable, match="not set"):
        open_backend("corpus:$NO_SUCH_VAR#topic", None)
    with pytest.raises(EvidenceUnavailable, match="not found"):
        open_backend(f"corpus:{tmp_path}/missing.db", None)
    monkeypatch.setenv("WIKI_DB", str(_corpus(tmp_path)))
    backend = open_backend("corpus:$WIKI_DB#topic?k=2", None)
    assert backend.name == "corpus:corpus.db#topic?k=2"


def test_evidence_record_deduplicates_passages(tmp_path):
    backend = open_backend(f"corpus:{_corpus(tmp_path)}?k=3", None)
    rec = asyncio.run(retrieve_evidence(backend, "t", Prompt(id="p", text="q"),
                                        ["Object 0-1 is in the archive.", "Object 0-1 is in the museum."]))
    assert len(rec.per_claim) == 2
    assert rec.per_claim[0][0] == rec.per_claim[1][0]  # the same best passage stored once
    assert len(rec.passages) == len({p.text for p in rec.passages})


def test_pooling_gives_every_claim_its_best_passage_first():
    passages = [Passage(text="x" * 400, title=str(i)) for i in range(6)]
    pooled = pool_evidence([[0, 1, 2], [3, 4, 5]], passages, budget_tokens=250)
    assert [t for t, _ in pooled] == ["0", "3"]  # 101 tokens each: both top passages, no third


def test_run_with_corpus_evidence_puts_passages_in_the_judge_prompt(tmp_path, server):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=2)
    corpus = _corpus(tmp_path)
    rc = main(["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(tmp_path),
               "--run-id", "c", "--evidence", f"corpus:{corpus}"] + role_args(server.base_url))
    assert rc == 0
    ev = [json.loads(x) for x in (tmp_path / "c" / "evidence.jsonl").read_text().splitlines()]
    assert all(r["backend"] == "corpus:corpus.db?k=5" and r["passages"] for r in ev)
    verify_prompts = [b["messages"][1]["content"] for b in server.state.log
                      if b["messages"][0]["content"].startswith("You check claims")]
    assert verify_prompts and all("<passages>" in p and "archive" in p for p in verify_prompts)
    spec = json.loads((tmp_path / "c" / "run.json").read_text())
    assert "verify-ternary-evidence" in spec["identity"]["templates"]

    # Re-scoring from the snapshot needs neither the corpus nor the network, and agrees.
    corpus.unlink()
    rc = main(["score", str(tmp_path / "c"), "--evidence", f"snapshot:{tmp_path / 'c'}", "--judge", "openai/judge",
               "--judge-base-url", server.base_url, "--data-dir", str(data), "--results-dir", str(tmp_path),
               "--run-id", "snap", "--no-progress"])
    assert rc == 0
    a = [json.loads(x)["labels"] for x in (tmp_path / "c" / "verdicts.jsonl").read_text().splitlines()]
    b = [json.loads(x)["labels"] for x in (tmp_path / "snap" / "verdicts.jsonl").read_text().splitlines()]
    assert sorted(a) == sorted(b)
    snap_ev = [json.loads(x) for x in (tmp_path / "snap" / "evidence.jsonl").read_text().splitlines()]
    assert all(r["backend"].startswith("snapshot:c(corpus:corpus.db") and not r["errors"] for r in snap_ev)


def test_knowledge_only_verification_is_marked(tmp_path, server):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=1)
    assert main(["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(tmp_path),
                 "--run-id", "k", "--evidence", "none"] + role_args(server.base_url)) == 0
    verdict = json.loads((tmp_path / "k" / "verdicts.jsonl").read_text().splitlines()[0])
    assert verdict["evidence_backend"] == "none" and "knowledge" in verdict["verifier"]
    summary = json.loads((tmp_path / "k" / "summary.json").read_text())
    assert summary["tasks"]["longfact-objects"]["evidence"] == "none"
