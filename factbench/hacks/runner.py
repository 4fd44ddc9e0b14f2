"""`factbench hacks`: derive hacked variants of a run's answers, score each as a run, compare.

Layout inside the run directory (all derived, all regenerable):

    hacks/hacks.json                   the latest report (the run's summary.json points to it)
    hacks/<judge key>/variants/*.jsonl the answers scored: original.jsonl and one file per hack
    hacks/<judge key>/<name>/          each scored as an ordinary run (run.json, stage files,
                                       scores.jsonl, summary.json) by the same Runner as `run`

The judge key hashes the judge roles and scoring settings, so rescoring with another judge
never mixes with an earlier one. Calls go through the call cache: a second report with the
same judge makes no new calls.

A variant with no answer to score (every paraphrase failed) or whose scoring stopped is
reported as `empty` or `failed` with the reason, and the report is made of the others; only
the original answers are needed for a report.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from factbench import __version__
from factbench.errors import RunAborted
from factbench.evidence.backends import EvidenceUnavailable
from factbench.hacks.variants import HACK_NAMES, HACKS, derive, paraphrase_all, subject_of
from factbench.hashing import sha256_hex
from factbench.judges.paraphrase import PARAPHRASE
from factbench.llm.cache import CallCache
from factbench.llm.client import LLMClient, LLMError, RoleSpec
from factbench.pipeline.runner import Runner
from factbench.pipeline.settings import RunSettings
from factbench.reports.hacks import moved, paired_changes, raised
from factbench.scoring.reward import RewardSpec
from factbench.stages.base import StageError
from factbench.stages.registry import judge_roles, stage_files
from factbench.store.hacks_file import REPORT_FILE, hacks_pointer
from factbench.store.jsonl import InputFileError
from factbench.store.records import AnswerRecord, sample_key
from factbench.store.run_dir import RunMismatch, RunStore
from factbench.tasks import DataContext, Prompt, Task, TaskError, resolve_tasks, tasks_named

_ROLE_FIELDS = ("api_key_env", "max_concurrency", "timeout_s", "max_retries", "structured_output",
                "schema_item_counts")
# What stops one variant's scoring; the report goes on with the other variants.
_VARIANT_ERRORS = (RunAborted, InputFileError, LLMError, StageError, EvidenceUnavailable)


class HackError(Exception):
    """The run cannot be hacked as asked (usage error)."""


@dataclass
class HackOptions:
    hacks: tuple[str, ...] = HACK_NAMES
    reward: RewardSpec | None = None  # None: the run's own reward settings
    alpha: float = 0.05
    max_raise: float = 0.0
    seed: int = 0
    relevance: bool | None = None  # None: as the run
    data_dir: str | None = None
    tasks: str | None = None  # as `run --tasks`: where tasks that are not installed come from (./file.py)
    progress: bool = False
    say: Callable[[str], None] = field(default=lambda line: None)


def roles_of_run(spec: dict[str, Any]) -> dict[str, RoleSpec]:
    """The judge roles stored in run.json (the model under test is not needed)."""
    roles = {}
    for role, public in spec.get("roles", {}).items():
        if role == "model":
            continue
        roles[role] = RoleSpec(role=role, model=public["model"], base_urls=tuple(public.get("endpoints", ())),
                               params=public.get("params", {}), **{k: public[k] for k in _ROLE_FIELDS if k in public})
    if "verifier" not in roles or "extractor" not in roles:
        raise HackError("the run records no extractor/verifier judge; give --judge")
    return roles


def _tasks_of_run(names: list[str], run_dir: Path, selector: str | None) -> list[Task]:
    """The run's tasks: installed ones by name, the others from `--tasks` (a task file, as for run)."""
    given = {t.name: t for t in resolve_tasks(selector)} if selector else {}
    try:
        installed = tasks_named([n for n in names if n not in given], str(run_dir))
    except TaskError as exc:
        raise HackError(f"{exc}; give the file that defines them: factbench hacks {run_dir} --tasks ./tasks.py") \
            from None
    found = {t.name: t for t in installed} | given
    return [found[n] for n in names]


def _settings_of_run(spec: dict[str, Any], options: HackOptions) -> RunSettings:
    settings = RunSettings.model_validate(spec["settings"])
    update: dict[str, Any] = {"informativeness": True, "limit": None, "progress": options.progress}
    if options.relevance is not None:
        update["relevance"] = options.relevance
    if options.data_dir:
        update["data_dir"] = options.data_dir
    return settings.model_copy(update=update)


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    tmp.replace(path)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def _prompts(tasks, settings: RunSettings) -> dict[str, Prompt]:
    ctx = DataContext.from_env(settings.data_dir)
    return {sample_key(t.name, p.id): p for t in tasks for p in t.load(ctx)}


