"""`run`, `score` (and human-label replay) and `calibrate`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from factbench import __version__
from factbench.cli.options import (
    EXIT_ERRORS,
    EXIT_MAX_COST,
    EXIT_OK,
    VERIFIER_ONLY,
    UsageError,
    options_from,
    role_specs,
)


def _preflight(args: argparse.Namespace, roles) -> None:
    """Every role's key, endpoints and model name, checked before any work (exit 2 on a problem)."""
    from factbench.api import preflight_roles
    from factbench.llm.redact import redact

    for line in preflight_roles(options_from(args), roles):
        print(f"pre-flight: {redact(line)}", file=sys.stderr)  # a URL's credentials are never printed


def _execute(args: argparse.Namespace, tasks, *, with_model: bool, run_id: str | None = None,
             responses: str | None = None, select_from_run: str | None = None) -> int:
    from factbench.api import prepare_run
    from factbench.cli.views import check_tracker, log_finished_run
    from factbench.reports.console import run_report, summary_table

    check_tracker(args)
    options = options_from(args)
    roles = options.role_specs(with_model)
    _first_blockers(args, options, roles, tasks)  # cheap checks, all reported at once
    _preflight(args, roles)  # before anything is opened or written
    if options.max_cost is not None:
        _require_prices(roles)
    runner = prepare_run(options, tasks, with_model=with_model, responses=responses,
                         select_from_run=select_from_run, run_id=run_id)
    settings = runner.settings
    run_id = args.run_id = settings.run_id  # named in the resume hint if the run is interrupted
    args.run_dir_created = settings.run_dir  # the hint is given only once this directory holds a run
    print(f"factbench {__version__}: run {run_id} -> {settings.run_dir}", file=sys.stderr)
    from factbench.tasks import DataContext

    data = DataContext.from_env(settings.data_dir).data_dir
    print(f"task data: {data if data else 'none local (Hub downloads where a task has them)'}", file=sys.stderr)
    planned = [f"{pt.task.name} ({len(pt.prompts)} prompts, evidence {pt.evidence.name}, {pt.evidence_chosen_by})"
               for pt in runner.plan.tasks]
    print(f"tasks: {', '.join(planned) or 'none'}", file=sys.stderr)
    if settings.shard:
        print(f"shard {settings.shard} of the planned prompts (join the shards with `factbench merge`)", file=sys.stderr)
    for note in runner.notes:
        print(f"note: {note}", file=sys.stderr)
    summary = runner.run()
    if args.json:
        print(summary.model_dump_json(indent=2))
    else:
        print(summary_table(summary))
        print("\n" + run_report(summary, str(settings.run_dir)))
    errors = summary.errors
    for line in failure_lines(errors.stage_failures, run_id, settings.responses):
        print(line, file=sys.stderr)
    log_finished_run(args, settings.run_dir)
    if summary.budget.get("stopped_at_max_cost"):
        print(f"factbench: stopped at --max-cost {settings.max_cost} (spent ${summary.cost_usd or 0:.4f} over "
              f"{summary.invocations} invocation(s)); nothing is lost: re-run with --run-id {run_id} and a larger "
              "--max-cost (or none) to finish", file=sys.stderr)
        return EXIT_MAX_COST
    # Samples with a stage still failing, and samples with claims or sentences left without a
    # parsed judge answer, both count against --fail-on-error.
    too_many = settings.failures_exceed_limit(errors.gate_failures, errors.gate_failure_rate)
    return EXIT_ERRORS if too_many else EXIT_OK


NOT_RETRIED = {("answers", "no_response")}  # failures a re-run cannot fix: the input lacks the item


def failure_lines(stage_failures: dict[str, dict[str, int]], run_id: str, responses: str | None) -> list[str]:
    """What failed, with the resume hint only for the failures a re-run retries."""
    retried = {stage: {k: n for k, n in kinds.items() if (stage, k) not in NOT_RETRIED}
               for stage, kinds in stage_failures.items()}
    retried = {stage: kinds for stage, kinds in retried.items() if kinds}
    lines = []
    if retried:
        n = sum(sum(kinds.values()) for kinds in retried.values())
        lines.append(f"{n} sample(s) failed a stage: {retried} (re-run with --run-id {run_id} to retry them)")
    missing = stage_failures.get("answers", {}).get("no_response", 0)
    if missing:
        lines.append(f"{missing} prompt(s) have no answer in the responses file {responses}: they stay unscored "
                     "until the file has them (a re-run does not retry them)")
    return lines
def _first_blockers(args: argparse.Namespace, options, roles, tasks) -> None:
    """Missing keys, task data and evidence, in one message before endpoints are probed or prices loaded."""
    from factbench.cli.blockers import data_and_evidence_blockers, key_blockers
    from factbench.llm.preflight import PreflightError

    problems = [] if getattr(args, "no_preflight", False) else key_blockers(roles)
    problems += data_and_evidence_blockers(tasks, options.data_dir, options.evidence)
    if problems:
        raise PreflightError(f"cannot start ({len(problems)} problem{'s' if len(problems) > 1 else ''}):\n  - "
                             + "\n  - ".join(problems))


def _require_prices(roles: dict) -> None:
    from factbench.llm.cost import role_price

    unpriced = [f"{r} ({s.model})" for r, s in roles.items()
                if role_price(s.model, bool(s.base_urls), s.price_per_1k) is None]
    if unpriced:
        raise UsageError("--max-cost needs a price for every role; none is known for " + ", ".join(unpriced) +
                         ": give --price-per-1k-input/--price-per-1k-output (self-hosted roles are never priced "
                         "from a provider's list)")


