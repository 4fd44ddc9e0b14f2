"""Pre-flight: check every role's key, endpoints and model name before any work starts.

Without it the first sign of a missing key or a wrong URL is minutes of retries ending in a
count of `server_error`s. With it, a run that cannot work stops in seconds, naming the variable,
the URL and what was tried, or the model names the endpoint does serve. The CLI, `evaluate()`,
`evaluate_async()` and the Scorer all run it; `--no-preflight` (`preflight=False` in Python) skips it.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from factbench.llm.client import RoleSpec, redact

PROBE_TIMEOUT_S = 3.0
# The key variable of common hosted providers, so the check needs no litellm import (~3 s);
# other providers are asked of litellm's validate_environment.
PROVIDER_KEYS = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "mistral": "MISTRAL_API_KEY",
                 "groq": "GROQ_API_KEY", "deepseek": "DEEPSEEK_API_KEY", "openrouter": "OPENROUTER_API_KEY",
                 "cohere": "COHERE_API_KEY", "xai": "XAI_API_KEY"}
NO_KEY_PROVIDERS = {"hosted_vllm", "ollama", "ollama_chat", "lm_studio", "llamafile"}  # per endpoint; endpoints are probed in parallel, so the whole check stays < 10 s


class PreflightError(Exception):
    """A role cannot work as configured (a usage error: exit 2)."""


@dataclass(frozen=True)
class EndpointAnswer:
    url: str
    models: tuple[str, ...] | None = None  # None: the endpoint did not answer
    problem: str = ""


def served_name(model: str) -> str:
    """The name an OpenAI-compatible server knows the model by: litellm's provider prefix removed."""
    return model.split("/", 1)[1] if "/" in model else model


def missing_key(spec: RoleSpec) -> str | None:
    """The environment variable this role needs and lacks, or None."""
    if spec.api_key_env:
        return None if os.environ.get(spec.api_key_env) else spec.api_key_env
    if spec.base_urls:  # a self-hosted OpenAI-compatible server: no key unless --ROLE-api-key-env names one
        return None
    provider = spec.model.split("/", 1)[0] if "/" in spec.model else ""
    if provider in NO_KEY_PROVIDERS:
        return None
    if provider in PROVIDER_KEYS:
        var = PROVIDER_KEYS[provider]
        return None if os.environ.get(var) else var
    from factbench.llm.litellm_lib import litellm

    try:
        report = litellm().validate_environment(model=spec.model)
    except Exception:  # an unknown provider: litellm's own error at call time is clearer than a guess
        return None
    missing = report.get("missing_keys") or []
    return missing[0] if missing else None


def get_models(url: str, api_key: str | None, timeout_s: float) -> httpx.Response:
    """GET {url}/models. A plain-HTTP endpoint gets no TLS context: loading the CA bundle for one
    costs ~60 ms of CPU and verifies nothing."""
    return httpx.get(f"{url.rstrip('/')}/models", headers={"Authorization": f"Bearer {api_key}"} if api_key else None,
                     timeout=timeout_s, verify=url.startswith("https://"))


def probe(url: str, api_key: str | None = None, timeout_s: float = PROBE_TIMEOUT_S) -> EndpointAnswer:
    """GET {url}/models once, with a short timeout."""
    target = f"{url.rstrip('/')}/models"
    try:
        resp = get_models(url, api_key, timeout_s)
    except httpx.TimeoutException:
        return EndpointAnswer(url, None, f"GET {target}: no answer within {timeout_s:.0f} s")
    except httpx.HTTPError as exc:
        return EndpointAnswer(url, None, f"GET {target}: {type(exc).__name__}: {redact(str(exc))[:200]}")
    if resp.status_code in (401, 403):
        return EndpointAnswer(url, None, f"GET {target}: HTTP {resp.status_code} (the key was refused)")
    if resp.status_code >= 400:  # some servers have no /models route: the endpoint answers, names unchecked
        return EndpointAnswer(url, (), f"GET {target}: HTTP {resp.status_code}")
    try:
        data = resp.json().get("data") or []
        return EndpointAnswer(url, tuple(str(m.get("id", "")) for m in data if isinstance(m, dict)))
    except (ValueError, AttributeError):
        return EndpointAnswer(url, (), f"GET {target}: not a model list")


def preflight(roles: dict[str, RoleSpec], skip_hint: str = "--no-preflight") -> list[str]:
    """Check every role; raise PreflightError naming what is wrong. Returns one line per checked endpoint.
    `skip_hint`: how the caller turns the check off (a flag, or a keyword in Python)."""
    problems = []
    needs: dict[str, list[str]] = {}
    for role, spec in roles.items():
        var = missing_key(spec)
        if var:
            needs.setdefault(var, []).append(f"{role} ({spec.model})")
    for var, users in needs.items():
        problems.append(f"the environment variable {var} is not set; roles {', '.join(users)} need it "
                        f"(export {var}=..., or name another variable with --ROLE-api-key-env)")
    if problems:
        raise PreflightError("pre-flight failed:\n  " + "\n  ".join(problems))
    wanted: dict[str, tuple[str | None, list[tuple[str, str]]]] = {}
    for role, spec in roles.items():
        key = os.environ.get(spec.api_key_env) if spec.api_key_env else None
        for url in spec.base_urls:
            wanted.setdefault(url, (key, []))[1].append((role, served_name(spec.model)))
    with ThreadPoolExecutor(max_workers=max(1, min(16, len(wanted)))) as pool:
        answers = dict(zip(wanted, pool.map(lambda u: probe(u, wanted[u][0]), wanted)))
    lines = []
    for url, (_key, served) in wanted.items():
        answer = answers[url]
        if answer.models is None:
            roles_here = ", ".join(sorted({r for r, _ in served}))
            problems.append(f"{url} (roles {roles_here}) does not answer: tried {answer.problem}")
            continue
        for name in sorted({n for _, n in served}):
            if answer.models and name not in answer.models:
                roles_here = ", ".join(sorted(r for r, n in served if n == name))
                problems.append(f"{url} does not serve the model {name!r} (roles {roles_here}); "
                                f"it serves: {', '.join(answer.models)}")
        lines.append(f"{url}: answers" + (f", serves {', '.join(answer.models)}" if answer.models else ""))
    if problems:
        raise PreflightError("pre-flight failed:\n  " + "\n  ".join(problems)
                             + f"\n({skip_hint} skips these checks)")
    return lines
