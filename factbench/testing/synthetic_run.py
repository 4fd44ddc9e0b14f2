"""Synthetic run directories for tests and benchmarks of the reports (export, viewer, diff,
leaderboard): real records written through the real run store and scored by the real
metrics, without any model. Labels follow a seeded pattern; nothing here is a measurement."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

from factbench import __version__
from factbench.scoring.metrics import aggregate, as_rows, score_answer
from factbench.store.records import AnswerRecord, Claim, ClaimsRecord, EvidenceRecord, Passage, VerdictsRecord
from factbench.store.run_dir import RunStore

VERIFIER = "verify-ternary-evidence-v1+synthetic"
EXTRACTOR = "claims-v1+synthetic"


def write_synthetic_run(run_dir: str | Path, n_answers: int, claims_per_answer: int = 8, seed: int = 0,
                        tasks: tuple[str, ...] = ("longfact-objects", "bio"), model: str = "synthetic/model",
                        label: str = "", judge: str = "openai/judge", evidence: str = "corpus:wiki.db",
                        p_unsupported: float = 0.15, p_unverifiable: float = 0.05, p_no_verdict: float = 0.02,
                        hostile: str | None = None, extra_spec: dict[str, Any] | None = None) -> Path:
    """Write a finished run of `n_answers` answers (spread over `tasks`) into `run_dir`."""
    rng = random.Random(seed)
    run_dir = Path(run_dir)
    claims_by_task: dict[str, list] = {t: [] for t in tasks}
    k = 32
    lines: dict[str, list[str]] = {stage: [] for stage in ("answers", "claims", "evidence", "verdicts", "relevance", "errors")}
    add = lambda stage, rec: lines[stage].append(rec.model_dump_json())  # noqa: E731
    run_dir.mkdir(parents=True, exist_ok=True)
    store = RunStore(run_dir)
    # one write per stage file (no per-record fsync): fast enough for 10,000 answers
    for n in range(n_answers):
        task = tasks[n % len(tasks)]
        sid = f"p{n:05d}"
        sentences = [f"Subject {n} has property {i} recorded in archive {i * 7 + n % 13}." for i in range(claims_per_answer)]
        if hostile and n == 0:
            sentences[0] = f"Subject 0 is called {hostile}."
        answer = " ".join(sentences)
        add("answers", AnswerRecord(task=task, id=sid, prompt_sha="0" * 16, prompt=f"Tell me about subject {n}.",
                                             answer=answer, source="synthetic", finish_reason="stop"))
        claims = [Claim(text=s.rstrip("."), sentence=i) for i, s in enumerate(sentences)]
        crec = ClaimsRecord(task=task, id=sid, abstained=False, sentences=sentences, claims=claims, extractor=EXTRACTOR,
                            raw=[json.dumps({"sentences": [{"id": i + 1, "claims": [c.text]} for i, c in enumerate(claims)]})])
        add("claims", crec)
        passages = [Passage(text=f"Archive {j} of subject {n}: " + "recorded facts and dates. " * 12, title=f"Subject {n} ({j})",
                            source=f"wiki:{n}-{j}", score=1.0 / (j + 1)) for j in range(4)]
        add("evidence", EvidenceRecord(task=task, id=sid, backend=evidence, passages=passages,
                                                per_claim=[[i % 4, (i + 1) % 4] for i in range(len(claims))]))
        labels: list[str | None] = []
        errors: list[str | None] = []
        for _ in claims:
            x = rng.random()
            if x < p_no_verdict:
                labels.append(None)
                errors.append("missing_label")
            else:
                labels.append("unsupported" if x < p_no_verdict + p_unsupported else
                              "unverifiable" if x < p_no_verdict + p_unsupported + p_unverifiable else "supported")
                errors.append(None)
        raw = json.dumps({"verdicts": [{"id": i + 1, "label": lab} for i, lab in enumerate(labels) if lab]})
        vrec = VerdictsRecord(task=task, id=sid, labels=labels, errors=errors, verifier=VERIFIER,
                              evidence_backend=evidence, raw=[raw])
        add("verdicts", vrec)
        claims_by_task[task].append(score_answer(crec, vrec, None, k))
    for stage, rows in lines.items():
        store.path(stage).write_text("".join(r + "\n" for r in rows), encoding="utf-8")
    scores = [s for t in tasks for s in claims_by_task[t]]
    store.write_scores(as_rows(scores))
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    judge_id = {"model": judge, "endpoints": ["http://127.0.0.1:9/v1"], "params": {"temperature": 0.0}}
    task_specs = {t: {"name": t, "version": "1", "k": k, "evidence": evidence,
                      "n_prompts": len(claims_by_task[t])} for t in tasks}
    spec = {"run_id": run_dir.name, "label": label, "factbench_version": __version__,
            "identity": {"answers": "synthetic", "judges": {"extractor": judge_id, "verifier": judge_id},
                         "templates": {"claims": EXTRACTOR, "verify": VERIFIER}, "tasks": task_specs,
                         "scoring": {"verify_mode": "ternary"}},
            "roles": {"model": {"model": model, "endpoints": []}, "verifier": judge_id},
            "settings": {"reward_lambda": 0.1, "reward_mu": 1.0}, "tasks": task_specs,
            "started_at": now, "finished_at": now, **(extra_spec or {})}
    per_task = {t: {**aggregate(claims_by_task[t], seed), "version": "1", "evidence": evidence, "k": k,
                    "n_prompts": len(claims_by_task[t])} for t in tasks}
    summary = {"schema_version": 1, "run_id": run_dir.name, "factbench_version": __version__, "tasks": per_task,
               "overall": aggregate(scores, seed), "errors": {"failed_samples": 0}}
    store.write_json("run.json", spec)
    store.write_json("summary.json", summary)
    return run_dir
