"""Flat tables of a run: one row per claim, or one row per answer (pandas), and their export.

    factbench export RUN_DIR --format parquet|jsonl|csv --out FILE [--level claim|answer]
    factbench.load_run(path) -> RunTables(claims, answers, summary, spec)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from factbench.reports.run_data import RunData, load_run_data
from factbench.store.artefacts import RunSpec, RunSummary

if TYPE_CHECKING:
    import pandas as pd

CLAIM_COLUMNS = ["run_id", "task", "id", "claim_idx", "sentence_idx", "sentence", "claim", "occurrences", "label",
                 "judge_error", "informativeness", "informativeness_error", "evidence_ids", "evidence_titles",
                 "evidence_sources", "evidence_backend", "verifier_template", "extractor_template"]
ANSWER_COLUMNS = ["run_id", "task", "id", "prompt", "answer", "abstained", "n_sentences", "claims", "supported",
                  "unsupported", "unverifiable", "judge_errors", "extraction_errors", "precision",
                  "hallucination_rate", "f1_at_k", "factscore", "relevance", "reward", "weighted_precision",
                  "weighted_supported", "on_topic", "merged_precision", "merged_detail", "informativeness_errors", "ungrounded",
                  "status", "unscored", "incomplete", "usage",
                  "cost_usd", "stage_error", "finish_reason"]  # every scores.jsonl field (docs/run-files.md) and more
JSON_COLUMNS = ("usage",)  # per-role dicts: JSON text in parquet and CSV files
LIST_COLUMNS = ("evidence_ids", "evidence_titles", "evidence_sources")
FORMATS = ("parquet", "jsonl", "csv")


@dataclass
class RunTables:
    claims: pd.DataFrame  # one row per claim (CLAIM_COLUMNS)
    answers: pd.DataFrame  # one row per answer (ANSWER_COLUMNS)
    summary: RunSummary  # summary.json
    spec: RunSpec  # run.json


def _claim_error(data: RunData, key: str, i: int) -> str | None:
    v = data.verdicts.get(key)
    if v is None:
        return data.failures.get(key, {}).get("verdicts") or data.failures.get(key, {}).get("evidence") or "not_verified"
    label = v.labels[i] if i < len(v.labels) else None
    err = v.errors[i] if i < len(v.errors) else None
    return err or (None if label else "missing_label")


def claim_rows(data: RunData) -> list[dict[str, Any]]:
    rows = []
    for key, c in data.claims.items():
        v, ev, w = data.verdicts.get(key), data.evidence.get(key), data.informativeness.get(key)
        for i, claim in enumerate(c.claims):
            ids = ev.per_claim[i] if ev is not None and i < len(ev.per_claim) else []
            passages = [ev.passages[j] for j in ids if j < len(ev.passages)] if ev is not None else []
            rows.append({
                "run_id": data.run_id, "task": c.task, "id": c.id, "claim_idx": i, "sentence_idx": claim.sentence,
                "sentence": c.sentences[claim.sentence] if 0 <= claim.sentence < len(c.sentences) else None,
                "claim": claim.text, "occurrences": claim.occurrences,
                "label": v.labels[i] if v is not None and i < len(v.labels) else None,
                "judge_error": _claim_error(data, key, i),
                "informativeness": w.classes[i] if w is not None and i < len(w.classes) else None,
                "informativeness_error": w.errors[i] if w is not None and i < len(w.errors) else None,
                "evidence_ids": list(ids), "evidence_titles": [p.title for p in passages],
                "evidence_sources": [p.source for p in passages],
                "evidence_backend": v.evidence_backend if v is not None else (ev.backend if ev is not None else None),
                "verifier_template": v.verifier if v is not None else None, "extractor_template": c.extractor,
            })
    return rows


def answer_rows(data: RunData) -> list[dict[str, Any]]:
    rows = []
    for key in data.keys():
        a, c, s = data.answers.get(key), data.claims.get(key), data.scores.get(key, {})
        task, sid = key.split("\x1f", 1)
        fails = data.failures.get(key, {})
        row = {"run_id": data.run_id, "task": task, "id": sid, "prompt": a.prompt if a else None,
               "answer": a.answer if a else None,
               "abstained": c.abstained if c else s.get("abstained"),
               "n_sentences": len(c.sentences) if c else None,
               "stage_error": "; ".join(f"{st}:{k}" for st, k in fails.items()) or None,
               "finish_reason": a.finish_reason if a else None}
        for col in ANSWER_COLUMNS:
            if col not in row:
                row[col] = s.get(col)
        rows.append(row)
    return rows


def frames(data: RunData) -> tuple[pd.DataFrame, pd.DataFrame]:
    import pandas as pd  # imported when a table is asked for: `import factbench` stays fast

    return (pd.DataFrame(claim_rows(data), columns=CLAIM_COLUMNS),
            pd.DataFrame(answer_rows(data), columns=ANSWER_COLUMNS))


def load_run(path: str | Path) -> RunTables:
    """A run directory as pandas tables (claims, answers) plus its summary.json and run.json."""
    data = load_run_data(path)
    claims, answers = frames(data)
    return RunTables(claims=claims, answers=answers, summary=data.summary, spec=data.spec)


class ExportError(Exception):
    pass


def export(run_dir: str | Path, out: str | Path, fmt: str = "parquet", level: str = "claim") -> int:
    """Write one flat table of the run to `out`; returns the number of rows."""
    if fmt not in FORMATS:
        raise ExportError(f"--format must be one of {', '.join(FORMATS)}")
    if level not in ("claim", "answer"):
        raise ExportError("--level must be claim or answer")
    data = load_run_data(run_dir)
    if level == "claim" and not data.has_claims and data.scores:
        raise ExportError(f"{run_dir} stores per-answer scores only (no claims.jsonl records); use --level answer")
    claims, answers = frames(data)
    table = claims if level == "claim" else answers
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    if fmt == "parquet":
        _json_text(table).to_parquet(tmp, index=False)
    elif fmt == "jsonl":
        with tmp.open("w", encoding="utf-8") as fh:
            for rec in table.to_dict(orient="records"):
                fh.write(json.dumps(_plain(rec), ensure_ascii=False) + "\n")
    else:
        _csv(table).to_csv(tmp, index=False)
    tmp.replace(out)
    return len(table)


def _json_text(table: pd.DataFrame) -> pd.DataFrame:
    out = table.copy()
    for col in JSON_COLUMNS:
        if col in out.columns:
            out[col] = out[col].map(lambda v: None if v is None else json.dumps(v, sort_keys=True))
    return out


def _plain(rec: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in rec.items()}  # NaN -> null


def _csv(table: pd.DataFrame) -> pd.DataFrame:
    """Lists as JSON text; text a spreadsheet would run as a formula gets a leading apostrophe."""
    from factbench.reports.lb_tables import spreadsheet_safe

    out = table.copy()
    for col in out.columns:
        if col in LIST_COLUMNS:
            out[col] = out[col].map(lambda v: json.dumps(list(v), ensure_ascii=False))
        elif col in JSON_COLUMNS:
            out[col] = out[col].map(lambda v: "" if v is None else json.dumps(v, sort_keys=True))
        else:
            out[col] = out[col].map(spreadsheet_safe).astype(object)
    return out
