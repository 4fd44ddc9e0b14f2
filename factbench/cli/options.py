"""Shared command-line options: roles, scoring options, and how they become specs and settings."""

from __future__ import annotations

import argparse
import time
from typing import Any

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    pass


# Role options: (cli name, role key). `--judge` is the default for every judge role.
JUDGE_ROLE_FLAGS = (("extractor", "extractor"), ("verifier", "verifier"), ("relevance-judge", "relevance"))


def _add_role(p: argparse.ArgumentParser, flag: str, what: str, concurrency: int) -> None:
    g = p.add_argument_group(f"--{flag}")
    g.add_argument(f"--{flag}", metavar="PROVIDER/MODEL", help=what)
    g.add_argument(f"--{flag}-base-url", metavar="URL[,URL...]",
                   help="OpenAI-compatible endpoint(s); several URLs are replicas of one model")
    g.add_argument(f"--{flag}-api-key-env", metavar="VAR", help="environment variable holding the API key")
    g.add_argument(f"--{flag}-concurrency", type=int, default=None, metavar="N",
                   help=f"max concurrent requests per endpoint (default {concurrency})")


def _add_scoring_args(p: argparse.ArgumentParser) -> None:
    _add_role(p, "judge", "default model for every judge role", 32)
    for flag, _ in JUDGE_ROLE_FLAGS:
        _add_role(p, flag, f"override the judge for the {flag.replace('-judge', '')} role", 32)
    _add_role(p, "reference-model", "generates reference answers for relevance when a task has none", 16)
    p.add_argument("--judge-max-tokens", type=int, default=2048)
    p.add_argument("--judge-timeout", type=float, default=180.0, help="seconds per judge request")
    p.add_argument("--max-retries", type=int, default=6, help="bounded retries on 429/5xx/timeouts")
    p.add_argument("--no-structured-output", action="store_true",
                   help="do not request JSON-schema output (the tolerant parser is always used)")
    p.add_argument("--evidence", default="auto",
                   help="none | corpus:PATH[#topic] | serper | snapshot:RUN_DIR | auto (task default, else none)")
    p.add_argument("--verify-mode", choices=("ternary", "binary"), default="ternary")
    p.add_argument("--sentences-per-call", type=int, default=30, help="sentences per claim-extraction call")
    p.add_argument("--claims-per-call", type=int, default=30, help="claims per verification call")
    p.add_argument("--evidence-tokens", type=int, default=2000,
                   help="budget of an answer's evidence block, shared by its verification calls")
    p.add_argument("--no-relevance", action="store_true", help="skip the pairwise relevance judge")
    p.add_argument("--reward-lambda", type=float, default=0.1)
    p.add_argument("--reward-mu", type=float, default=1.0)
    p.add_argument("--run-id", help="name of the run directory; re-use it to resume")
    p.add_argument("--results-dir", default="results")
    p.add_argument("--cache", metavar="PATH", help="SQLite call cache (default ~/.cache/factbench/cache.sqlite)")
    p.add_argument("--no-cache", action="store_true")
    p.add_argument("--data-dir", help="local task data (default $FACTBENCH_DATA_DIR, else the Hub)")
    p.add_argument("--limit", type=int, help="seeded sample of N prompts per task")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--parallel", type=int, default=0, help="samples in flight (default: from judge concurrency)")
    p.add_argument("--fail-on-error", type=float, default=0.05,
                   help="exit 1 when failed samples exceed this proportion (<1) or count (>=1)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--json", action="store_true", help="print summary.json instead of the table")
    p.add_argument("--label", default="", help="a note shown with this run on the leaderboard (e.g. demo-quality)")


def _urls(value: str | None) -> tuple[str, ...]:
    return tuple(u.strip() for u in value.split(",") if u.strip()) if value else ()


def role_specs(args: argparse.Namespace, with_model: bool) -> dict[str, Any]:
    from factbench.llm.client import RoleSpec

    structured = not args.no_structured_output
    judge_params = {"temperature": 0.0, "max_tokens": args.judge_max_tokens}
    roles: dict[str, RoleSpec] = {}
    if with_model:
        if not args.model and not args.responses:
            raise UsageError("give --model PROVIDER/MODEL (or --responses FILE to score answers made elsewhere)")
        if args.model:
            roles["model"] = RoleSpec(role="model", model=args.model, base_urls=_urls(args.model_base_url),
                                      api_key_env=args.model_api_key_env,
                                      max_concurrency=args.model_concurrency or 16, timeout_s=args.model_timeout,
                                      max_retries=args.max_retries,
                                      params={"temperature": args.temperature, "max_tokens": args.max_tokens})
    for flag, role in JUDGE_ROLE_FLAGS:
        attr = flag.replace("-", "_")
        model = getattr(args, attr) or args.judge
        if not model:
            raise UsageError(f"give --judge PROVIDER/MODEL (or --{flag}) for the {role} role")
        own = getattr(args, attr) is not None
        prefix = attr if own else "judge"
        roles[role] = RoleSpec(
            role=role, model=model, base_urls=_urls(getattr(args, f"{prefix}_base_url")),
            api_key_env=getattr(args, f"{prefix}_api_key_env"),
            max_concurrency=getattr(args, f"{prefix}_concurrency") or args.judge_concurrency or 32,
            timeout_s=args.judge_timeout, max_retries=args.max_retries, structured_output=structured,
            params=judge_params)
    if args.reference_model:
        roles["reference"] = RoleSpec(
            role="reference", model=args.reference_model, base_urls=_urls(args.reference_model_base_url),
            api_key_env=args.reference_model_api_key_env, max_concurrency=args.reference_model_concurrency or 16,
            timeout_s=args.judge_timeout, max_retries=args.max_retries,
            params={"temperature": 0.0, "max_tokens": 2048})
    if args.no_relevance:
        roles.pop("relevance", None)
    return roles


def _settings(args: argparse.Namespace, run_id: str, responses: str | None, select_from_run: str | None):
    from factbench.pipeline.runner import RunSettings

    return RunSettings(
        run_id=run_id, results_dir=args.results_dir, limit=args.limit, seed=args.seed, evidence=args.evidence,
        verify_mode=args.verify_mode, sentences_per_call=args.sentences_per_call,
        claims_per_call=args.claims_per_call, evidence_tokens=args.evidence_tokens,
        relevance=not args.no_relevance, reward_lambda=args.reward_lambda, reward_mu=args.reward_mu,
        responses=responses, max_parallel_samples=args.parallel, fail_on_error=args.fail_on_error,
        progress=not args.no_progress, cache_path=args.cache, data_dir=args.data_dir,
        select_from_run=select_from_run, label=args.label)


def _open_cache(args: argparse.Namespace):
    from factbench.llm.cache import CallCache, default_cache_path

    if getattr(args, "no_cache", False):
        return None
    return CallCache(args.cache or default_cache_path())


def _default_run_id(label: str) -> str:
    slug = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in label.split("/")[-1])[:40]
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}"


