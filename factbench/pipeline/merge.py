"""`factbench merge`: join the shards of one run (`--shard 1/N` ... `N/N`) into one run directory.

The merged directory is the run that `factbench run` without `--shard` would have written: the
same records (the latest of each sample, in plan order), the same run identity, and a summary
computed by the same code from the same scores in the same order — so the metrics and their
bootstrap intervals are identical. Shards must come from one configuration; anything else is
refused, never mixed.

`join_tasks` does the same for runs of one configuration over different tasks (eval-set runs
each (run, task) cell on its own): the joined directory is the run over all their tasks.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

from factbench.hashing import sha256_hex
from factbench.pipeline import accounting
from factbench.pipeline.identity import diff
from factbench.pipeline.options import UsageError, parse_shard
from factbench.pipeline.plan import PlannedTask
from factbench.pipeline.settings import RunSettings
from factbench.pipeline.shards import interleave
from factbench.pipeline.summary import build_summary, collect_scores, read_run, unresolved_failures
from factbench.scoring.metrics import as_rows
from factbench.stages.registry import registered_stages, stage_files
from factbench.store.artefacts import RunSpec, RunSummary
from factbench.store.records import Passage, sample_key
from factbench.store.run_dir import RunStore
from factbench.tasks import Prompt, Task

# Settings that may differ between shards (transport, where things live) — everything else must match.
_LOCAL_SETTINGS = {"run_id", "results_dir", "shard", "progress", "cache_path", "max_parallel_samples",
                   "data_dir", "fail_on_error", "label", "memo"}


_PER_TASK = {"tasks", "templates"}  # identity parts that differ between runs over different tasks


class _Evidence:
    """The evidence backend as a summary needs it: its recorded name."""

    def __init__(self, name: str):
        self.name = name
        self.uses_evidence = not name.startswith("none")

    async def retrieve(self, claims: list[str], prompt: Prompt, task: str) -> tuple[list[list[Passage]], list[str]]:
        raise RuntimeError("a merge reads the parts' records; it retrieves nothing")

    async def aclose(self) -> None:
        return None


def _read(run_dir: str, shard: bool = True) -> tuple[RunStore, dict[str, Any], dict[str, Any]]:
    store = RunStore(run_dir, stage_files())
    typed_spec, typed_summary = store.read_spec(), store.read_summary()
    spec = typed_spec.model_dump(mode="json") if typed_spec else None
    summary = typed_summary.model_dump(mode="json") if typed_summary else None
    if spec is None:
        raise UsageError(f"{run_dir}: not a run directory (no run.json)")
    if summary is None or not spec.get("finished_at"):
        raise UsageError(f"{run_dir}: this shard has not finished; run it again with the same --run-id, then merge")
    if shard and not spec.get("settings", {}).get("shard"):
        raise UsageError(f"{run_dir}: not a shard (it was run without --shard I/N)")
    if not shard and spec.get("settings", {}).get("shard"):
        raise UsageError(f"{run_dir}: a shard ({spec['settings']['shard']}); merge its shards first")
    return store, spec, summary


def _without_prompt_ids(identity: dict[str, Any]) -> dict[str, Any]:
    tasks = {name: {k: v for k, v in t.items() if k != "prompt_ids_sha"} for name, t in identity["tasks"].items()}
    return {**identity, "tasks": tasks}


def _check(shards: list[tuple[RunStore, dict, dict]]) -> int:
    """All shards of one N, each index once, one configuration, and the sizes the partition gives."""
    parsed = [parse_shard(spec["settings"]["shard"]) for _, spec, _ in shards]
    counts = {n for _, n in parsed}
    if len(counts) != 1:
        raise UsageError(f"shards of different splits: {sorted(spec['settings']['shard'] for _, spec, _ in shards)}")
    count = counts.pop()
    indices = Counter(i for i, _ in parsed)
    missing = [i for i in range(1, count + 1) if i not in indices]
    twice = [i for i, n in indices.items() if n > 1]
    if missing or twice:
        raise UsageError(f"need each shard 1..{count} exactly once: missing {missing or 'none'}, "
                         f"repeated {twice or 'none'}")
    first = shards[0][1]
    base = {k: v for k, v in first["settings"].items() if k not in _LOCAL_SETTINGS}
    for store, spec, _ in shards[1:]:
        differences = diff(_without_prompt_ids(first["identity"]), _without_prompt_ids(spec["identity"]))
        differences += diff(base, {k: v for k, v in spec["settings"].items() if k not in _LOCAL_SETTINGS})
        if list(spec["tasks"]) != list(first["tasks"]):
            differences.append(f"tasks: {list(first['tasks'])} -> {list(spec['tasks'])}")
        if differences:
            raise UsageError(f"{store.dir} is not a shard of the same run as {shards[0][0].dir}:\n  "
                             + "\n  ".join(differences[:20]))
    total = sum(sum(t["n_prompts"] for t in spec["tasks"].values()) for _, spec, _ in shards)
    for (index, _), (store, spec, _) in zip(parsed, shards):
        expected = len(range(index - 1, total, count))
        got = sum(t["n_prompts"] for t in spec["tasks"].values())
        if got != expected:
            raise UsageError(f"{store.dir}: shard {index}/{count} planned {got} prompts, the partition of "
                             f"{total} gives {expected}; were the shards run with the same --limit, --seed and data?")
    return count


def merge_runs(run_dirs: list[str], out: str | Path) -> RunSummary:
    """Write the merged run to `out` (which must not exist yet) and return its summary."""
    if not run_dirs:
        raise UsageError("merge needs the run directories of the shards")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"{out} already exists and is not empty; merge into a new directory")
    shards = [_read(d) for d in run_dirs]
    count = _check(shards)
    shards.sort(key=lambda s: parse_shard(s[1]["settings"]["shard"])[0])
    specs = [spec for _, spec, _ in shards]
    order = interleave([[sample_key(name, pid) for name, t in spec["tasks"].items() for pid in t["prompt_ids"]]
                        for spec in specs])
    task_of = {key: key.split("\x1f", 1)[0] for key in order}
    prompt_ids = {name: [key.split("\x1f", 1)[1] for key in order if task_of[key] == name] for name in specs[0]["tasks"]}

    summaries = [summary for _, _, summary in shards]
    return _write(out, shards, specs[0]["tasks"], order, prompt_ids, {n: summaries[0] for n in specs[0]["tasks"]},
                  _merged_spec(specs, out, prompt_ids, count, [s.dir for s, _, _ in shards]))


def join_tasks(run_dirs: list[str], out: str | Path) -> RunSummary:
    """Join finished runs of one configuration over disjoint task sets (one task each, say) into
    the run that one `factbench run` over all their tasks, in the order given, would have written."""
    if not run_dirs:
        raise UsageError("joining needs the run directories of the parts")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"{out} already exists and is not empty; join into a new directory")
    parts = [_read(d, shard=False) for d in run_dirs]
    joined = {name for _, spec, _ in parts for name in spec["tasks"]}
    for _, _, summary in parts:  # a part's note that it ignored answers of a task another part scored
        summary["notes"] = [n for n in summary.get("notes", []) if not any(
            n.startswith(f"responses for task {name!r}") for name in joined)]
    first = parts[0][1]
    base = {k: v for k, v in first["settings"].items() if k not in _LOCAL_SETTINGS}
    seen: dict[str, Path] = {}
    templates: dict[str, str] = {}  # a task's evidence decides which verifier template it used
    for store, spec, _ in parts:
        differences = diff({k: v for k, v in first["identity"].items() if k not in _PER_TASK},
                           {k: v for k, v in spec["identity"].items() if k not in _PER_TASK})
        differences += [f"templates.{n}: {templates[n]} -> {i}" for n, i in spec["identity"]["templates"].items()
                        if templates.setdefault(n, i) != i]
        differences += diff(base, {k: v for k, v in spec["settings"].items() if k not in _LOCAL_SETTINGS})
        if differences:
            raise UsageError(f"{store.dir} is not a part of the same run as {parts[0][0].dir}:\n  "
                             + "\n  ".join(differences[:20]))
        for name in spec["tasks"]:
            if name in seen:
                raise UsageError(f"task {name} is in both {seen[name]} and {store.dir}")
            seen[name] = store.dir
    tasks = {name: t for _, spec, _ in parts for name, t in spec["tasks"].items()}
    prompt_ids = {name: list(t["prompt_ids"]) for name, t in tasks.items()}
    order = [sample_key(name, pid) for name, ids in prompt_ids.items() for pid in ids]
    summary_of = {name: summary for _, spec, summary in parts for name in spec["tasks"]}
    identity = {**first["identity"], "templates": templates,
                "tasks": {n: t for _, spec, _ in parts for n, t in spec["identity"]["tasks"].items()}}
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    spec = {**first, "run_id": out.name, "identity": identity, "identity_sha": sha256_hex(identity, 16),
            "settings": {**first["settings"], "run_id": out.name, "results_dir": str(out.parent)}, "tasks": tasks,
            "skipped_tasks": {k: v for _, s, _ in parts for k, v in s.get("skipped_tasks", {}).items()},
            "started_at": min(s["started_at"] for _, s, _ in parts), "resumed_at": [],
            "finished_at": max(s["finished_at"] for _, s, _ in parts),
            "merged": {"tasks_from": [str(s.dir) for s, _, _ in parts], "at": now}}
    return _write(out, parts, tasks, order, prompt_ids, summary_of, spec)


def _write(out: Path, parts: list[tuple[RunStore, dict, dict]], tasks: dict[str, dict], order: list[str],
           prompt_ids: dict[str, list[str]], summary_of: dict[str, dict], spec: dict[str, Any]) -> RunSummary:
    """Write the parts' records in `order` into `out` and summarise them as one run."""
    summaries = [summary for _, _, summary in parts]
    settings = RunSettings(**{**spec["settings"], "run_id": out.name, "results_dir": str(out.parent), "shard": None})
    planned = {}
    for name, t in tasks.items():
        task = Task(name=name, version=t["version"], loader=lambda ctx: [], k=t["k"])
        planned[name] = PlannedTask(task, [Prompt(id=pid, text="") for pid in prompt_ids[name]], _Evidence(t["evidence"]),
                                    evidence_chosen_by=summary_of[name]["tasks"][name].get("evidence_chosen_by", ""))
    # Who judged each task: the record of the part that scored it (all shards of a task agree).
    task_judges = {name: summary_of[name]["tasks"][name]["judge"] for name in planned}
    relevance_tasks = {name for name, judge in task_judges.items() if "relevance" in judge.get("roles", {})}
    position = {key: i for i, key in enumerate(order)}

    stages = registered_stages()
    target = RunStore(out, stage_files(stages))
    with target:
        for stage in target.record_types:  # every record (superseded attempts carry usage too), in plan order
            records = [r for store, _, _ in parts for r in store.iter_records(stage)]
            for record in sorted(records, key=lambda r: position.get(r.key, len(position))):
                target.append(stage, record)
        for store, _, _ in parts:
            for invocation in accounting.read_invocations(store.dir):
                accounting.append_invocation(target.dir, {**invocation, "shard": str(store.dir)})
        latest, usage = read_run(target, stages)
        failed = {key for _, key in unresolved_failures(target)}
        scores = collect_scores(latest, usage, planned, settings, relevance_tasks, failed)
        target.write_scores(as_rows(scores))
        summary = build_summary(
            target, stages, latest, scores, planned, settings, accounting.totals(accounting.read_invocations(target.dir)),
            list(dict.fromkeys(n for s in summaries for n in s.get("notes", []))), task_judges=task_judges,
            resumed=dict(sum((Counter(s.get("resumed", {})) for s in summaries), Counter())),
            budget={"max_cost_usd": settings.max_cost, "stopped_at_max_cost": False},
            judges=summaries[0].get("judges", {}), answers_from=summaries[0].get("answers_from"))
        summary = summary.model_copy(update={"merged_from": [str(store.dir) for store, _, _ in parts]})
        target.write_spec(RunSpec.model_validate(spec))
        target.write_summary(summary)
    return summary


def _merged_spec(specs: list[dict], out: Path, prompt_ids: dict[str, list[str]], count: int,
                 dirs: list[Path]) -> dict[str, Any]:
    first = specs[0]
    settings = RunSettings(**{**first["settings"], "run_id": out.name, "results_dir": str(out.parent), "shard": None})
    identity = dict(first["identity"])
    identity["tasks"] = {name: {**t, "prompt_ids_sha": sha256_hex(prompt_ids[name], 16)}
                         for name, t in identity["tasks"].items()}
    tasks = {name: {**t, "n_prompts": len(prompt_ids[name]), "prompt_ids": prompt_ids[name]}
             for name, t in first["tasks"].items()}
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    return {**first, "run_id": settings.run_id, "identity": identity, "identity_sha": sha256_hex(identity, 16),
            "settings": settings.model_dump(mode="json"), "tasks": tasks,
            "started_at": min(s["started_at"] for s in specs), "resumed_at": [],
            "finished_at": max(s["finished_at"] for s in specs),
            "merged": {"shards": count, "from": [str(d) for d in dirs], "at": now}}
