"""Run options as a user names them (CLI flags or Python keywords), and how they become role
specs and run settings. The CLI, `factbench.evaluate` and `factbench.Scorer` all build their
RoleSpecs and RunSettings here, so a flag and a keyword always mean the same thing.

Each field is named like its flag (`--judge-base-url` is `judge_base_url`). The roles' options
(the model under test, the judge roles, the reference model) and the stages' own options (a
stage's `options` model: `--sentences-per-call`, a plug-in stage's) are derived from the registered
stages, never written here. Defaults come from RunSettings and ROLE_DEFAULTS
(:mod:`factbench.pipeline.settings`), the one place they live.
"""

from __future__ import annotations

import argparse
import difflib
import re
import time
import warnings
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, PositiveInt, ValidationError, field_validator, model_validator

from factbench.llm.client import RoleSpec
from factbench.pipeline.settings import ROLE_DEFAULTS, RunSettings
from factbench.stages.base import Role, Stage
from factbench.stages.registry import judge_roles, model_roles, option_fields

Urls = str | list[str] | tuple[str, ...] | None
# The options every judge role has, after its prefix (`judge` is every role's default).
ROLE_SUFFIXES = ("", "_base_url", "_api_key_env", "_concurrency", "_revision")
_R, _S = ROLE_DEFAULTS, RunSettings(run_id="-")


