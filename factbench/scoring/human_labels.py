"""Human-label replay: score pre-extracted, human-labelled claims (FActScore annotation format).

Each line: {"input", "output", "topic", "annotations": null | [sentence, ...]} where a sentence
has "is-relevant", "human-atomic-facts" ([{"text", "label": S|NS|IR}] or null) and
"model-atomic-facts". Conventions (those of the published human FActScore):
- `annotations: null` is an abstention (excluded from precision);
- S is supported; NS and IR (irrelevant) are not supported;
- a sentence without human facts (irrelevant sentence) contributes its model-extracted facts
  as not supported.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from factbench.scoring.metrics import AnswerScore, score_answer
from factbench.store.jsonl import InputFileError, read_jsonl
from factbench.store.records import Claim, ClaimsRecord, VerdictsRecord

if TYPE_CHECKING:
    from factbench.store.artefacts import RunSummary

HUMAN_LABELS = {"S": "supported", "NS": "unsupported", "IR": "unsupported"}


def labelled_records(path: str | Path) -> list[tuple[ClaimsRecord, VerdictsRecord | None]]:
    out: list[tuple[ClaimsRecord, VerdictsRecord | None]] = []
    for lineno, row in read_jsonl(path):
        where = f"{path}:{lineno}"
        sid = str(row.get("topic") or row.get("input") or lineno)
        anns = row.get("annotations")
        if anns is None:
            out.append((ClaimsRecord(task="labels", id=sid, abstained=True, sentences=[], claims=[],
                                     extractor="human"), None))
            continue
        if not isinstance(anns, list):
            raise InputFileError(f"{where}: 'annotations' must be a list or null")
        claims: list[Claim] = []
        labels: list[str | None] = []
        sentences: list[str] = []
        for si, sent in enumerate(anns):
            if not isinstance(sent, dict):
                raise InputFileError(f"{where}: sentence {si} is not an object")
            sentences.append(str(sent.get("text", "")))
            human = sent.get("human-atomic-facts")
            if human is None:
                for fact in sent.get("model-atomic-facts") or []:
                    claims.append(Claim(text=str(fact.get("text", "")), sentence=si))
                    labels.append("unsupported")
                continue
            for fact in human:
                label = HUMAN_LABELS.get(str(fact.get("label"))) if isinstance(fact, dict) else None
                if label is None:
                    raise InputFileError(f"{where}: sentence {si}: fact label must be S, NS or IR, got {fact!r:.60}")
                claims.append(Claim(text=str(fact.get("text", "")), sentence=si))
                labels.append(label)
        rec = ClaimsRecord(task="labels", id=sid, abstained=False, sentences=sentences, claims=claims,
                           extractor="human")
        out.append((rec, VerdictsRecord(task="labels", id=sid, labels=labels, errors=[None] * len(labels),
                                        verifier="human", evidence_backend="human")))
    return out


def replay(path: str | Path, k: int = 32) -> list[AnswerScore]:
    return [score_answer(c, v, None, k) for c, v in labelled_records(path)]


def write_replay_run(labels_path: str | Path, run_dir: str | Path, task: str = "bio", k: int = 32,
                     model: str | None = None, seed: int = 0) -> RunSummary:
    """A run directory for a human-label replay (run.json, summary.json, scores.jsonl): a
    human-judged row for the leaderboard. Claim texts are not copied; the source file is named."""
    import datetime as dt
    import hashlib

    from factbench import __version__
    from factbench.hashing import sha256_hex
    from factbench.scoring.metrics import aggregate, as_rows
    from factbench.store.artefacts import RunSpec, RunSummary
    from factbench.store.run_dir import RunStore

    labels_path = Path(labels_path)
    scores = replay(labels_path, k)
    for s in scores:
        s.task = task
    agg = aggregate(scores, seed)
    judge = {"roles": {"verifier": {"model": "human annotators"}}, "templates": {}, "scoring": {"labels": "S/NS/IR"}}
    agg.update({"n_prompts": len(scores), "n_no_answer": 0, "k": k, "version": "human-labels",
                "evidence": "human annotators", "evidence_chosen_by": "human annotators", "judge": judge,
                "judge_sha": sha256_hex(judge, 16)})
    digest = hashlib.sha256(labels_path.read_bytes()).hexdigest()[:16]
    model = model or labels_path.stem
    run_id = Path(run_dir).name
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    spec = RunSpec.model_validate({
        "run_id": run_id, "factbench_version": __version__, "kind": "human-label-replay",
        "label": "human-judged (FActScore annotation replay)",
        "identity": {"answers": f"labels:{labels_path.name}@{digest}",
                     "judges": {"verifier": {"model": "human annotators", "endpoints": [], "params": {}}},
                     "tasks": {task: {"name": task, "version": "human-labels", "k": k, "evidence": "human annotators"}}},
        "roles": {"model": {"model": model, "endpoints": []},
                  "verifier": {"model": "human annotators", "endpoints": []}},
        "tasks": {task: {"name": task, "version": "human-labels", "k": k, "evidence": "human annotators",
                         "n_prompts": len(scores), "prompt_ids": [s.id for s in scores]}},
        "source": {"file": labels_path.name, "sha256_16": digest,
                   "conventions": "S supported; NS, IR and facts of irrelevant sentences unsupported; null = abstention"},
        "started_at": now, "finished_at": now,
    })
    summary = RunSummary.model_validate({"run_id": run_id, "factbench_version": __version__, "wall_seconds": 0.0,
               "tasks": {task: agg}, "overall": agg,
               "errors": {"failed_samples": 0, "failed_sample_rate": 0.0, "stage_failures": {},
                          "extraction_parse_errors": {}, "verification_parse_errors": {}},
               "calls": {}, "cache": {"hits": 0, "calls": 0}, "notes": []})
    store = RunStore(run_dir)
    store.dir.mkdir(parents=True, exist_ok=True)
    store.write_spec(spec)
    store.write_summary(summary)
    store.write_scores(as_rows(scores))
    return summary
