"""A run's identity: everything that changes its scores. A resume with another identity is refused.

Identity: model ids, decoding parameters, pinned revisions (`--ROLE-revision`), the model a
server reports on /v1/models, template ids, evidence specs, task versions and scoring settings.
Provenance (run.json `roles`, never identity or a cache key): endpoints, replica lists,
concurrency, timeouts, prices. Run directories written before endpoints became provenance
carry `endpoints` inside their identity; those fields are ignored when identities are compared.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from factbench.hashing import sha256_hex
from factbench.judges.judge import Judge
from factbench.llm.client import RoleSpec
from factbench.pipeline.plan import Plan
from factbench.pipeline.settings import RunSettings

JUDGE_ROLES = ("extractor", "verifier", "relevance", "weighting")
PROVENANCE_KEYS = frozenset({"endpoints"})  # found inside identities of older run directories
# Compared only when both sides know it: a server that did not answer /v1/models at one start
# must not make a run unresumable.
SOFT_KEYS = frozenset({"served_model"})
PROBE_TIMEOUT_S = 2.0


def run_identity(settings: RunSettings, roles: dict[str, RoleSpec], plan: Plan, source: str,
                 judges: dict[str, Judge]) -> dict[str, Any]:
    """Everything that changes scores. A resume with a different identity is refused."""
    models = {role: roles[role].identity() for role in JUDGE_ROLES if role in roles}
    templates = {"claims": judges["extractor"].id, "relevance": judges["relevance"].id}
    for pt in plan.tasks:
        t = judges["verifier"].template_for(pt.evidence.uses_evidence)
        templates[t.name] = t.id
        if settings.weighting and "weighting" in judges:
            w = judges["weighting"].template_for(pt.evidence.uses_evidence)
            templates[w.name] = w.id
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
                    "relevance": settings.relevance, "weighting": settings.weighting},
    }


def task_judges(identity: dict[str, Any], plan: Plan, judges: dict[str, Judge], relevance_tasks: set[str]) -> dict[str, Any]:
    """Who judged each task and how: the judge roles, the templates the task used, the scoring
    settings (the relevance judge only where the task measures relevance). Two tasks' numbers
    are comparable only when this (its `judge_sha`), the evidence and the task version are equal."""
    out = {}
    for pt in plan.tasks:
        with_relevance = pt.task.name in relevance_tasks
        roles = {r: v for r, v in identity["judges"].items() if r != "relevance" or with_relevance}
        uses_evidence = pt.evidence.uses_evidence
        templates = {"claims": identity["templates"]["claims"], "verify": judges["verifier"].template_for(uses_evidence).id}
        if identity["scoring"].get("weighting") and "weighting" in judges:
            templates["weighting"] = judges["weighting"].template_for(uses_evidence).id
        if with_relevance:
            templates["relevance"] = identity["templates"]["relevance"]
        out[pt.task.name] = {"roles": roles, "templates": templates, "scoring": identity["scoring"]}
    return out


def strip_provenance(value: Any) -> Any:
    """A copy without provenance fields (endpoints), at any depth."""
    if isinstance(value, dict):
        return {k: strip_provenance(v) for k, v in value.items() if k not in PROVENANCE_KEYS}
    if isinstance(value, list):
        return [strip_provenance(v) for v in value]
    return value


def diff(old: Any, new: Any, path: str = "") -> list[str]:
    """Differences between two identities; provenance is ignored, soft keys only when both are known."""
    return _diff(strip_provenance(old), strip_provenance(new), path)


def _diff(old: Any, new: Any, path: str) -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new)):
            if key in SOFT_KEYS and (old.get(key) is None or new.get(key) is None):
                continue
            out += _diff(old.get(key), new.get(key), f"{path}.{key}" if path else key)
        return out
    return [] if old == new else [f"{path}: {old!r} -> {new!r}"]


# ------------------------------------------------------------------ served-model fingerprint

def _listed_models(url: str, key_env: str | None) -> list[dict[str, Any]]:
    """The model entries a server lists on /v1/models; empty when it does not answer in time."""
    import httpx

    key = os.environ.get(key_env) if key_env else None
    try:
        resp = httpx.get(url.rstrip("/") + "/models", timeout=PROBE_TIMEOUT_S,
                         headers={"Authorization": f"Bearer {key}"} if key else None)
        models = (resp.json().get("data") or []) if resp.status_code == 200 else []
    except Exception:  # no answer, not JSON, not a list: the fingerprint is simply unknown
        return []
    return [m for m in models if isinstance(m, dict) and isinstance(m.get("id"), str)] if isinstance(models, list) else []


def _fingerprint(entries: list[dict[str, Any]], model: str) -> str | None:
    """The root (vLLM: the weights' path or Hub id), else the id, of the entry serving `model`."""
    name = model.split("/", 1)[-1]
    match = [m for m in entries if m["id"] in (model, name)] or (entries if len(entries) == 1 else [])
    if len(match) != 1:
        return None
    root = match[0].get("root")
    return root if isinstance(root, str) and root else match[0]["id"]


def with_served_models(roles: dict[str, RoleSpec]) -> dict[str, RoleSpec]:
    """Roles on OpenAI-compatible servers, each with the model its server reports (one short
    GET /v1/models per distinct endpoint, all at once; provider APIs are not asked). Replicas
    that report different models leave the fingerprint unknown."""
    urls = sorted({u for spec in roles.values() for u in spec.base_urls})
    if not urls:
        return roles
    key_env = {u: next((s.api_key_env for s in roles.values() if u in s.base_urls and s.api_key_env), None)
               for u in urls}
    with ThreadPoolExecutor(max_workers=min(8, len(urls))) as pool:
        listed = dict(zip(urls, pool.map(lambda u: _listed_models(u, key_env[u]), urls)))
    out = {}
    for role, spec in roles.items():
        seen = {_fingerprint(listed[u], spec.model) for u in spec.base_urls}
        served = seen.pop() if len(seen) == 1 else None
        out[role] = spec.model_copy(update={"served_model": served}) if served and not spec.served_model else spec
    return out
