"""One registration mechanism for every extension kind: setuptools entry points.

Built-in tasks, evidence backends, judges and stages (with their judge roles) are registered in factbench's own
pyproject.toml exactly as a third-party package registers its own:

    [project.entry-points."factbench.evidence"]
    mystore = "my_package.evidence:open_mystore"

An entry point names an object (or a list of objects, or a callable returning them); each
kind's registry validates what it loads and keys it by name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Generic, TypeVar

GROUPS = {"tasks": "factbench.tasks", "evidence": "factbench.evidence", "judges": "factbench.judges",
          "stages": "factbench.stages"}

T = TypeVar("T")


class PluginError(Exception):
    """A plugin failed to load, has the wrong type, or reuses a registered name (a usage error)."""


@dataclass(frozen=True)
class Plugin(Generic[T]):
    name: str
    obj: T
    origin: str  # "DIST VERSION (module:attr)": where it comes from, for `factbench list`


def _metadata_field(dist: Any, field: str) -> str | None:
    """`dist.name` or `dist.version`, None where the dist-info has no METADATA: the stdlib returns
    None, while the importlib_metadata backport (imported by litellm, after which its finder supplies
    the distributions the stdlib's entry_points() returns) raises."""
    try:
        return getattr(dist, field)
    except (TypeError, KeyError, ValueError, OSError):
        return None


def _origin(ep: Any) -> str:
    dist = getattr(ep, "dist", None)
    name, version = ((_metadata_field(dist, "name"), _metadata_field(dist, "version")) if dist is not None
                     else (None, None))
    if dist is not None and not (name and version):
        # A dist-info without METADATA (entry_points.txt is all discovery needs): its directory,
        # NAME-VERSION.dist-info as in a wheel, names it.
        stem = Path(str(getattr(dist, "_path", ""))).name.removesuffix(".dist-info")
        dir_name, _, dir_version = stem.partition("-")
        name, version = name or re.sub(r"[-_.]+", "-", dir_name).lower(), version or dir_version
    where = f"{name or '?'} {version or '?'}" if dist is not None else "?"
    return f"{where} ({ep.value})"


def load_plugins(kind: str, accept: Callable[[Any], bool], name_of: Callable[[Any], str],
                 expand: bool = True) -> dict[str, Plugin]:
    """Every object registered under `kind`'s entry-point group, by name.

    With `expand`, an entry point may name a list of objects or a callable returning them.
    """
    registry: dict[str, Plugin] = {}
    for ep in entry_points(group=GROUPS[kind]):
        origin = _origin(ep)
        try:
            loaded = ep.load()
        except Exception as exc:
            raise PluginError(f"{kind} plugin {ep.name} ({ep.value}) failed to load: "
                              f"{type(exc).__name__}: {exc}") from exc
        where = f"{kind} plugin {ep.name} ({ep.value})"
        if not expand and not accept(loaded):
            raise PluginError(f"{where}: unexpected object of type {type(loaded).__name__}")
        for obj in _expand(loaded, accept, where) if expand else [loaded]:
            name = name_of(obj) if expand else ep.name
            if name in registry and registry[name].obj is not obj:
                raise PluginError(f"{kind} name {name!r} is registered twice (by {registry[name].origin} "
                                  f"and {origin})")
            registry[name] = Plugin(name, obj, origin)
    return registry


def _expand(obj: Any, accept: Callable[[Any], bool], where: str) -> list[Any]:
    if accept(obj):
        return [obj]
    if callable(obj) and not isinstance(obj, type):
        return _expand(obj(), accept, where)
    if isinstance(obj, Iterable) and not isinstance(obj, (str, bytes)):
        items = list(obj)
        bad = [type(i).__name__ for i in items if not accept(i)]
        if bad:
            raise PluginError(f"{where}: unexpected object(s) of type {', '.join(sorted(set(bad)))}")
        return items
    raise PluginError(f"{where}: unexpected object of type {type(obj).__name__}")
