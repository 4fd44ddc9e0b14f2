"""The `factbench` command line. Exit codes: 0 ok, 1 too many errors, 2 usage or input error,
3 runs not comparable (`compare`), 4 stopped at --max-cost (resumable), 130 interrupted (EXIT_CODES_HELP)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from factbench import __version__
from factbench.cli.checks import POSITIVE, SECONDS, number, whole
from factbench.cli.evalset import add_evalset_parser, cmd_evalset
from factbench.cli.hacks import add_hacks_parser, cmd_hacks
from factbench.cli.options import (
    EXIT_CODES_HELP,
    EXIT_USAGE,
    VERIFIER_ONLY,
    Parser,
    UsageError,
    _add_judge_args,
    _add_sample_args,
    _add_scoring_args,
    add_former_flags,
    add_model_role_args,
)
from factbench.cli.reward import add_reward_parser, cmd_reward
from factbench.cli.run import cmd_calibrate, cmd_merge, cmd_run, cmd_score
from factbench.cli.tools import cmd_cache, cmd_corpus, cmd_data, cmd_judge, cmd_list
from factbench.cli.views import (
    add_tracking_args,
    add_view_commands,
    cmd_compare,
    cmd_export,
    cmd_leaderboard,
    cmd_view,
)
from factbench.pipeline.settings import ROLE_DEFAULTS
from factbench.stages.generate import RESPONSES_FORMAT as RESPONSES_HELP


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="factbench", description="Long-form factuality evaluation.", epilog=EXIT_CODES_HELP)
    parser.add_argument("--version", action="version", version=f"factbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="generate (or read) answers and score them",
                         epilog=f"{RESPONSES_HELP}\n\n{EXIT_CODES_HELP}")
    add_model_role_args(run, only=("model",))
    run.add_argument("--temperature", type=number(0), default=ROLE_DEFAULTS.model_temperature,
                     help="sampling temperature of the model under test")
    run.add_argument("--max-tokens", type=POSITIVE, default=ROLE_DEFAULTS.model_max_tokens,
                     help="max answer tokens of the model under test")
    run.add_argument("--model-timeout", type=SECONDS, default=ROLE_DEFAULTS.model_timeout_s,
                     help="most seconds one request to the model under test may take; below that the limit "
                          "adapts (docs/reliability.md)")
    run.add_argument("--responses", metavar="FILE.jsonl",
                     help="score answers produced elsewhere, no generation (format below and in docs/responses.md)")
    run.add_argument("--tasks", default="all", help="all, names, tags, globs or ./file.py, comma-separated")
    _add_scoring_args(run)
    add_tracking_args(run)

    score = sub.add_parser("score", help="re-score an existing run's answers, or replay human labels",
                           epilog=EXIT_CODES_HELP)
    score.add_argument("run_dir", nargs="?", help="run directory whose answers to score")
    score.add_argument("--labels", metavar="FILE", help="FActScore-format human-labelled claims to aggregate")
    score.add_argument("--labels-task", default="bio", help="task name for a label replay run directory")
    score.add_argument("--labels-model", help="model name for a label replay run (default: the file name)")
    _add_scoring_args(score)
    add_tracking_args(score)

    cal = sub.add_parser("calibrate", help="agreement of a judge with human-labelled claims")
    cal.add_argument("--labels", required=True, metavar="FILE", help="FActScore-format human-labelled claims")
    cal.add_argument("--mode", choices=("binary", "ternary"), default="binary", help="label set compared")
    _add_judge_args(cal, only=VERIFIER_ONLY)
    _add_sample_args(cal)

    ls = sub.add_parser("list", help="list tasks (with whether their data is here), evidence backends, judges "
                                     "or stages (with their judge roles)")
    ls.add_argument("what", choices=("tasks", "evidence", "judges", "stages"), help="what to list")
    ls.add_argument("--data-dir", help="local task data (default: $FACTBENCH_DATA_DIR, else ./data, "
                                       "else ../shared/data when present)")
    ls.add_argument("--json", action="store_true", help="print JSON rows instead of the table")

    data = sub.add_parser("data", help="download task data for offline use")
    dsub = data.add_subparsers(dest="data_command", required=True)
    fetch = dsub.add_parser("fetch", help="download every selected task's data at its pinned revision",
                            epilog="Files land in the --data-dir layout of docs/tasks.md; use the folder with "
                                   "--data-dir or FACTBENCH_DATA_DIR.")
    fetch.add_argument("tasks", help="task selection, as --tasks takes it (all, names, tags, globs)")
    fetch.add_argument("--to", required=True, metavar="DIR", help="data directory to write")
    fetch.add_argument("--force", action="store_true", help="download files that are already there again")

    cache = sub.add_parser("cache", help="inspect or clear the call cache")
    cache.add_argument("action", choices=("stats", "clear"), help="show counts, or remove entries")
    cache.add_argument("--cache", metavar="PATH", help="SQLite call cache (default ~/.cache/factbench/cache.sqlite)")
    cache.add_argument("--namespace", help="only this namespace (e.g. llm:verifier, search:serper)")

    corpus = sub.add_parser("corpus", help="build or query a local passage store")
    csub = corpus.add_subparsers(dest="corpus_command", required=True)
    build = csub.add_parser("build", help="build a store from JSONL, a folder of .txt, a FActScore DB or a store")
    build.add_argument("source", nargs="+", help="one or more inputs, read in order: a .jsonl file ({title, text} per "
                       "line), a folder of .txt files, a FActScore .db, or a store (the one named by --out too: "
                       "rebuild or extend it)")
    build.add_argument("--out", required=True, help="the store to write (e.g. wiki.db, with wiki.db.postings beside it)")
    build.add_argument("--passage-words", type=POSITIVE, default=256, help="words per passage")
    build.add_argument("--separator", default=None, help="passage separator inside a FActScore DB's text")
    judge = sub.add_parser("judge", help="serve a judge model (vLLM on GPU, llama.cpp on CPU)")
    jsub = judge.add_subparsers(dest="judge_command", required=True)
    serve = jsub.add_parser("serve", help="start an OpenAI-compatible judge server and wait until it is ready")
    serve.add_argument("--model", required=True, help="HF id or local path (a .gguf file for llama-cpp)")
    serve.add_argument("--backend", choices=("vllm", "llama-cpp"), default="vllm", help="vLLM on GPU, llama.cpp on CPU")
    serve.add_argument("--tensor-parallel", type=POSITIVE, default=1, help="GPUs per model (vLLM)")
    serve.add_argument("--port", type=whole(1, 65535), default=8000, help="port to listen on")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on; 0.0.0.0 serves other nodes (docs/serving.md)")
    serve.add_argument("--max-num-seqs", type=POSITIVE, default=256, help="sequences decoded at once (vLLM)")
    serve.add_argument("--served-name", help="model name clients use (default: --model)")
    serve.add_argument("--ready-timeout", type=SECONDS, default=1800.0,
                       help="seconds to wait for the server to answer a test completion")
    serve.add_argument("--dry-run", action="store_true", help="print the server command and exit")
    serve.add_argument("server_args", nargs="*", metavar="-- SERVER_ARGS",
                       help="passed to the server as they are, after factbench's own flags (e.g. "
                            "-- --data-parallel-size 2 --quantization fp8)")

    add_view_commands(sub)
    add_reward_parser(sub)

    merge = sub.add_parser("merge", help="join the shards of one run (run --shard I/N) into one run directory")
    merge.add_argument("runs", nargs="+", help="the shards' run directories")
    merge.add_argument("--out", required=True, help="the merged run directory (must not exist yet)")
    merge.add_argument("--json", action="store_true", help="print the merged summary.json")

    add_hacks_parser(sub)
    add_evalset_parser(sub, run)

    search = csub.add_parser("search", help="top-k passages for a query")
    search.add_argument("store", help="a store written by `corpus build`")
    search.add_argument("query", help="search text")
    search.add_argument("-k", type=POSITIVE, default=5, help="passages to show")
    search.add_argument("--topic", help="only passages of this document title")
    add_former_flags(parser)
    return parser


COMMANDS = {"run": cmd_run, "score": cmd_score, "list": cmd_list, "data": cmd_data, "cache": cmd_cache,
            "corpus": cmd_corpus,
            "leaderboard": cmd_leaderboard, "compare": cmd_compare, "judge": cmd_judge,
            "calibrate": cmd_calibrate, "export": cmd_export, "view": cmd_view, "hacks": cmd_hacks,
            "merge": cmd_merge, "reward": cmd_reward, "eval-set": cmd_evalset}


def main(argv: list[str] | None = None) -> int:
    from factbench.errors import RunAborted
    from factbench.evidence.backends import EvidenceUnavailable
    from factbench.judges.registry import UnknownJudge
    from factbench.llm.client import LLMError
    from factbench.llm.preflight import PreflightError
    from factbench.llm.redact import redact
    from factbench.pipeline.interrupt import Interrupted, raise_on_sigterm, restore_sigterm
    from factbench.plugins import PluginError
    from factbench.store.jsonl import InputFileError
    from factbench.store.run_dir import RunLocked, RunMismatch
    from factbench.tasks import TaskDataUnavailable, TaskError

    args = build_parser().parse_args(argv)
    previous = raise_on_sigterm()
    try:
        return COMMANDS[args.command](args)
    except (UsageError, TaskError, InputFileError, RunLocked, RunMismatch, EvidenceUnavailable,
            TaskDataUnavailable, UnknownJudge, PluginError, PreflightError, FileNotFoundError) as exc:
        print(f"factbench: error: {redact(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except LLMError as exc:  # raised before any work (e.g. a missing API key variable)
        print(f"factbench: error: {redact(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except RunAborted as exc:  # the whole run stopped (disk full, judge gone): resumable
        print(f"factbench: error: {redact(str(exc))}{_resume_hint(args)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"factbench: interrupted{_resume_hint(args)}", file=sys.stderr)
        return 128 + signal.SIGINT
    except Interrupted as exc:
        print(f"factbench: {exc}{_resume_hint(args)}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # the reader of our output left (`factbench ... | head`): stop quietly
        _silence_stdout()
        return 128 + signal.SIGPIPE
    finally:
        restore_sigterm(previous)


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush does not fail on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # not a real file (tests capture output)
        pass


def _resume_hint(args: argparse.Namespace) -> str:
    """How to resume, where there is something to resume: a run directory holding run.json, or a set."""
    if args.command == "eval-set":
        return "; re-run the same command to resume (finished cells are kept)"
    run_dir = getattr(args, "run_dir_created", None)
    if args.command not in ("run", "score") or run_dir is None or not (Path(run_dir) / "run.json").exists():
        return ""
    return f"; re-run with --run-id {args.run_id} to resume"


def entry() -> None:
    """The console command: main(), but an interrupted run leaves at once, skipping the
    interpreter's teardown (over a second with litellm loaded); every record is already on disk."""
    code = main()
    if code in (128 + signal.SIGINT, 128 + signal.SIGTERM):
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a closed pipe: nothing more to say
                pass
        os._exit(code)
    raise SystemExit(code)


if __name__ == "__main__":
    entry()
