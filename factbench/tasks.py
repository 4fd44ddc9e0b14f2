"""Tasks: what a benchmark is, how its prompts are found, and how `--tasks` is resolved.

A task is one Python object (:class:`Task`); there is no second representation.
Built-in tasks live in the ``factbench_tasks`` package and are registered through the
``factbench.tasks`` entry-point group (:mod:`factbench.plugins`), exactly like third-party tasks. A local file can be named directly: ``--tasks ./my_task.py``.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import os
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from factbench.hashing import sha256_hex
from factbench.plugins import Plugin, PluginError, load_plugins
from factbench.taskdata import DataFile
from factbench.taskdata import TaskDataUnavailable as TaskDataUnavailable  # re-exported for tasks

DATA_DIR_ENV = "FACTBENCH_DATA_DIR"
DEFAULT_DATA_DIRS = ("data", "../shared/data")  # looked for, in order, when neither flag nor variable is set
PROMPT_SLOT = "{prompt}"
ALL_TAG = "core"  # `--tasks all` = the built-in long-form factuality benchmarks


class TaskError(Exception):
    """A task could not be found or resolved (usage error)."""


@dataclass(frozen=True)
class Prompt:
    """One question of a task. `topic` names the entity a retrieval may be restricted to."""

    id: str
    text: str
    topic: str | None = None
    reference: str | None = None
    meta: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class DataContext:
    """Where task loaders look for data: a local directory (documented layout) or the Hub."""

    data_dir: Path | None = None
    offline: bool = False

    @classmethod
    def from_env(cls, data_dir: str | os.PathLike[str] | None = None) -> DataContext:
        """--data-dir, else $FACTBENCH_DATA_DIR, else ./data or ../shared/data when present."""
        chosen = data_dir or os.environ.get(DATA_DIR_ENV)
        if not chosen:
            chosen = next((str(p) for p in DEFAULT_DATA_DIRS if Path(p).is_dir()), None)
        from factbench.taskdata import offline

        return cls(Path(chosen).expanduser() if chosen else None, offline())

    def local(self, *parts: str) -> Path | None:
        """The path under the data directory if it exists, else None."""
        if self.data_dir is None:
            return None
        path = self.data_dir.joinpath(*parts)
        return path if path.exists() else None


Loader = Callable[[DataContext], list[Prompt]]


@dataclass(frozen=True)
class Task:
    """A long-form factuality benchmark.

    Changing the prompts, the template or `k` must bump `version`; results record both the
    version and `template_sha` so an unbumped change is still visible.
    """

    name: str
    version: str
    loader: Loader
    description: str = ""
    template: str = PROMPT_SLOT
    k: int = 64
    default_evidence: str = "none"
    source: str = ""
    revision: str | None = None
    license: str = "unknown"
    tags: tuple[str, ...] = ()
    n_prompts: int | None = None
    has_references: bool = False
    data_files: tuple[DataFile, ...] = ()  # what `factbench data fetch` downloads (pinned), and where it goes

    def __post_init__(self) -> None:
        if PROMPT_SLOT not in self.template:
            raise TaskError(f"task {self.name!r}: template must contain {PROMPT_SLOT}")

    def render(self, prompt: Prompt) -> str:
        """The text sent to the model under test (plain replacement: braces in prompts are safe)."""
        return self.template.replace(PROMPT_SLOT, prompt.text)

    @property
    def template_sha(self) -> str:
        return sha256_hex(self.template, 16)

    def load(self, ctx: DataContext) -> list[Prompt]:
        prompts = self.loader(ctx)
        seen: set[str] = set()
        for p in prompts:
            if p.id in seen:
                raise TaskError(f"task {self.name!r}: duplicate prompt id {p.id!r}")
            seen.add(p.id)
        return prompts

    def identity(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "template_sha": self.template_sha,
            "k": self.k,
            "source": self.source,
            "revision": self.revision,
            "license": self.license,
        }


def sample_prompts(prompts: list[Prompt], limit: int | None, seed: int, task_name: str) -> list[Prompt]:
    """A reproducible sample of `limit` prompts (kept in task order); all of them when no limit."""
    if limit is None or limit >= len(prompts):
        return list(prompts)
    rng = random.Random(f"{seed}:{task_name}")
    chosen = set(rng.sample(range(len(prompts)), limit))
    return [p for i, p in enumerate(prompts) if i in chosen]


# ---------------------------------------------------------------- registry

def _tasks_from_object(obj: Any, origin: str) -> list[Task]:
    if isinstance(obj, Task):
        return [obj]
    if callable(obj) and not isinstance(obj, type):
        return _tasks_from_object(obj(), origin)
    if isinstance(obj, Iterable):
        out = []
        for item in obj:
            if not isinstance(item, Task):
                raise TaskError(f"{origin}: expected Task objects, got {type(item).__name__}")
            out.append(item)
        return out
    raise TaskError(f"{origin}: expected a Task, a list of Tasks or a callable returning them")


def load_task_file(path: str | os.PathLike[str]) -> list[Task]:
    """Tasks defined in a Python file: its `TASKS` list, or every module-level Task."""
    file = Path(path)
    if not file.is_file():
        raise TaskError(f"task file not found: {file}")
    spec = importlib.util.spec_from_file_location(f"factbench_user_task_{sha256_hex(str(file.resolve()), 8)}", file)
    if spec is None or spec.loader is None:
        raise TaskError(f"cannot import task file {file}")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise TaskError(f"error while importing task file {file}: {type(exc).__name__}: {exc}") from exc
    if hasattr(module, "TASKS"):
        return _tasks_from_object(module.TASKS, str(file))
    found = [v for v in vars(module).values() if isinstance(v, Task)]
    if not found:
        raise TaskError(f"{file} defines no Task (define TASKS = [...] or a module-level Task)")
    return found


def discover_tasks() -> dict[str, Task]:
    """Every task registered under the `factbench.tasks` entry-point group, by name."""
    return {name: plugin.obj for name, plugin in discover_task_plugins().items()}


def discover_task_plugins() -> dict[str, Plugin]:
    """Registered tasks with where each comes from (for `factbench list tasks`)."""
    try:
        return load_plugins("tasks", lambda o: isinstance(o, Task), lambda t: t.name)
    except PluginError as exc:
        raise TaskError(str(exc)) from exc


def tasks_named(names: Iterable[str], where: str) -> list[Task]:
    """The installed tasks with these names (a stored run's tasks); TaskError names a missing one."""
    registry = discover_tasks()
    missing = [n for n in names if n not in registry]
    if missing:
        raise TaskError(f"{where} used task(s) {', '.join(map(repr, missing))}, not installed here")
    return [registry[n] for n in names]


def resolve_tasks(selector: str, registry: dict[str, Task] | None = None) -> list[Task]:
    """Resolve `--tasks`: `all`, comma lists of names, tags, globs and paths to .py files."""
    registry = discover_tasks() if registry is None else registry
    chosen: dict[str, Task] = {}
    for raw in (part.strip() for part in selector.split(",")):
        if not raw:
            continue
        if raw.endswith(".py") or os.sep in raw or raw.startswith("."):
            matched = load_task_file(raw)
        elif raw == "all":
            matched = [t for t in registry.values() if ALL_TAG in t.tags]
        elif raw in registry:
            matched = [registry[raw]]
        elif any(ch in raw for ch in "*?["):
            matched = [t for n, t in registry.items() if fnmatch.fnmatchcase(n, raw)]
        else:
            tag = raw.removeprefix("tag:")
            matched = [t for t in registry.values() if tag in t.tags]
        if not matched:
            known = ", ".join(sorted(registry))
            raise TaskError(f"--tasks: {raw!r} matches no task name, tag or glob (known tasks: {known})")
        for task in matched:
            chosen.setdefault(task.name, task)
    if not chosen:
        raise TaskError("--tasks selected nothing")
    return list(chosen.values())