class RoleFlags(BaseModel):
    """One role's model and transport, as its options name them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str | None = None
    base_url: Urls = None
    api_key_env: str | None = None
    concurrency: PositiveInt | None = None
    revision: str | None = None


def role_option_names(roles: tuple[Role, ...] | None = None) -> dict[str, tuple[Role, str]]:
    """Option name -> (its role, the RoleFlags field), for every role of the registered stages."""
    out = {}
    for role in (*model_roles(), *judge_roles()) if roles is None else roles:
        for suffix in ROLE_SUFFIXES:
            out[role.field + suffix] = (role, suffix.lstrip("_") or "model")
    return out


def closest(name: str, valid: list[str]) -> str:
    """`; did you mean X?` for the valid name nearest to a misspelt one, else ``."""
    match = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""
_SHARD = re.compile(r"^(\d+)/(\d+)$")


# `--no-X` flags and the keyword each one turns off.
NEGATED_FLAGS = {"no_structured_output": "structured_output", "no_relevance": "relevance",
                 "no_informativeness": "informativeness", "no_progress": "progress", "no_cache": "use_cache",
                 "no_preflight": "preflight", "no_memo": "memo"}


# Renamed keywords: former keyword -> the keyword (each use warns). A role's former flags
# (Role.former_flags) give its five former keywords by themselves.
FORMER_KEYWORDS: dict[str, str] = {"weighting": "informativeness"}


def former_keywords() -> dict[str, str]:
    out = dict(FORMER_KEYWORDS)
    for role in (*model_roles(), *judge_roles()):
        for old in role.former_flags:
            out.update({old.replace("-", "_") + suffix: role.field + suffix for suffix in ROLE_SUFFIXES})
    return out


class UsageError(ValueError):
    """Options that cannot work together (exit code 2 on the command line)."""


def parse_shard(value: str) -> tuple[int, int]:
    """`I/N` -> (I, N), 1 <= I <= N."""
    m = _SHARD.match(value.strip())
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise UsageError(f"--shard {value!r}: expected I/N with 1 <= I <= N (e.g. 2/8)")
    return int(m.group(1)), int(m.group(2))


class RunOptions(BaseModel):
    """Everything `factbench run` takes besides `--tasks`, as keyword-friendly fields."""

    model_config = ConfigDict(extra="allow", frozen=True)

    # The model under test (`model`, `model_base_url`, ...; absent when answers come from a
    # responses file), every judge role and the reference model (`reference_model`, ...) have the
    # same five options, named after the role's flag (see ROLE_SUFFIXES): not fields here, but
    # derived from the roles the registered stages declare (plug-in roles included).
    temperature: float = _R.model_temperature
    max_tokens: int = _R.model_max_tokens
    model_timeout: float = _R.model_timeout_s
    responses: str | None = None
    # judges: `judge` is the default of every judge role; each role may be overridden
    judge: str | None = None
    judge_base_url: Urls = None
    judge_api_key_env: str | None = None
    judge_concurrency: int | None = None
    judge_revision: str | None = None
    judge_max_tokens: int = _R.judge_max_tokens
    judge_timeout: float = _R.judge_timeout_s
    max_retries: int = _R.max_retries
    price_per_1k_input: str | None = None  # "USD" (every role) or "judge=USD,model=USD,..."
    price_per_1k_output: str | None = None
    structured_output: bool = True
    schema_item_counts: bool = False  # each judge call's list length in its schema (llm/schema.py)
    # scoring
    evidence: str = _S.evidence
    verify_mode: str = _S.verify_mode
    # The built-in stages' options (RunSettings fields); other stages' options are extras, checked by
    # their stage's `options` model.
    sentences_per_call: int = _S.sentences_per_call
    claims_per_call: int = _S.claims_per_call
    evidence_tokens: int = _S.evidence_tokens
    relevance: bool = _S.relevance
    informativeness: bool = _S.informativeness  # the informativeness judge weighs every claim (`--no-informativeness`)
    reward_design: str = _S.reward_design
    judges: tuple[str, ...] = _S.judges  # judge names replacing their role's default (`--judges`)
    reward_lambda: float = _S.reward_lambda
    reward_mu: float = _S.reward_mu
    # the run
    run_id: str | None = None
    results_dir: str = _S.results_dir
    cache: str | None = None
    use_cache: bool = True
    memo: bool = True  # share claim judgements between answers and keep them beside the cache (`--no-memo`)
    data_dir: str | None = None
    limit: int | None = None
    seed: int = _S.seed
    parallel: int = _S.max_parallel_samples
    fail_on_error: float = _S.fail_on_error
    max_judge_attempts: int = _S.max_judge_attempts
    max_cost: float | None = _S.max_cost
    preflight: bool = True  # check every role's key, endpoints and model name before any work (`--no-preflight`)
    log_to: Literal["wandb", "mlflow"] | None = None  # log the finished run to this tracker
    progress: bool = bool(_S.progress)  # --no-progress: no display at all (`display` chooses which)
    display: str = "auto"  # live | plain | none | auto (pipeline/progress.py)
    label: str = _S.label
    step: int | None = None  # checkpoint step (the leaderboard's trend view)
    shard: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _derived_options(cls, data: Any) -> Any:
        """Only the fields above, the roles' options and the stages' options; each role's options
        are checked as RoleFlags, each stage's by its options model, and unset ones (None) are left out."""
        if not isinstance(data, dict):
            return data
        renamed = former_keywords()
        for old in [k for k in data if k in renamed]:
            warnings.warn(f"keyword {old!r} is now {renamed[old]!r}", FutureWarning, stacklevel=2)
            data = {**{k: v for k, v in data.items() if k != old}, renamed[old]: data[old]}
        names, stage_fields = role_option_names(), option_fields()
        extras = {k: v for k, v in data.items() if k not in cls.model_fields}
        unknown = [k for k in extras if k not in names and k not in stage_fields]
        if unknown:
            valid = [*cls.model_fields, *names, *stage_fields]
            raise ValueError("; ".join(f"unknown option {k!r}{closest(k, valid)}" for k in unknown))
        groups: dict[str, dict[str, Any]] = {}
        by_stage: dict[str, tuple[Stage, dict[str, Any]]] = {}
        for key, value in extras.items():
            if value is None:
                continue
            if key in stage_fields:
                stage = stage_fields[key][0]
                by_stage.setdefault(stage.name, (stage, {}))[1][key] = value
            else:
                role, attr = names[key]
                groups.setdefault(role.field, {})[attr] = value
        out = {k: v for k, v in data.items() if k in cls.model_fields}
        for stage, values in by_stage.values():
            assert stage.options is not None
            try:
                checked = stage.options(**values)
            except ValidationError as exc:
                raise ValueError("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from None
            out.update({k: getattr(checked, k) for k in values})
        for prefix, values in groups.items():
            flags = RoleFlags(**values)
            for attr in values:
                out[prefix if attr == "model" else f"{prefix}_{attr}"] = getattr(flags, attr)
        return out

    def role_option(self, prefix: str, suffix: str = "") -> Any:
        """A role's option (`role_option("verifier", "_base_url")`); None when not given."""
        name = prefix + suffix
        if name in type(self).model_fields:
            return getattr(self, name)
        return (self.model_extra or {}).get(name)

    @property
    def model(self) -> str | None:
        """The model under test (`--model`)."""
        value: str | None = self.role_option("model")
        return value

    def stage_options(self) -> dict[str, dict[str, Any]]:
        """The options given for stages whose options are not RunSettings fields (plug-in stages):
        stage name -> {option: value}; what RunSettings.stage_options records."""
        out: dict[str, dict[str, Any]] = {}
        for key, value in (self.model_extra or {}).items():
            found = option_fields().get(key)
            if found is not None:
                out.setdefault(found[0].name, {})[key] = value
        return out

    @field_validator("run_id")
    @classmethod
    def _run_id(cls, v: str | None) -> str | None:
        from factbench.store.run_dir import check_run_id  # a directory name inside results_dir, never a path

        return v if v is None else check_run_id(v)

    @field_validator("verify_mode")
    @classmethod
    def _mode(cls, v: str) -> str:
        if v not in ("ternary", "binary"):
            raise ValueError("verify_mode must be 'ternary' or 'binary'")
        return v

    @field_validator("judges", mode="before")
    @classmethod
    def _judges(cls, v: Any) -> tuple[str, ...]:
        parts = v.split(",") if isinstance(v, str) else list(v or ())
        return tuple(n.strip() for n in parts if n and n.strip())

    @field_validator("display")
    @classmethod
    def _display(cls, v: str) -> str:
        from factbench.pipeline.progress import DISPLAYS

        if v not in DISPLAYS:
            raise ValueError(f"display must be one of {', '.join(DISPLAYS)}")
        return v

    @field_validator("shard")
    @classmethod
    def _shard(cls, v: str | None) -> str | None:
        if v is not None:
            parse_shard(v)
        return v

    # ------------------------------------------------------------------ from the command line
    @classmethod
    def from_namespace(cls, args: argparse.Namespace, **overrides: Any) -> RunOptions:
        """The fields an argparse namespace has (negative flags such as --no-cache inverted)."""
        values = {name: getattr(args, name) for name in [*cls.model_fields, *role_option_names(), *option_fields()]
                  if hasattr(args, name)}
        for flag, field in NEGATED_FLAGS.items():
            if hasattr(args, flag):
                values[field] = not getattr(args, flag)
        try:
            return cls(**{k: v for k, v in {**values, **overrides}.items() if v is not None})
        except ValidationError as exc:
            raise UsageError("; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())) from None

    @classmethod
    def of(cls, **values: Any) -> RunOptions:
        """From Python keywords: a bad or unknown keyword is a UsageError naming it (and the closest valid one)."""
        try:
            return cls(**values)
        except ValidationError as exc:
            raise UsageError("; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())) from None

    @classmethod
    def keywords(cls) -> set[str]:
        """Every keyword accepted: the fields, the roles' options and the stages' options."""
        return {*cls.model_fields, *role_option_names(), *option_fields()}

    @classmethod
    def default(cls, name: str) -> Any:
        return cls.model_fields[name].default

    # ------------------------------------------------------------------ specs and settings
    def _role(self, prefix: str, role: str, model: str, default_concurrency: int, revision: str | None,
              **extra: Any) -> RoleSpec:
        return RoleSpec(role=role, model=model, base_urls=_urls(self.role_option(prefix, "_base_url")),
                        api_key_env=self.role_option(prefix, "_api_key_env"),
                        max_concurrency=self.role_option(prefix, "_concurrency") or default_concurrency,
                        max_retries=self.max_retries, revision=revision, price_per_1k=self._price(role), **extra)

    def _price(self, role: str) -> tuple[float, float] | None:
        inp = prices(self.price_per_1k_input, "--price-per-1k-input")
        out = prices(self.price_per_1k_output, "--price-per-1k-output")
        if role not in inp and role not in out:
            return None
        return inp.get(role, 0.0), out.get(role, 0.0)

    def role_specs(self, with_model: bool, only: tuple[str, ...] | None = None) -> dict[str, RoleSpec]:
        """One RoleSpec per role: the model under test (when generating), the judge roles of the
        registered stages (`only`: these judge roles), the reference model."""
        roles: dict[str, RoleSpec] = {}
        if with_model:
            if not self.model and not self.responses:
                raise UsageError("give --model PROVIDER/MODEL (or --responses FILE to score answers made elsewhere)")
            # The roles that write text take no --judge fallback and have their own decoding (Role).
            if self.model:
                roles["model"] = self._role("model", "model", self.model, _R.model_concurrency,
                                            self.role_option("model", "_revision"),
                                            timeout_s=self.model_timeout,
                                            params={"temperature": self.temperature, "max_tokens": self.max_tokens})
        judge_params = {"temperature": 0.0, "max_tokens": self.judge_max_tokens}
        for judge_role in judge_roles():
            if only is not None and judge_role.name not in only:
                continue
            prefix, role = judge_role.field, judge_role.name
            own: str | None = self.role_option(prefix)
            model = own or self.judge
            if not model:
                raise UsageError(f"give --judge PROVIDER/MODEL (or --{judge_role.flag}) for the {role} role")
            roles[role] = self._role(prefix if own else "judge", role, model,
                                     self.judge_concurrency or _R.judge_concurrency,
                                     self.role_option(prefix, "_revision") or self.judge_revision,
                                     timeout_s=self.judge_timeout,
                                     structured_output=self.structured_output,
                                     schema_item_counts=self.schema_item_counts, params=judge_params)
        reference = self.role_option("reference_model")
        if reference:
            roles["reference"] = self._role("reference_model", "reference", reference,
                                            _R.reference_concurrency, self.role_option("reference_model", "_revision"),
                                            timeout_s=self.judge_timeout,
                                            params={"temperature": 0.0, "max_tokens": _R.reference_max_tokens})
        if not self.relevance:
            roles.pop("relevance", None)
        if not self.informativeness:
            roles.pop("informativeness", None)
        return roles

    def settings(self, run_id: str, responses: str | None = None, select_from_run: str | None = None) -> RunSettings:
        return RunSettings(
            run_id=run_id, results_dir=self.results_dir, limit=self.limit, seed=self.seed, evidence=self.evidence,
            verify_mode=self.verify_mode, sentences_per_call=self.sentences_per_call,
            claims_per_call=self.claims_per_call, evidence_tokens=self.evidence_tokens,
            relevance=self.relevance, informativeness=self.informativeness,
            reward_design=self.reward_design, reward_lambda=self.reward_lambda, reward_mu=self.reward_mu,
            responses=responses, max_parallel_samples=self.parallel, fail_on_error=self.fail_on_error,
            progress=self.display if self.progress else "none", cache_path=self.cache, data_dir=self.data_dir,
            select_from_run=select_from_run, label=self.label, judges=self.judges, step=self.step, shard=self.shard,
            max_judge_attempts=self.max_judge_attempts, max_cost=self.max_cost, stage_options=self.stage_options(),
            memo=self.memo)

    def open_cache(self):
        from factbench.llm.cache import CallCache, default_cache_path

        return CallCache(self.cache or default_cache_path()) if self.use_cache else None


def prices(value: str | None, flag: str) -> dict[str, float]:
    """`0.5` (every role) or `judge=0.5,model=1` (`judge` = every judge role) -> {role: USD}."""
    if not value:
        return {}
    judging = {r.name for r in judge_roles()}
    price_roles = {"model", "judge", "reference", *judging}
    out: dict[str, float] = {}
    for part in (x.strip() for x in value.split(",") if x.strip()):
        role, _, number = part.rpartition("=")
        try:
            price = float(number)
        except ValueError:
            raise UsageError(f"{flag}: {part!r} is not a price (USD per 1,000 tokens)") from None
        if price < 0 or (role and role not in price_roles):
            raise UsageError(f"{flag}: {part!r}: use a non-negative number, optionally after one of "
                             f"{', '.join(sorted(price_roles))}=")
        for r in ({"model", "reference", *judging} if not role else judging if role == "judge" else {role}):
            if role or r not in out:
                out[r] = price
    return out


def _urls(value: Urls) -> tuple[str, ...]:
    if not value:
        return ()
    parts = value.split(",") if isinstance(value, str) else value
    return tuple(u.strip() for u in parts if u and u.strip())


def default_run_id(label: str) -> str:
    slug = "".join(ch if (ch.isascii() and ch.isalnum()) or ch in "-_." else "-" for ch in label.split("/")[-1])[:40]
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}"