def cmd_run(args: argparse.Namespace) -> int:
    from factbench.tasks import resolve_tasks

    tasks = resolve_tasks(args.tasks)
    print(f"resolved --tasks {args.tasks!r}: {', '.join(t.name for t in tasks)}", file=sys.stderr)
    return _execute(args, tasks, with_model=True)


def cmd_score(args: argparse.Namespace) -> int:
    if args.labels:
        return cmd_replay_labels(args)
    if not args.run_dir:
        raise UsageError("score needs RUN_DIR (a run whose answers to re-score) or --labels FILE")
    from factbench.store.run_dir import RunStore
    from factbench.tasks import tasks_named

    source = RunStore(args.run_dir)
    spec = source.read_spec()
    if spec is None or not source.path("answers").exists():
        raise UsageError(f"{args.run_dir} is not a run directory with answers (run.json, answers.jsonl)")
    tasks = tasks_named(list(spec.tasks), args.run_dir)
    if not args.data_dir and spec.settings.get("data_dir"):
        args.data_dir = spec.settings["data_dir"]  # the source run's task data, unless --data-dir names other
        print(f"task data of {args.run_dir}: {args.data_dir}", file=sys.stderr)
    # The source run's answers become a responses file for the new run (no regeneration).
    answers_file = Path(args.run_dir) / "answers.jsonl"
    from factbench.pipeline.options import default_run_id

    run_id = args.run_id or default_run_id(f"{Path(args.run_dir).name}-rescored")
    args.limit = None  # the source run's prompt selection is reused as it is
    return _execute(args, tasks, with_model=False, run_id=run_id, responses=str(answers_file),
                    select_from_run=args.run_dir)


def cmd_replay_labels(args: argparse.Namespace) -> int:
    from factbench.reports.console import summary_table
    from factbench.scoring.human_labels import replay
    from factbench.scoring.metrics import aggregate
    from factbench.store.artefacts import RunSummary

    if args.run_id:  # also write a run directory (a human-judged leaderboard row)
        from factbench.cli.views import check_tracker, log_finished_run
        from factbench.scoring.human_labels import write_replay_run

        check_tracker(args)
        write_replay_run(args.labels, Path(args.results_dir) / args.run_id, task=args.labels_task,
                         model=args.labels_model, seed=args.seed)
        log_finished_run(args, Path(args.results_dir) / args.run_id)
    scores = replay(args.labels)
    agg = aggregate(scores, args.seed)
    summary = RunSummary.model_validate({"run_id": args.run_id or Path(args.labels).stem,
                                         "factbench_version": __version__,
                                         "tasks": {Path(args.labels).stem: agg}, "overall": agg})
    if args.json:
        print(json.dumps(agg, indent=2))
    else:
        print(summary_table(summary))
        p = agg["metrics"]["precision"]
        print(f"\nhuman precision (FActScore without length penalty): {p['mean'] * 100:.1f} "
              f"[{p['ci95'][0] * 100:.1f}, {p['ci95'][1] * 100:.1f}] over {p['n']} answers; "
              f"{agg['n_abstained']} abstained")
    return EXIT_OK


def cmd_calibrate(args: argparse.Namespace) -> int:
    from factbench.evidence.backends import EvidenceChoice, open_backend
    from factbench.judges.registry import resolve_judges
    from factbench.llm.client import LLMClient
    from factbench.pipeline.calibrate import CALIBRATION_TASK, calibrate

    options = options_from(args)
    roles = role_specs(args, with_model=False, only=VERIFIER_ONLY)
    _preflight(args, roles)
    judge = resolve_judges(options.judges, {"verifier": f"verify-{args.mode}"})["verifier"]
    cache = options.open_cache()
    evidence = EvidenceChoice.parse(args.evidence).for_task(CALIBRATION_TASK.default_evidence)
    result = calibrate(args.labels, LLMClient(roles["verifier"], cache), open_backend(evidence, cache),
                       limit=args.limit, seed=args.seed, judge=judge, claims_per_call=options.claims_per_call,
                       evidence_tokens=options.evidence_tokens, parallel=args.parallel or 32)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        fmt = lambda v, d=3: "-" if v is None else f"{v:.{d}f}"  # noqa: E731
        print(f"judge {result['judge']} (evidence {result['evidence']}, {result['mode']}) on {result['answers']} "
              f"answers, {result['claims_compared']} claims:")
        print(f"  claim agreement {fmt(result['agreement'])}, Cohen's kappa {fmt(result['cohens_kappa'])}")
        print(f"  precision: judge {fmt(result['judge_precision'], 1)} vs human {fmt(result['human_precision'], 1)} "
              f"(error {fmt(result['aggregate_error'], 1)} points)")
        print(f"  unlabelled claims {result['claims_unlabelled']}, failed answers {result['answers_failed'] or 0}")
    return EXIT_OK




def cmd_merge(args: argparse.Namespace) -> int:
    from factbench.pipeline.merge import merge_runs
    from factbench.reports.console import summary_table

    summary = merge_runs(args.runs, args.out)
    if args.json:
        print(summary.model_dump_json(indent=2))
    else:
        print(summary_table(summary))
        print(f"\nmerged {len(args.runs)} shards into {args.out}")
    return EXIT_OK
