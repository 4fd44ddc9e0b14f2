"""Shared command-line options: roles, scoring options, and how they become specs and settings."""

from __future__ import annotations

import argparse
from typing import Any

from factbench.pipeline.options import JUDGE_CONCURRENCY, JUDGE_ROLES, MODEL_CONCURRENCY, UsageError
from factbench.pipeline.options import RunOptions as _Options

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2
_d = _Options.default  # flag defaults come from RunOptions
__all__ = ["EXIT_OK", "EXIT_ERRORS", "EXIT_USAGE", "UsageError", "options_from", "role_specs"]


def _add_role(p: argparse.ArgumentParser, flag: str, what: str, concurrency: int) -> None:
    g = p.add_argument_group(f"--{flag}")
    g.add_argument(f"--{flag}", metavar="PROVIDER/MODEL", help=what)
    g.add_argument(f"--{flag}-base-url", metavar="URL[,URL...]",
                   help="OpenAI-compatible endpoint(s); several URLs are replicas of one model")
    g.add_argument(f"--{flag}-api-key-env", metavar="VAR", help="environment variable holding the API key")
    g.add_argument(f"--{flag}-concurrency", type=int, default=None, metavar="N",
                   help=f"max concurrent requests per endpoint (default {concurrency})")


def _add_judge_args(p: argparse.ArgumentParser) -> None:
    """Judges, scoring and the call cache: what `run`, `score` and `reward serve` share."""
    _add_role(p, "judge", "default model for every judge role", JUDGE_CONCURRENCY)
    for prefix, _ in JUDGE_ROLES:
        flag = prefix.replace("_", "-")
        _add_role(p, flag, f"override the judge for the {flag.replace('-judge', '')} role", JUDGE_CONCURRENCY)
    _add_role(p, "reference-model", "generates reference answers for relevance when a task has none",
              MODEL_CONCURRENCY)
    p.add_argument("--judge-max-tokens", type=int, default=_d("judge_max_tokens"))
    p.add_argument("--judge-timeout", type=float, default=_d("judge_timeout"), help="seconds per judge request")
    p.add_argument("--max-retries", type=int, default=_d("max_retries"), help="bounded retries on 429/5xx/timeouts")
    p.add_argument("--no-structured-output", action="store_true",
                   help="do not request JSON-schema output (the tolerant parser is always used)")
    p.add_argument("--evidence", default=_d("evidence"),
                   help="none | corpus:PATH[#topic] | serper | snapshot:RUN_DIR | auto (task default, else none)")
    p.add_argument("--verify-mode", choices=("ternary", "binary"), default=_d("verify_mode"))
    p.add_argument("--sentences-per-call", type=int, default=_d("sentences_per_call"))
    p.add_argument("--claims-per-call", type=int, default=_d("claims_per_call"))
    p.add_argument("--evidence-tokens", type=int, default=_d("evidence_tokens"),
                   help="evidence budget per verification call")
    p.add_argument("--no-relevance", action="store_true", help="skip the pairwise relevance judge")
    p.add_argument("--reward-lambda", type=float, default=_d("reward_lambda"))
    p.add_argument("--reward-mu", type=float, default=_d("reward_mu"))
    p.add_argument("--cache", metavar="PATH", help="SQLite call cache (default ~/.cache/factbench/cache.sqlite)")
    p.add_argument("--no-cache", action="store_true")


def _add_scoring_args(p: argparse.ArgumentParser) -> None:
    _add_judge_args(p)
    p.add_argument("--run-id", help="name of the run directory; re-use it to resume")
    p.add_argument("--results-dir", default=_d("results_dir"))
    p.add_argument("--data-dir", help="local task data (default $FACTBENCH_DATA_DIR, else the Hub)")
    p.add_argument("--limit", type=int, help="seeded sample of N prompts per task")
    p.add_argument("--seed", type=int, default=_d("seed"))
    p.add_argument("--parallel", type=int, default=_d("parallel"),
                   help="samples in flight (default: from judge concurrency)")
    p.add_argument("--fail-on-error", type=float, default=_d("fail_on_error"),
                   help="exit 1 when failed samples exceed this proportion (<1) or count (>=1)")
    p.add_argument("--shard", metavar="I/N",
                   help="score only shard I of N (every N-th planned prompt); join shards with `factbench merge`")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--json", action="store_true", help="print summary.json instead of the table")
    p.add_argument("--label", default=_d("label"),
                   help="a note shown with this run on the leaderboard (e.g. demo-quality)")


def options_from(args: argparse.Namespace, **overrides: Any):
    """The namespace as RunOptions: the one place flags become role specs and run settings."""
    return _Options.from_namespace(args, **overrides)


def role_specs(args: argparse.Namespace, with_model: bool) -> dict[str, Any]:
    return options_from(args).role_specs(with_model)


def _open_cache(args: argparse.Namespace):
    return options_from(args).open_cache()
