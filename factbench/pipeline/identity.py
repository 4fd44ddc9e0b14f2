"""A run's identity: everything that changes its scores. A resume with another identity is refused."""

from __future__ import annotations

from typing import Any

from factbench.hashing import sha256_hex
from factbench.judges.judge import Judge
from factbench.llm.client import RoleSpec
from factbench.pipeline.plan import Plan
from factbench.pipeline.settings import RunSettings


def run_identity(settings: RunSettings, roles: dict[str, RoleSpec], plan: Plan, source: str,
                 judges: dict[str, Judge]) -> dict[str, Any]:
    """Everything that changes scores. A resume with a different identity is refused."""
    models = {}
    for role in ("extractor", "verifier", "relevance", "weighting"):
        if role in roles:
            models[role] = roles[role].identity()
    templates = {"claims": judges["extractor"].id, "relevance": judges["relevance"].id}
    for pt in plan.tasks:
        t = judges["verifier"].template_for(pt.evidence.uses_evidence)
        templates[t.name] = t.id
    if settings.weighting and "weighting" in judges:
        templates[judges["weighting"].template.name] = judges["weighting"].id
    return {
        "answers": source,
        "model": roles["model"].identity() if "model" in roles else None,
        "reference": roles["reference"].identity() if "reference" in roles else None,
        "judges": models,
        "templates": templates,
        "tasks": {pt.task.name: {**pt.task.identity(), "evidence": pt.evidence.name,
                                 "prompt_ids_sha": sha256_hex([p.id for p in pt.prompts], 16)}
                  for pt in plan.tasks},
        "scoring": {"verify_mode": judges["verifier"].mode, "sentences_per_call": settings.sentences_per_call,
                    "claims_per_call": settings.claims_per_call, "evidence_tokens": settings.evidence_tokens,
                    "relevance": settings.relevance, "weighting": settings.weighting,
                    **({"claims_per_weight_call": settings.claims_per_weight_call} if settings.weighting else {})},
    }


def diff(old: Any, new: Any, path: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new)):
            out += diff(old.get(key), new.get(key), f"{path}.{key}" if path else key)
        return out
    return [] if old == new else [f"{path}: {old!r} -> {new!r}"]
