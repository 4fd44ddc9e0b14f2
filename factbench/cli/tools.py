"""`list`, `data fetch`, `cache`, `corpus` and `judge serve`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from factbench.cli.options import EXIT_ERRORS, EXIT_OK, EXIT_USAGE, UsageError


def _print_table(header: list[str], table: list[list[str]]) -> None:
    widths = [max(len(x[i]) for x in [header] + table) for i in range(len(header))]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
    for r in table:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


def cmd_list(args: argparse.Namespace) -> int:
    if args.what == "evidence":
        from factbench.evidence.backends import discover_backends

        rows = [{"name": n, "from": p.origin, "about": (p.obj.__doc__ or "").strip().splitlines()[0]
                 if p.obj.__doc__ else ""} for n, p in sorted(discover_backends().items())]
        header = ["name", "from"]
    elif args.what == "judges":
        from factbench.judges.registry import discover_judges

        rows = [{**p.obj.describe(), "from": p.origin} for _, p in sorted(discover_judges().items())]
        header = ["name", "role", "templates", "from"]
    elif args.what == "stages":
        from factbench.stages.registry import discover_stages, registered_stages

        origins = {name: p.origin for name, p in discover_stages().items()}
        rows = [{**s.describe(), "flags": [*(f"--{r.flag}" for r in (*s.roles, *s.models)),
                                           *(f"--{o.replace('_', '-')}" for o in (s.options.model_fields if s.options else ()))],
                 "from": origins[s.name]} for s in registered_stages()]
        header = ["name", "order", "record", "reads", "roles", "flags", "from"]
    else:
        rows, header = _task_rows(args), ["name", "version", "prompts", "data", "source", "license", "tags", "from"]
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    _print_table(header, [[_cell(r[h]) for h in header] for r in rows])
    if args.what == "tasks":
        from factbench.tasks import DataContext

        where = DataContext.from_env(args.data_dir).data_dir or "none (set --data-dir or FACTBENCH_DATA_DIR)"
        print(f"\ndata directory: {where}; missing data: `factbench data fetch TASKS --to DIR` (docs/tasks.md)")
    return EXIT_OK


def _cell(value: Any) -> str:
    if value is None:
        return "?"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def _task_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    from factbench.store.jsonl import InputFileError
    from factbench.tasks import DataContext, TaskDataUnavailable, TaskError, discover_task_plugins

    ctx = DataContext(DataContext.from_env(args.data_dir).data_dir, offline=True)  # listing never downloads
    rows = []
    for name, plugin in sorted(discover_task_plugins().items()):
        task = plugin.obj
        count: Any = task.n_prompts
        try:
            count, data = len(task.load(ctx)), "local"
        except TaskDataUnavailable:
            data = "missing"
        except (TaskError, InputFileError) as exc:
            data = f"unreadable ({exc})"
        rows.append({"name": name, "version": task.version, "prompts": count, "data": data, "k": task.k,
                     "evidence": task.default_evidence, "source": task.source, "revision": task.revision,
                     "license": task.license, "tags": list(task.tags), "from": plugin.origin})
    return rows


def cmd_data(args: argparse.Namespace) -> int:
    from factbench.taskdata import DataFetchError, fetch
    from factbench.tasks import resolve_tasks

    to = Path(args.to)
    failed = 0
    for task in resolve_tasks(args.tasks):
        if not task.data_files:
            print(f"{task.name}: no data files (built in)")
            continue
        try:
            done = fetch(task.data_files, to, force=args.force)
        except DataFetchError as exc:
            print(f"{task.name}: failed: {exc}", file=sys.stderr)
            failed += 1
            continue
        new = sum(1 for _, status in done if status == "downloaded")
        print(f"{task.name}: {len(done)} file(s) in {to} ({new} downloaded, {len(done) - new} already there)")
    if failed:
        print(f"{failed} task(s) failed; nothing partial was left (re-run to retry)", file=sys.stderr)
        return EXIT_USAGE
    print(f"use it with: --data-dir {to}  (or export FACTBENCH_DATA_DIR={to})")
    return EXIT_OK


def cmd_cache(args: argparse.Namespace) -> int:
    from factbench.llm.cache import CallCache, default_cache_path
    from factbench.llm.memo import VerdictMemo, memo_path

    cache = CallCache(args.cache or default_cache_path())
    memo = VerdictMemo(memo_path(cache.path)) if memo_path(cache.path).exists() else None
    if args.action == "stats":
        stats = cache.stats()
        if memo is not None:
            stats["memo"] = {"path": str(memo.path), "entries": memo.entries()}
        print(json.dumps(stats, indent=2))
    else:
        print(f"removed {cache.clear(args.namespace)} entries from {cache.path}")
        if memo is not None and args.namespace is None:  # the judgements the removed calls gave go too
            print(f"removed {memo.clear()} claim judgements from {memo.path}")
    return EXIT_OK


def cmd_corpus(args: argparse.Namespace) -> int:
    from factbench.evidence.corpus import FACTSCORE_SEPARATOR, PassageStore, iter_documents

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
    from factbench.serving import judge_server as serve

    name = args.served_name or (Path(args.model).stem if args.backend == "llama-cpp" else args.model)
    if args.backend == "vllm":
        cmd = serve.vllm_command(args.model, port=args.port, host=args.host, tensor_parallel=args.tensor_parallel,
                                 max_num_seqs=args.max_num_seqs, served_name=name, extra=args.server_args)
    else:
        cmd = serve.llama_cpp_command(args.model, port=args.port, host=args.host, served_name=name,
                                      extra=args.server_args)
    if args.dry_run:
        print(" ".join(cmd))
        return EXIT_OK
    missing = serve.backend_available(args.backend)
    if missing:
        raise UsageError(missing)
    url = serve.client_url(args.host, args.port)
    print(f"starting: {' '.join(cmd)}", file=sys.stderr)
    try:
        served = serve.start(cmd, serve.local_url(args.host, args.port), name, timeout_s=args.ready_timeout)
    except serve.ServeError as exc:
        print(f"factbench judge serve: {exc}", file=sys.stderr)
        return EXIT_ERRORS
    print(f"ready: --judge openai/{name} --judge-base-url {url}", flush=True)
    try:
        return served.proc.wait()
    except KeyboardInterrupt:
        served.stop()
        return EXIT_OK
