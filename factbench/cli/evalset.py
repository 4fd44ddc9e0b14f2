"""`factbench eval-set MANIFEST.toml --out DIR`: many runs (checkpoints) x tasks as one resumable job."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from factbench.cli.checks import NON_NEGATIVE, POSITIVE
from factbench.cli.options import EXIT_ERRORS, EXIT_OK, EXIT_USAGE, UsageError

EPILOG = """The manifest's top-level keys are defaults for every run; each [[runs]] table holds the
keywords of one factbench.evaluate() call (run_id, model, model_base_url or responses, tasks,
limit, step, judge, judge_base_url, ...). Re-running the same command resumes every cell.
Layout of --out: cells/<task>/<run_id>/ (one run per cell), runs/<run_id>/ (the cells joined),
leaderboard/ (index.html, leaderboard.csv, with the trend over `step`). See docs/eval-set.md.

exit codes: 0 every cell finished, 1 a cell failed after its retries (the rest is on the
leaderboard), 2 a bad manifest or a configuration error, 130 interrupted (re-run to resume)."""


def add_evalset_parser(sub: argparse._SubParsersAction, run: argparse.ArgumentParser) -> None:
    """`run` is `factbench run`'s parser: a manifest's values are checked as its flags would check them."""
    p = sub.add_parser("eval-set", help="score many runs (checkpoints) x tasks as one job, then build the leaderboard",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("manifest", metavar="MANIFEST.toml", help="the runs to score (docs/eval-set.md)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the cells, the joined runs and the leaderboard")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="local: threads of this process; ray: Ray tasks (extra factbench[ray])")
    p.add_argument("--ray-address", metavar="ADDR",
                   help="an existing Ray cluster (head-node:6379, or auto for the one this node joined); "
                        "default: start Ray on this machine")
    p.add_argument("--cells-at-once", type=POSITIVE, default=1, metavar="N",
                   help="jobs running at once with the local executor (Ray runs one per free CPU)")
    p.add_argument("--shards-per-cell", type=POSITIVE, default=1, metavar="N",
                   help="split each cell into N shards (separate jobs, merged when all are done)")
    p.add_argument("--retries", type=NON_NEGATIVE, default=2, metavar="N",
                   help="further attempts of a cell that failed or left failed samples")
    p.add_argument("--judge-budget", type=POSITIVE, metavar="N",
                   help="judge requests in flight to each judge server over the whole set (near its "
                        "--max-num-seqs), split over the jobs running at once (default: the manifest's "
                        "judge_concurrency, else factbench's default)")
    p.set_defaults(run_flags={a.dest: a for a in run._actions if a.option_strings})


def cmd_evalset(args: argparse.Namespace) -> int:
    from factbench.evalset.manifest import ManifestError, load_manifest
    from factbench.evalset.run_set import run_set

    if args.ray_address and args.executor != "ray":
        raise UsageError("--ray-address needs --executor ray")
    try:
        manifest = load_manifest(args.manifest, args.run_flags)
    except ManifestError as exc:
        raise UsageError(str(exc)) from None
    out = Path(args.out)
    executor = _executor(args)
    try:
        outcome = run_set(manifest, out, executor, retries=args.retries, shards_per_cell=args.shards_per_cell,
                          judge_budget=args.judge_budget)
    except BaseException:  # interrupted: leave now; every cell resumes from its records next time
        executor.close(wait=False)
        raise
    executor.close()
    for result in outcome.failed:
        print(f"eval-set: {result.key} did not finish after {outcome.attempts[result.key]} attempt(s): "
              f"{result.error or f'{result.failed_samples} failed sample(s)'}", file=sys.stderr)
    if outcome.incomplete:
        print(f"eval-set: left off the leaderboard (a cell did not finish): {', '.join(outcome.incomplete)}; "
              "re-run the same command to resume them", file=sys.stderr)
    if outcome.leaderboard:
        print(f"eval-set: {len(outcome.runs)} runs joined under {out / 'runs'}; leaderboard: "
              f"{outcome.leaderboard / 'index.html'}")
    if outcome.fatal:
        return EXIT_USAGE
    return EXIT_ERRORS if outcome.failed or outcome.incomplete else EXIT_OK


def _executor(args: argparse.Namespace):
    if args.executor == "ray":
        from factbench.evalset.ray_executor import RayExecutor, RayUnavailable

        try:
            return RayExecutor(args.ray_address)
        except RayUnavailable as exc:
            raise UsageError(str(exc)) from None
    from factbench.evalset.local import LocalExecutor

    return LocalExecutor(args.cells_at_once)