def _variants(answers: list[AnswerRecord], prompts: dict[str, Prompt], hacks: tuple[str, ...],
              paraphrases: dict[str, dict[int, str]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {"original": [
        {"task": a.task, "id": a.id, "response": a.answer, "reasoning": a.reasoning} for a in answers]}
    for hack in hacks:
        rows = []
        for a in answers:
            prompt = prompts.get(a.key)
            subject = subject_of(prompt.text if prompt else (a.prompt or ""), prompt.topic if prompt else None)
            if hack == "paraphrase" and a.key not in paraphrases:
                continue  # the judge gave no complete paraphrase: counted, never guessed
            rows.append({"task": a.task, "id": a.id,
                         "response": derive(hack, a.answer, subject, a.id, paraphrases.get(a.key))})
        out[hack] = rows
    return out


def _score(name: str, responses: Path, base: RunSettings, hack_dir: Path, run_dir: Path,
           roles: dict[str, RoleSpec], tasks, cache: CallCache | None) -> dict[str, Any]:
    settings = base.model_copy(update={"run_id": name, "results_dir": str(hack_dir), "label": f"hack: {name}",
                                       "responses": str(responses.resolve()), "select_from_run": str(run_dir)})
    if name == "original":  # re-derived each time (from the cache), so its summary counts every call's cost
        shutil.rmtree(hack_dir / name, ignore_errors=True)
    try:
        summary = Runner(settings, roles, tasks, cache).run()
    except RunMismatch:  # the variant text changed (a judge that paraphrases differently): derived, rebuilt
        shutil.rmtree(hack_dir / name)
        summary = Runner(settings, roles, tasks, cache).run()
    return summary.model_dump(mode="json")


def _cost(summary: dict[str, Any], n: int) -> dict[str, dict[str, float]]:
    out = {}
    for role in (r.name for r in judge_roles()):  # every registered stage's judge roles
        stats = summary.get("calls", {}).get(role)
        if stats and n:
            out[role] = {"calls_per_answer": stats["calls"] / n,
                         "prompt_tokens_per_answer": (stats["prompt_tokens"] + stats["cached_prompt_tokens"]) / n}
    return out


def run_hacks(run_dir: str | Path, roles: dict[str, RoleSpec] | None, cache: CallCache | None,
              options: HackOptions) -> dict[str, Any]:
    """Score every variant, write hacks.json and point the run's summary to it; the report."""
    run_dir = Path(run_dir)
    unknown = [h for h in options.hacks if h not in HACK_NAMES]
    if unknown or not options.hacks:
        raise HackError(f"unknown hack(s) {', '.join(unknown) or '(none given)'}; one of {', '.join(HACK_NAMES)}")
    source = RunStore(run_dir, stage_files())
    stored = source.read_spec()
    if stored is None or not source.path("answers").exists():
        raise HackError(f"{run_dir} is not a run directory with answers (run.json, answers.jsonl)")
    spec = stored.model_dump(mode="json")
    try:
        tasks = _tasks_of_run(list(spec["tasks"]), run_dir, options.tasks)
    except TaskError as exc:
        raise HackError(str(exc)) from None
    roles = dict(roles or roles_of_run(spec))
    base = _settings_of_run(spec, options)
    if not base.relevance:
        roles.pop("relevance", None)
    reward = options.reward or RunSettings.model_validate(spec["settings"]).reward  # the run's own, as it scored
    judge_key = sha256_hex({"roles": {r: s.identity() for r, s in sorted(roles.items())},
                            "scoring": {k: v for k, v in base.model_dump().items()
                                        if k in ("evidence", "verify_mode", "sentences_per_call", "claims_per_call",
                                                 "evidence_tokens", "relevance")}}, 8)
    hack_dir = run_dir / "hacks" / judge_key
    with source:  # no run may write this run directory meanwhile
        answers = sorted((a for a in source.load_latest("answers").values() if isinstance(a, AnswerRecord)),
                         key=lambda a: (a.task, a.id))
        prompts = _prompts(tasks, base)
        failed: dict[str, dict[str, int]] = {h: {} for h in options.hacks}
        paraphrases: dict[str, dict[int, str]] = {}
        if "paraphrase" in options.hacks:
            options.say(f"paraphrasing {len(answers)} answers with {roles['extractor'].model}")
            client = LLMClient(roles["extractor"].model_copy(update={"role": "paraphraser"}), cache)

            def note(key: str, kind: str) -> None:
                failed["paraphrase"][kind] = failed["paraphrase"].get(kind, 0) + 1

            paraphrases = asyncio.run(paraphrase_all(client, {a.key: a.answer for a in answers}, on_error=note))
        variants = _variants(answers, prompts, options.hacks, paraphrases)
        if not variants["original"]:
            raise HackError(f"{run_dir} has no answers to alter")
        rows: dict[str, list[dict[str, Any]]] = {}
        summaries: dict[str, dict[str, Any]] = {}
        not_scored: dict[str, dict[str, str]] = {}
        for name, responses in variants.items():
            if not responses:
                not_scored[name] = {"status": "empty", "reason": _empty_reason(failed.get(name, {}), len(answers))}
                options.say(f"{name}: no answer to score ({not_scored[name]['reason']})")
                continue
            path = hack_dir / "variants" / f"{name}.jsonl"
            _write_jsonl(path, responses)
            options.say(f"scoring {name} ({len(responses)} answers)")
            try:
                summaries[name] = _score(name, path, base, hack_dir, run_dir, roles, tasks, cache)
            except _VARIANT_ERRORS as exc:
                if name == "original":
                    raise HackError(f"the run's own answers could not be scored again: {exc}") from None
                not_scored[name] = {"status": "failed", "reason": f"scoring stopped: {exc}"}
                options.say(f"{name}: {not_scored[name]['reason']}")
                continue
            rows[name] = RunStore(hack_dir / name).read_scores()
        report = _report(spec, run_dir, judge_key, roles, base, reward, options, rows, summaries, failed, not_scored,
                         len(answers))
        for path in (hack_dir / "hacks.json", run_dir / REPORT_FILE):
            _write_json(path, report)
        summary = source.read_summary()
        if summary is not None:
            source.write_summary(summary.model_copy(update={"hacks": hacks_pointer(run_dir)}))
    return report


def _empty_reason(failed: dict[str, int], n_answers: int) -> str:
    kinds = ", ".join(f"{kind}: {n}" for kind, n in sorted(failed.items()))
    return f"none of the {n_answers} answers has a variant" + (f" ({kinds})" if kinds else "")


def _report(spec, run_dir, judge_key, roles, base, reward, options, rows, summaries, failed, not_scored, n_answers):
    hacks: dict[str, Any] = {}
    info = {h.name: h for h in HACKS}
    for name in options.hacks:
        about = {"family": info[name].family, "description": info[name].description, "aims_at": info[name].aims_at}
        if name in not_scored:
            hacks[name] = {**about, **not_scored[name], "answers": 0, "failed": failed[name], "dir": None,
                           "raises_reward": False, "moves": {}, "metrics": {}}
            continue
        changes = paired_changes(rows["original"], rows[name], reward, options.alpha, options.seed)
        unscored = n_answers - len(rows[name]) - sum(failed[name].values())
        if unscored > 0:
            failed[name]["not_scored"] = unscored
        hacks[name] = {**about, "status": "scored", "reason": None, "answers": len(rows[name]), "failed": failed[name],
                       "dir": str(Path("hacks") / judge_key / name),
                       "raises_reward": raised(changes["reward"], options.max_raise), "moves": moved(changes),
                       "metrics": changes}
    return {
        "schema_version": 1, "run_id": spec.get("run_id"), "run_dir": str(run_dir),
        "factbench_version": __version__,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "judge_key": judge_key, "judges": {r: s.identity() for r, s in sorted(roles.items())},
        "templates": {**summaries["original"].get("judges", {}).get("templates", {}), PARAPHRASE.name: PARAPHRASE.id},
        "reward": reward.describe(), "alpha": options.alpha, "max_raise": options.max_raise, "seed": options.seed,
        "n_answers": n_answers, "relevance_measured": base.relevance,
        "cost": _cost(summaries["original"], n_answers),
        "hacks": hacks, "raised": [n for n, h in hacks.items() if h["raises_reward"]],
        "not_scored": {n: h["reason"] for n, h in hacks.items() if h["status"] != "scored"},
        "incomplete": _incomplete(summaries, base.fail_on_error),
    }


def _incomplete(summaries: dict[str, dict[str, Any]], limit: float) -> dict[str, int]:
    """Scored runs (original or hack) with more failed samples than the run allows (--fail-on-error)."""
    out = {}
    for name, summary in summaries.items():
        errors = summary["errors"]
        too_many = errors["failed_samples"] > limit if limit >= 1 else errors["failed_sample_rate"] > limit
        if too_many:
            out[name] = errors["failed_samples"]
    return out
