"""`hacks`: does a hacked answer score higher? Exit 0 when no hack raises the reward, 1 when one does.

A hack that could not be scored is reported as such; the exit code comes from the hacks that were."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from factbench.cli.checks import FINITE, NON_NEGATIVE, POSITIVE, SECONDS, number, whole
from factbench.cli.options import (
    EXIT_ERRORS,
    EXIT_OK,
    UsageError,
    _open_cache,
    add_judge_role_args,
    add_model_role_args,
)
from factbench.pipeline.settings import ROLE_DEFAULTS
from factbench.scoring.reward import DESIGNS
from factbench.stages.registry import judge_roles


def _add_rescoring_judges(p: argparse.ArgumentParser) -> None:
    """Judges for rescoring (default: the run's own, from run.json), and how they are called."""
    d = ROLE_DEFAULTS
    add_judge_role_args(p, judge_help="default model for every judge role (default: the run's judges)")
    add_model_role_args(p, only=("reference",))
    p.add_argument("--judge-max-tokens", type=POSITIVE, default=d.judge_max_tokens, help="max output tokens per judge call")
    p.add_argument("--judge-timeout", type=SECONDS, default=d.judge_timeout_s, help="seconds per judge request")
    p.add_argument("--max-retries", type=whole(0, 100), default=d.max_retries, help="bounded retries on 429/5xx/timeouts")
    p.add_argument("--no-structured-output", action="store_true",
                   help="do not request JSON-schema output (the tolerant parser is always used)")
    p.add_argument("--no-relevance", action="store_true", help="skip the pairwise relevance judge")
    p.add_argument("--cache", metavar="PATH", help="SQLite call cache (default ~/.cache/factbench/cache.sqlite)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the call cache")
    p.add_argument("--data-dir", help="local task data (default: the run's, else $FACTBENCH_DATA_DIR)")


def add_hacks_parser(sub) -> None:
    from factbench.hacks.variants import HACKS

    hk = sub.add_parser("hacks", help="rescore hacked variants of a run's answers: does any raise the reward?",
                        description="Derive hacked variants of RUN_DIR's answers (" +
                        "; ".join(f"{h.name}: {h.description}" for h in HACKS) +
                        "), score each with the run's judge (or --judge) and print the paired change of every "
                        "metric and of the reward. Exit 1 when a hack raises the reward significantly.")
    hk.add_argument("run_dir", help="run directory whose answers are altered and re-scored")
    hk.add_argument("--hacks", default="all", help="comma-separated hack names (default: all)")
    hk.add_argument("--tasks", metavar="SELECTOR",
                    help="where the run's tasks come from when they are not installed: the task file the run "
                         "was made with (./tasks.py), as for `factbench run --tasks`")
    hk.add_argument("--reward-design", choices=DESIGNS, help="default: the run's")
    hk.add_argument("--reward-lambda", type=number(0), help="default: the run's")
    hk.add_argument("--reward-mu", type=number(0), help="default: the run's")
    hk.add_argument("--alpha", type=number(0, 1, above=True, below=True), default=0.05,
                    help="1 - the CI level (default 0.05: 95%%)")
    hk.add_argument("--max-raise", type=FINITE, default=0.0,
                    help="a hack raises the reward when the whole CI of its change is above this")
    hk.add_argument("--seed", type=NON_NEGATIVE, default=0, help="bootstrap seed")
    hk.add_argument("--show", action="store_true", help="print the run's stored report; score nothing")
    hk.add_argument("--json", action="store_true", help="print the report as JSON")
    hk.add_argument("--no-progress", action="store_true", help="no progress bars")
    _add_rescoring_judges(hk)


def cmd_hacks(args: argparse.Namespace) -> int:
    from factbench.hacks.runner import HackError, HackOptions, run_hacks
    from factbench.reports.hacks import markdown
    from factbench.scoring.reward import RewardSpec
    from factbench.store.hacks_file import REPORT_FILE

    if not 0 < args.alpha < 1:
        raise UsageError("--alpha must be between 0 and 1")
    if args.show:
        path = Path(args.run_dir) / REPORT_FILE
        if not path.is_file():
            raise UsageError(f"{args.run_dir} has no hack report ({path}); run `factbench hacks {args.run_dir}`")
        report = json.loads(path.read_text(encoding="utf-8"))
    else:
        roles = None
        if args.judge or any(getattr(args, role.field, None) for role in judge_roles()):
            from factbench.cli.options import role_specs

            roles = role_specs(args, with_model=False)
        reward = None
        if args.reward_design or args.reward_lambda is not None or args.reward_mu is not None:
            from factbench.store.run_dir import RunStore

            stored = (RunStore(args.run_dir).read_json("run.json") or {}).get("settings", {})
            default = RewardSpec()  # a run.json without these settings used the defaults
            reward = RewardSpec(args.reward_design or stored.get("reward_design", default.design),
                                stored.get("reward_lambda", default.lam) if args.reward_lambda is None else args.reward_lambda,
                                stored.get("reward_mu", default.mu) if args.reward_mu is None else args.reward_mu)
        names = tuple(n.strip() for n in args.hacks.split(",") if n.strip()) if args.hacks != "all" else None
        options = HackOptions(reward=reward, alpha=args.alpha, max_raise=args.max_raise, seed=args.seed,
                              relevance=False if args.no_relevance else None, data_dir=args.data_dir,
                              tasks=args.tasks,
                              progress=not args.no_progress, say=lambda line: print(line, file=sys.stderr))
        if names is not None:
            options.hacks = names
        try:
            report = run_hacks(args.run_dir, roles, _open_cache(args), options)
        except HackError as exc:
            raise UsageError(str(exc)) from None
    print(json.dumps(report, indent=2) if args.json else markdown(report))
    for name, reason in report.get("not_scored", {}).items():
        print(f"factbench hacks: {name} was not scored ({reason}); the report is made of the other hacks",
              file=sys.stderr)
    if report.get("incomplete"):
        print(f"factbench hacks: too many answers failed a stage in {report['incomplete']} (see errors.jsonl "
              f"under {Path(args.run_dir) / 'hacks'}); the report is incomplete", file=sys.stderr)
    return EXIT_ERRORS if report["raised"] or report.get("incomplete") else EXIT_OK
