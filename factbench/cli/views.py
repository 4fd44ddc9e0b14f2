"""`leaderboard build`, `compare`, `export`, `view` and the `--log-to` tracker hook."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from factbench.cli.checks import NON_NEGATIVE, POSITIVE, number
from factbench.cli.options import EXIT_ERRORS, EXIT_OK, EXIT_USAGE, UsageError


def add_view_commands(sub: argparse._SubParsersAction) -> None:
    lb = sub.add_parser("leaderboard", help="build the static leaderboard from run directories")
    lbsub = lb.add_subparsers(dest="leaderboard_command", required=True)
    lbb = lbsub.add_parser("build", help="write index.html, leaderboard.md/.csv, pareto.svg and a viewer per run")
    lbb.add_argument("runs", nargs="+", help="run directories, or folders to search for run directories")
    lbb.add_argument("--out", default="leaderboard", help="output folder")

    cmp_ = sub.add_parser("compare", help="regression gate: candidate run against a baseline run")
    cmp_.add_argument("base", help="baseline run directory")
    cmp_.add_argument("candidate", help="candidate run directory")
    cmp_.add_argument("--metric", default="precision", help="metric compared (docs/metrics.md)")
    cmp_.add_argument("--max-drop", type=number(0), default=1.0,
                      help="allowed drop (percentage points for rates, units otherwise)")
    cmp_.add_argument("--alpha", type=number(0, 1, above=True, below=True), default=0.05, help="significance level of the paired test")
    cmp_.add_argument("--min-pairs", type=POSITIVE, default=10, help="fewest paired answers a verdict needs")
    cmp_.add_argument("--per-task", action="store_true", help="also fail on a regression in any single task")
    cmp_.add_argument("--seed", type=NON_NEGATIVE, default=0, help="bootstrap seed")
    cmp_.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    cmp_.add_argument("--html", metavar="OUT.html", help="also write a diff page: per prompt, the change and "
                                                       "the claims whose label flipped, biggest regressions first")

    exp = sub.add_parser("export", help="a run as one flat table (one row per claim, or per answer)")
    exp.add_argument("run_dir", help="run directory to export")
    exp.add_argument("--format", choices=("parquet", "jsonl", "csv"), default="parquet", help="file format")
    exp.add_argument("--out", required=True, metavar="FILE", help="file to write")
    exp.add_argument("--level", choices=("claim", "answer"), default="claim", help="one row per claim or per answer")

    view = sub.add_parser("view", help="write a run's viewer page (static, self-contained)")
    view.add_argument("run_dir", help="run directory to show")
    view.add_argument("--out", required=True, metavar="FILE.html", help="page to write")


def add_tracking_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--log-to", choices=("wandb", "mlflow"),
                   help="also log the summary, per-task and per-claim tables to an experiment tracker "
                        "(optional extras factbench[wandb] / factbench[mlflow])")
    p.add_argument("--step", type=NON_NEGATIVE, help="checkpoint step of this run (the leaderboard's trend view)")


def check_tracker(args: argparse.Namespace) -> None:
    if getattr(args, "log_to", None):
        from factbench.reports.trackers import TrackerUnavailable, require

        try:
            require(args.log_to)
        except TrackerUnavailable as exc:
            raise UsageError(str(exc)) from None


def log_finished_run(args: argparse.Namespace, run_dir: Path) -> None:
    """After a run: log it where --log-to says. A tracker failure is reported; results stay on disk."""
    if not getattr(args, "log_to", None):
        return
    from factbench.reports.trackers import log_run

    try:
        print(f"logged to {log_run(args.log_to, run_dir)}", file=sys.stderr)
    except Exception as exc:  # the tracker's own errors are many and varied; the run itself is done
        print(f"factbench: warning: could not log to {args.log_to}: {type(exc).__name__}: {str(exc)[:300]}",
              file=sys.stderr)


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from factbench.reports.leaderboard import build

    info = build([Path(r) for r in args.runs], Path(args.out))
    print(f"leaderboard: {info['rows']} runs, tasks {', '.join(info['tasks'])} -> {args.out}/index.html")
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    from factbench.reports.compare import (
        HIGHER_IS_BETTER,
        PERCENT_METRICS,
        CompareError,
        compare,
        gate,
        markdown_report,
        unit_of,
    )
    from factbench.reports.diff import prompt_diffs
    from factbench.reports.run_info import UnreadableRun

    try:
        deltas, meta = compare(args.base, args.candidate, args.metric, args.max_drop, args.alpha,
                               args.min_pairs, args.seed)
        diffs = prompt_diffs(args.base, args.candidate, args.metric,
                             100.0 if args.metric in PERCENT_METRICS else 1.0, HIGHER_IS_BETTER[args.metric])
    except CompareError as exc:
        print(f"factbench compare: {exc}", file=sys.stderr)
        return exc.code
    except UnreadableRun as exc:
        print(f"factbench compare: {exc}", file=sys.stderr)
        return EXIT_USAGE
    failed = gate(deltas, args.per_task)
    if args.html:
        from factbench.reports.diff_page import diff_html

        Path(args.html).write_text(diff_html(deltas, meta, failed, diffs, unit_of(args.metric)), encoding="utf-8")
        print(f"diff page: {args.html}", file=sys.stderr)
    if args.json:
        worst = [d.__dict__ for d in diffs if d.change < 0][:10]
        print(json.dumps({**meta, "failed": failed, "deltas": [d.__dict__ for d in deltas],
                          "biggest_regressions": worst}, indent=2))
    else:
        print(markdown_report(deltas, meta, failed, diffs))
    return EXIT_ERRORS if failed else EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from factbench.reports.run_info import UnreadableRun
    from factbench.reports.run_tables import ExportError, export

    try:
        n = export(args.run_dir, args.out, args.format, args.level)
    except (ExportError, UnreadableRun) as exc:
        raise UsageError(str(exc)) from None
    print(f"exported {n} {args.level} rows of {args.run_dir} -> {args.out}")
    return EXIT_OK


def cmd_view(args: argparse.Namespace) -> int:
    from factbench.reports.run_data import load_run_data
    from factbench.reports.run_info import UnreadableRun, read_run
    from factbench.reports.viewer import write_viewer

    try:
        size = write_viewer(load_run_data(args.run_dir), read_run(args.run_dir), Path(args.out))
    except UnreadableRun as exc:
        raise UsageError(str(exc)) from None
    print(f"viewer: {args.out} ({size / 1e6:.1f} MB)")
    return EXIT_OK
