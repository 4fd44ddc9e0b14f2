"""Stages by name, in pipeline order: the built-ins and any a package registers under
`factbench.stages`. Everything that lists stages or judge roles derives it from here."""

from __future__ import annotations

import functools
import sys

from pydantic.fields import FieldInfo

from factbench.plugins import Plugin, PluginError, load_plugins
from factbench.stages.base import JudgeRole, Role, Stage
from factbench.store.records import ErrorRecord, StageFiles


def discover_stages() -> dict[str, Plugin]:
    return load_plugins("stages", lambda o: isinstance(o, Stage), lambda s: s.name)


def registered_stages() -> tuple[Stage, ...]:
    """Every registered stage, in pipeline order; a stage reading a later or unknown stage is refused.
    Looked up once per import path (scanning the installed distributions takes tens of ms)."""
    return _registered(tuple(sys.path))


@functools.lru_cache(maxsize=8)
def _registered(path: tuple[str, ...]) -> tuple[Stage, ...]:
    stages = tuple(sorted((p.obj for p in discover_stages().values()), key=lambda s: (s.order, s.name)))
    check_order(stages)
    return stages


def check_order(stages: tuple[Stage, ...]) -> None:
    seen: set[str] = set()
    roles: dict[str, str] = {}
    for stage in stages:
        if stage.name == "errors":
            raise PluginError("a stage may not be named 'errors' (the failures file)")
        late = [s.name for s in stage.reads if s.name not in seen]
        if late:
            raise PluginError(f"stage {stage.name!r} reads {', '.join(late)}, which no earlier stage writes "
                              f"(order {stage.order})")
        for role in (*stage.roles, *stage.models):
            if role.name in roles and roles[role.name] != stage.name:
                raise PluginError(f"judge role {role.name!r} is declared by stages {roles[role.name]!r} "
                                  f"and {stage.name!r}")
            roles[role.name] = stage.name
        seen.add(stage.name)


def judge_roles(stages: tuple[Stage, ...] | None = None) -> tuple[JudgeRole, ...]:
    """The judge roles of the stages (default: all registered), in pipeline order."""
    return tuple(role for stage in (registered_stages() if stages is None else stages) for role in stage.roles)


def model_roles(stages: tuple[Stage, ...] | None = None) -> tuple[Role, ...]:
    """The roles of the stages (default: all registered) that write text rather than judge."""
    return tuple(role for stage in (registered_stages() if stages is None else stages) for role in stage.models)


def option_fields(stages: tuple[Stage, ...] | None = None) -> dict[str, tuple[Stage, FieldInfo]]:
    """Option name (= keyword; its flag has dashes) -> (its stage, the field), for every field of
    the stages' `options` models; two stages may not declare the same name."""
    out: dict[str, tuple[Stage, FieldInfo]] = {}
    for stage in registered_stages() if stages is None else stages:
        for name, info in (stage.options.model_fields.items() if stage.options else ()):
            if name in out and out[name][0].name != stage.name:
                raise PluginError(f"option {name!r} is declared by stages {out[name][0].name!r} and {stage.name!r}")
            out[name] = (stage, info)
    return out


def stage_files(stages: tuple[Stage, ...] | None = None) -> StageFiles:
    """The run directory's record files (default: of all registered stages), in pipeline order, and
    the failures file: each one's record type, and the files its records are built on (what the
    stage reads; a record built on one that was moved aside as corrupt is redone too)."""
    stages = registered_stages() if stages is None else stages
    return StageFiles(types={**{s.name: s.record_type for s in stages}, "errors": ErrorRecord},
                      built_on={s.name: tuple(r.name for r in s.reads) for s in stages},
                      former={s.name: s.former_names for s in stages if s.former_names})
