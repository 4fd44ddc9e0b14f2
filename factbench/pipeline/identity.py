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
from factbench.stages.base import Stage

# Judges that leave the identity as it was before judge names were recorded: each role's
# built-in choices (a template id already tells their text apart).
_BUILTIN_DEFAULTS = {"extractor": {"claims"}, "verifier": {"verify-ternary", "verify-binary"},
                     "relevance": {"relevance-pairwise"}, "informativeness": {"informativeness"}}

PROVENANCE_KEYS = frozenset({"endpoints"})  # found inside identities of older run directories
# Compared only when both sides know it: a server that did not answer /v1/models at one start
# must not make a run unresumable.
SOFT_KEYS = frozenset({"served_model"})
PROBE_TIMEOUT_S = 2.0


# Per-task template keys of the built-in roles, as summaries have always named them.
_TASK_TEMPLATE_KEYS = {"extractor": "claims", "verifier": "verify"}


def role_templates(stages: tuple[Stage, ...], judges: dict[str, Judge], uses_evidence: bool,
                   roles: set[str] | None = None) -> dict[str, str]:
    """The template id of each judge role the stages call (`roles`: only these), for a task whose
    evidence does (not) give passages, keyed like per-task summaries and reward identities."""
    out = {}
    for stage in stages:
        for role in stage.roles:
            if role.name in judges and (roles is None or role.name in roles):
                out[_TASK_TEMPLATE_KEYS.get(role.name, role.name)] = judges[role.name].id_for(uses_evidence)
    return out


def judge_identity(roles: dict[str, RoleSpec], chosen: dict[str, Judge], stages: tuple[Stage, ...],
                   settings: RunSettings | None = None, include: tuple[str, ...] = (),
                   **scoring: Any) -> dict[str, Any]:
    """Who judges and how, the same for a run and a Scorer: each judge role's model (endpoints
    left out; `include`: other roles too), the judges not built in, and the scoring settings."""
    names = [r.name for s in stages for r in s.roles] + list(include)
    models = {role: {k: v for k, v in roles[role].identity().items() if k not in PROVENANCE_KEYS}
              for role in names if role in roles}
    base: dict[str, Any] = {"verify_mode": chosen["verifier"].mode}
    if settings is not None:
        base.update(sentences_per_call=settings.sentences_per_call, claims_per_call=settings.claims_per_call,
                    evidence_tokens=settings.evidence_tokens)
        if settings.stage_options:  # plug-in stages' options given: they change scores like the built-ins'
            base["stage_options"] = settings.stage_options
    custom = {role: judge.name for role, judge in chosen.items() if role not in _BUILTIN_DEFAULTS
              or judge.name not in _BUILTIN_DEFAULTS[role]}
    return {"models": models, "scoring": {**base, **scoring}, "custom_judges": custom}


def run_identity(settings: RunSettings, roles: dict[str, RoleSpec], plan: Plan, source: str,
                 judges: dict[str, Judge], stages: tuple[Stage, ...]) -> dict[str, Any]:
    """Everything that changes scores. A resume with a different identity is refused."""
    ident = judge_identity(roles, judges, stages, settings, relevance=settings.relevance,
                           informativeness=settings.informativeness)
    templates: dict[str, str] = {}
    for pt in plan.tasks:
        for stage in stages:
            templates.update(stage.templates(judges, pt.evidence.uses_evidence))
    out = {
        "answers": source,
        "model": roles["model"].identity() if "model" in roles else None,
        "reference": roles["reference"].identity() if "reference" in roles else None,
        "judges": ident["models"],
        "templates": templates,
        "tasks": {pt.task.name: {**pt.task.identity(), "evidence": pt.evidence.name,
                                 "prompt_ids_sha": sha256_hex([p.id for p in pt.prompts], 16)}
                  for pt in plan.tasks},
        "scoring": ident["scoring"],
    }
    if ident["custom_judges"]:
        out["judge_names"] = ident["custom_judges"]
    return out


def task_judges(identity: dict[str, Any], plan: Plan, judges: dict[str, Judge], stages: tuple[Stage, ...],
                relevance_tasks: set[str]) -> dict[str, Any]:
    """Who judged each task and how: the judge roles, the templates the task used, the scoring
    settings (the relevance judge only where the task measures relevance). Two tasks' numbers
    are comparable only when this (its `judge_sha`), the evidence and the task version are equal."""
    out = {}
    for pt in plan.tasks:
        with_relevance = pt.task.name in relevance_tasks
        roles = {r: v for r, v in identity["judges"].items() if r != "relevance" or with_relevance}
        used = set(roles) if identity["scoring"].get("informativeness") else set(roles) - {"informativeness"}
        templates = role_templates(stages, judges, pt.evidence.uses_evidence, used)
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
    from factbench.llm.preflight import get_models

    key = os.environ.get(key_env) if key_env else None
    try:
        resp = get_models(url, key, PROBE_TIMEOUT_S)
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
