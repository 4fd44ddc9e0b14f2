"""Judges by name: the built-ins and any a package registers under `factbench.judges`."""

from __future__ import annotations

from factbench.judges.judge import Judge
from factbench.plugins import Plugin, load_plugins


class UnknownJudge(Exception):
    """A judge name that is not registered, or a judge used for the wrong role (a usage error)."""


def discover_judges() -> dict[str, Plugin]:
    return load_plugins("judges", lambda o: isinstance(o, Judge), lambda j: j.name)


def resolve_judges(names: list[str] | tuple[str, ...], defaults: dict[str, str]) -> dict[str, Judge]:
    """One judge per role: the defaults, each replaced by a named judge of the same role."""
    registry = discover_judges()
    chosen = dict(defaults)
    for name in names:
        if name not in registry:
            raise UnknownJudge(f"unknown judge {name!r} (registered: {', '.join(sorted(registry))}; "
                               "see `factbench list judges`)")
        chosen[registry[name].obj.role] = name
    out = {}
    for role, name in chosen.items():
        if name not in registry:
            raise UnknownJudge(f"default {role} judge {name!r} is not registered")
        judge = registry[name].obj
        if judge.role != role:
            raise UnknownJudge(f"judge {name!r} is a {judge.role} judge, not a {role} judge")
        out[role] = judge
    return out
