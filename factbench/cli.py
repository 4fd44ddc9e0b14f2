"""The `factbench` command line. Exit codes: 0 ok, 1 too many errors, 2 usage or input error."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from factbench import __version__

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2

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
    p.add_argument("--sentences-per-call", type=int, default=10)
    p.add_argument("--claims-per-call", type=int, default=10)
    p.add_argument("--evidence-tokens", type=int, default=3000, help="evidence budget per verification call")
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="factbench", description="Long-form factuality evaluation.")
    parser.add_argument("--version", action="version", version=f"factbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="generate (or read) answers and score them")
    _add_role(run, "model", "the model under test", 16)
    run.add_argument("--temperature", type=float, default=0.0)
    run.add_argument("--max-tokens", type=int, default=2048)
    run.add_argument("--model-timeout", type=float, default=300.0)
    run.add_argument("--responses", metavar="FILE.jsonl", help="score answers produced elsewhere (no generation)")
    run.add_argument("--tasks", default="all", help="all, names, tags, globs or ./file.py, comma-separated")
    _add_scoring_args(run)

    score = sub.add_parser("score", help="re-score an existing run's answers, or replay human labels")
    score.add_argument("run_dir", nargs="?", help="run directory whose answers to score")
    score.add_argument("--labels", metavar="FILE", help="FActScore-format human-labelled claims to aggregate")
    score.add_argument("--labels-task", default="bio", help="task name for a label replay run directory")
    score.add_argument("--labels-model", help="model name for a label replay run (default: the file name)")
    _add_scoring_args(score)

    cal = sub.add_parser("calibrate", help="agreement of a judge with human-labelled claims")
    cal.add_argument("--labels", required=True, metavar="FILE", help="FActScore-format human-labelled claims")
    cal.add_argument("--mode", choices=("binary", "ternary"), default="binary")
    _add_scoring_args(cal)

    ls = sub.add_parser("list", help="list tasks")
    ls.add_argument("what", choices=("tasks",))
    ls.add_argument("--data-dir")
    ls.add_argument("--json", action="store_true")

    cache = sub.add_parser("cache", help="inspect or clear the call cache")
    cache.add_argument("action", choices=("stats", "clear"))
    cache.add_argument("--cache", metavar="PATH")
    cache.add_argument("--namespace", help="only this namespace (e.g. llm:verifier, search:serper)")

    corpus = sub.add_parser("corpus", help="build or query a local passage store")
    csub = corpus.add_subparsers(dest="corpus_command", required=True)
    build = csub.add_parser("build", help="build a store from JSONL, a folder of .txt, a FActScore DB or a store")
    build.add_argument("source", nargs="+", help="one or more inputs, read in order; the store named by --out may "
                       "be one of them (rebuild or extend it)")
    build.add_argument("--out", required=True)
    build.add_argument("--passage-words", type=int, default=256)
    build.add_argument("--separator", default=None, help="passage separator inside a FActScore DB's text")
    judge = sub.add_parser("judge", help="serve a judge model (vLLM on GPU, llama.cpp on CPU)")
    jsub = judge.add_subparsers(dest="judge_command", required=True)
    serve = jsub.add_parser("serve", help="start an OpenAI-compatible judge server and wait until it is ready")
    serve.add_argument("--model", required=True, help="HF id or local path (a .gguf file for llama-cpp)")
    serve.add_argument("--backend", choices=("vllm", "llama-cpp"), default="vllm")
    serve.add_argument("--tensor-parallel", type=int, default=1)
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--max-num-seqs", type=int, default=256)
    serve.add_argument("--served-name", help="model name clients use (default: --model)")
    serve.add_argument("--ready-timeout", type=float, default=1800.0)
    serve.add_argument("--dry-run", action="store_true", help="print the server command and exit")

    lb = sub.add_parser("leaderboard", help="build the static leaderboard from run directories")
    lbsub = lb.add_subparsers(dest="leaderboard_command", required=True)
    lbb = lbsub.add_parser("build", help="write index.html, leaderboard.md/.csv, pareto.svg and drill-downs")
    lbb.add_argument("runs", nargs="+", help="run directories")
    lbb.add_argument("--out", default="leaderboard")

    cmp_ = sub.add_parser("compare", help="regression gate: candidate run against a baseline run")
    cmp_.add_argument("base")
    cmp_.add_argument("candidate")
    cmp_.add_argument("--metric", default="precision")
    cmp_.add_argument("--max-drop", type=float, default=1.0,
                      help="allowed drop (percentage points for rates, units otherwise)")
    cmp_.add_argument("--alpha", type=float, default=0.05)
    cmp_.add_argument("--min-pairs", type=int, default=10)
    cmp_.add_argument("--per-task", action="store_true", help="also fail on a regression in any single task")
    cmp_.add_argument("--seed", type=int, default=0)
    cmp_.add_argument("--json", action="store_true")

    search = csub.add_parser("search", help="top-k passages for a query")
    search.add_argument("store")
    search.add_argument("query")
    search.add_argument("-k", type=int, default=5)
    search.add_argument("--topic")
    return parser


# ------------------------------------------------------------------ role specs

def _urls(value: str | None) -> tuple[str, ...]:
    return tuple(u.strip() for u in value.split(",") if u.strip()) if value else ()


def role_specs(args: argparse.Namespace, with_model: bool) -> dict[str, Any]:
    from factbench.llm import RoleSpec

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


class UsageError(Exception):
    pass


# ------------------------------------------------------------------ commands

def _settings(args: argparse.Namespace, run_id: str, responses: str | None, select_from_run: str | None):
    from factbench.runner import RunSettings

    return RunSettings(
        run_id=run_id, results_dir=args.results_dir, limit=args.limit, seed=args.seed, evidence=args.evidence,
        verify_mode=args.verify_mode, sentences_per_call=args.sentences_per_call,
        claims_per_call=args.claims_per_call, evidence_tokens=args.evidence_tokens,
        relevance=not args.no_relevance, reward_lambda=args.reward_lambda, reward_mu=args.reward_mu,
        responses=responses, max_parallel_samples=args.parallel, fail_on_error=args.fail_on_error,
        progress=not args.no_progress, cache_path=args.cache, data_dir=args.data_dir,
        select_from_run=select_from_run, label=args.label)


def _open_cache(args: argparse.Namespace):
    from factbench.cache import CallCache, default_cache_path

    if getattr(args, "no_cache", False):
        return None
    return CallCache(args.cache or default_cache_path())


def _default_run_id(label: str) -> str:
    slug = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in label.split("/")[-1])[:40]
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}"


def _execute(args: argparse.Namespace, tasks, roles, run_id: str, responses: str | None,
             select_from_run: str | None = None) -> int:
    from factbench.report import summary_table
    from factbench.runner import Runner

    settings = _settings(args, run_id, responses, select_from_run)
    cache = _open_cache(args)
    runner = Runner(settings, roles, tasks, cache)
    print(f"factbench {__version__}: run {run_id} -> {settings.run_dir}", file=sys.stderr)
    from factbench.tasks import DataContext

    data = DataContext.from_env(settings.data_dir).data_dir
    print(f"task data: {data if data else 'none local (Hub downloads where a task has them)'}", file=sys.stderr)
    print(f"tasks: {', '.join(f'{pt.task.name} ({len(pt.prompts)} prompts, evidence {pt.evidence.name})' for pt in runner.plan.tasks) or 'none'}",
          file=sys.stderr)
    for note in runner.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"resume with: --run-id {run_id}", file=sys.stderr)
    summary = runner.run()
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(summary_table(summary))
        cache_line = f"cache hits: {summary['cache']['hits']}/{summary['cache']['calls']} calls"
        if any(summary["resumed"].values()):
            done = ", ".join(f"{stage} {n}" for stage, n in summary["resumed"].items())
            cache_line += f"; already done before this invocation: {done}"
        print(f"\n{cache_line}; wall {summary['wall_seconds']:.1f}s; results in {settings.run_dir}")
    errors = summary["errors"]
    failed = errors["failed_samples"]
    if failed:
        print(f"{failed} sample(s) failed a stage: {errors['stage_failures']} "
              f"(re-run with --run-id {run_id} to retry them)", file=sys.stderr)
    limit = args.fail_on_error
    too_many = failed > limit if limit >= 1 else errors["failed_sample_rate"] > limit
    return EXIT_ERRORS if too_many else EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from factbench.tasks import resolve_tasks

    tasks = resolve_tasks(args.tasks)
    print(f"resolved --tasks {args.tasks!r}: {', '.join(t.name for t in tasks)}", file=sys.stderr)
    roles = role_specs(args, with_model=True)
    run_id = args.run_id or _default_run_id(args.model or Path(args.responses).stem)
    return _execute(args, tasks, roles, run_id, args.responses)


def cmd_score(args: argparse.Namespace) -> int:
    if args.labels:
        return cmd_replay_labels(args)
    if not args.run_dir:
        raise UsageError("score needs RUN_DIR (a run whose answers to re-score) or --labels FILE")
    from factbench.store import RunStore
    from factbench.tasks import discover_tasks

    source = RunStore(args.run_dir)
    spec = source.read_json("run.json")
    if spec is None or not source.path("answers").exists():
        raise UsageError(f"{args.run_dir} is not a run directory with answers (run.json, answers.jsonl)")
    registry = discover_tasks()
    tasks = []
    for name in spec["tasks"]:
        if name not in registry:
            raise UsageError(f"{args.run_dir} used task {name!r}, which is not installed here")
        tasks.append(registry[name])
    # The source run's answers become a responses file for the new run (no regeneration).
    answers_file = Path(args.run_dir) / "answers.jsonl"
    roles = role_specs(args, with_model=False)
    run_id = args.run_id or _default_run_id(f"{Path(args.run_dir).name}-rescored")
    args.limit = None  # the source run's prompt selection is reused as it is
    return _execute(args, tasks, roles, run_id, str(answers_file), select_from_run=args.run_dir)


def cmd_replay_labels(args: argparse.Namespace) -> int:
    from factbench.labels import replay
    from factbench.metrics import aggregate
    from factbench.report import summary_table

    if args.run_id:  # also write a run directory (a human-judged leaderboard row)
        from factbench.labels import write_replay_run

        write_replay_run(args.labels, Path(args.results_dir) / args.run_id, task=args.labels_task,
                         model=args.labels_model, seed=args.seed)
    scores = replay(args.labels)
    agg = aggregate(scores, args.seed)
    summary = {"tasks": {Path(args.labels).stem: agg}, "overall": agg}
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
    from factbench.calibrate import calibrate
    from factbench.evidence import open_backend
    from factbench.llm import LLMClient

    roles = role_specs(args, with_model=False)
    cache = _open_cache(args)
    evidence = "none" if args.evidence == "auto" else args.evidence
    result = calibrate(args.labels, LLMClient(roles["verifier"], cache), open_backend(evidence, cache),
                       limit=args.limit, seed=args.seed, mode=args.mode, claims_per_call=args.claims_per_call,
                       evidence_tokens=args.evidence_tokens, parallel=args.parallel or 32)
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


def cmd_list(args: argparse.Namespace) -> int:
    from factbench.tasks import DataContext, TaskDataUnavailable, discover_tasks

    ctx = DataContext.from_env(args.data_dir)
    rows = []
    for task in sorted(discover_tasks().values(), key=lambda t: t.name):
        count: Any = task.n_prompts
        if ctx.data_dir is not None:
            try:
                count = len(task.load(ctx.__class__(ctx.data_dir, offline=True)))
            except TaskDataUnavailable:
                pass
        rows.append({"name": task.name, "version": task.version, "prompts": count, "k": task.k,
                     "evidence": task.default_evidence, "source": task.source, "revision": task.revision,
                     "license": task.license, "tags": list(task.tags)})
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    header = ["name", "version", "prompts", "source", "license", "tags"]
    table = [[r["name"], r["version"], "?" if r["prompts"] is None else str(r["prompts"]), r["source"],
              r["license"], ",".join(r["tags"])] for r in rows]
    widths = [max(len(x[i]) for x in [header] + table) for i in range(len(header))]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    for r in table:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    return EXIT_OK


def cmd_cache(args: argparse.Namespace) -> int:
    from factbench.cache import CallCache, default_cache_path

    cache = CallCache(args.cache or default_cache_path())
    if args.action == "stats":
        print(json.dumps(cache.stats(), indent=2))
    else:
        print(f"removed {cache.clear(args.namespace)} entries from {cache.path}")
    return EXIT_OK


def cmd_corpus(args: argparse.Namespace) -> int:
    from factbench.corpus import FACTSCORE_SEPARATOR, PassageStore, iter_documents

    if args.corpus_command == "build":
        sep = args.separator or FACTSCORE_SEPARATOR
        documents = (doc for source in args.source for doc in iter_documents(source, sep))
        counts = PassageStore.build(args.out, documents, args.passage_words)
        print(f"built {args.out}: {counts['documents']} documents, {counts['passages']} passages")
        return EXIT_OK
    store = PassageStore(args.store)
    for p in store.search(args.query, args.k, args.topic):
        print(f"[{p.score}] {p.title}: {p.text[:200]}")
    return EXIT_OK


def cmd_judge(args: argparse.Namespace) -> int:
    from factbench import serve

    name = args.served_name or (Path(args.model).stem if args.backend == "llama-cpp" else args.model)
    if args.backend == "vllm":
        cmd = serve.vllm_command(args.model, port=args.port, host=args.host, tensor_parallel=args.tensor_parallel,
                                 max_num_seqs=args.max_num_seqs, served_name=name)
    else:
        cmd = serve.llama_cpp_command(args.model, port=args.port, host=args.host, served_name=name)
    if args.dry_run:
        print(" ".join(cmd))
        return EXIT_OK
    missing = serve.backend_available(args.backend)
    if missing:
        raise UsageError(missing)
    url = f"http://{args.host}:{args.port}/v1"
    print(f"starting: {' '.join(cmd)}", file=sys.stderr)
    try:
        served = serve.start(cmd, url, name, timeout_s=args.ready_timeout)
    except serve.ServeError as exc:
        print(f"factbench judge serve: {exc}", file=sys.stderr)
        return EXIT_ERRORS
    print(f"ready: --judge openai/{name} --judge-base-url {url}", flush=True)
    try:
        return served.proc.wait()
    except KeyboardInterrupt:
        served.stop()
        return EXIT_OK


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from factbench.leaderboard import build

    info = build([Path(r) for r in args.runs], Path(args.out))
    print(f"leaderboard: {info['rows']} runs, tasks {', '.join(info['tasks'])} -> {args.out}/index.html")
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    from factbench.compare import CompareError, compare, gate, markdown_report

    try:
        deltas, meta = compare(args.base, args.candidate, args.metric, args.max_drop, args.alpha,
                               args.min_pairs, args.seed)
    except CompareError as exc:
        print(f"factbench compare: {exc}", file=sys.stderr)
        return exc.code
    failed = gate(deltas, args.per_task)
    if args.json:
        print(json.dumps({**meta, "failed": failed, "deltas": [d.__dict__ for d in deltas]}, indent=2))
    else:
        print(markdown_report(deltas, meta, failed))
    return EXIT_ERRORS if failed else EXIT_OK


COMMANDS = {"run": cmd_run, "score": cmd_score, "list": cmd_list, "cache": cmd_cache, "corpus": cmd_corpus,
            "leaderboard": cmd_leaderboard, "compare": cmd_compare, "judge": cmd_judge,
            "calibrate": cmd_calibrate}


def main(argv: list[str] | None = None) -> int:
    from factbench.evidence import EvidenceUnavailable
    from factbench.jsonl import InputFileError
    from factbench.llm import LLMError
    from factbench.store import RunLocked, RunMismatch
    from factbench.tasks import TaskDataUnavailable, TaskError

    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (UsageError, TaskError, InputFileError, RunLocked, RunMismatch, EvidenceUnavailable,
            TaskDataUnavailable, FileNotFoundError) as exc:
        print(f"factbench: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except LLMError as exc:  # raised before any work (e.g. a missing API key variable)
        print(f"factbench: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("factbench: interrupted; re-run with the same --run-id to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
