"""Shared command-line options: roles, scoring options, and how they become specs and settings."""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn

from factbench.cli.checks import NON_NEGATIVE, POSITIVE, SECONDS, number, run_id, whole
from factbench.pipeline.options import RunOptions, UsageError, default_run_id
from factbench.pipeline.settings import ROLE_DEFAULTS, RunSettings
from factbench.scoring.reward import DESIGNS
from factbench.stages.base import Stage
from factbench.stages.registry import judge_roles, model_roles, option_fields, registered_stages

_DEFAULT = RunSettings(run_id="-")  # the defaults of every run option, read from one place

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2
__all__ = ["EXIT_OK", "EXIT_ERRORS", "EXIT_USAGE", "UsageError", "options_from", "role_specs", "default_run_id"]
EXIT_MAX_COST = 4  # stopped cleanly at --max-cost; resume with the same --run-id (and a larger --max-cost)
EXIT_CODES_HELP = """exit codes:
  0    the run finished (failed samples within --fail-on-error)
  1    too many failed samples (--fail-on-error: a stage still failing, or claims left without a label),
       or a served judge that stopped
  2    usage or input error: a bad flag or file, missing task data or default evidence, a failed pre-flight check
  4    stopped at --max-cost; re-run with the same --run-id and a larger --max-cost to finish
  130  interrupted (Ctrl-C); re-run with the same --run-id to resume
  141  the reader of the output went away (`factbench ... | head`)
  143  terminated (SIGTERM); re-run with the same --run-id to resume"""


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps epilog layout and appends each option's default when it has a meaningful one."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("default" in text or default is None or default is False or default is argparse.SUPPRESS
                or default == "" or not action.option_strings or isinstance(action, argparse._VersionAction)):
            return text
        return f"{text} (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose sub-parsers (created with parser_class=type(self)) share HelpFormatter."""

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        """The reason alone (exit 2), not argparse's usage dump before it: a run's usage is ~50 lines."""
        self.exit(2, f"{self.prog}: error: {message}\n(`{self.prog} --help` lists the options)\n")


VERIFIER_ONLY = ("verifier",)  # `calibrate` runs only the verification judge

# Renamed flags: the flag -> its former spellings, still accepted (hidden from --help; each use
# warns). A role's former flags (Role.former_flags) are added to these by themselves.
FORMER_FLAGS: dict[str, tuple[str, ...]] = {"--no-informativeness": ("--no-weighting",)}


def former_flags() -> dict[str, tuple[str, ...]]:
    """Every renamed flag, the roles' five flags each included."""
    out = dict(FORMER_FLAGS)
    for role in (*model_roles(), *judge_roles()):
        for old in role.former_flags:
            for suffix in ("", "-base-url", "-api-key-env", "-concurrency", "-revision"):
                out[f"--{role.flag}{suffix}"] = (*out.get(f"--{role.flag}{suffix}", ()), f"--{old}{suffix}")
    return out


class _Former(argparse.Action):
    """A flag's former spelling: warns, naming the flag, then does exactly what the flag does."""

    def __init__(self, option_strings: list[str], dest: str, current: argparse.Action, **kwargs: Any):
        super().__init__(option_strings, dest, nargs=current.nargs, const=current.const,
                         type=current.type if callable(current.type) else None, choices=current.choices,
                         metavar=current.metavar, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        self.current = current

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        print(f"warning: {option_string} is now {self.current.option_strings[0]}", file=sys.stderr)
        self.current(parser, namespace, values, option_string)


def add_former_flags(parser: argparse.ArgumentParser) -> None:
    """Give every command that has a renamed flag its former spellings too."""
    table = former_flags()
    for action in list(parser._actions):
        if isinstance(action, argparse._SubParsersAction):
            for sub in set(action.choices.values()):
                add_former_flags(sub)
    for new, olds in table.items():
        current = parser._option_string_actions.get(new)
        if current is None:
            continue
        for old in olds:
            if old not in parser._option_string_actions:
                parser.add_argument(old, dest=current.dest, action=_Former, current=current)


def _add_role(p: argparse.ArgumentParser, flag: str, what: str, concurrency: int) -> None:
    g = p.add_argument_group(f"--{flag}")
    g.add_argument(f"--{flag}", metavar="PROVIDER/MODEL", help=what)
    g.add_argument(f"--{flag}-base-url", metavar="URL[,URL...]",
                   help="OpenAI-compatible endpoint(s); several URLs are replicas of one model")
    g.add_argument(f"--{flag}-api-key-env", metavar="VAR", help="environment variable holding the API key")
    g.add_argument(f"--{flag}-concurrency", type=POSITIVE, default=None, metavar="N",
                   help=f"max concurrent requests per endpoint (default {concurrency})")
    g.add_argument(f"--{flag}-revision", metavar="TEXT",
                   help="a fingerprint you pin (checkpoint hash, date): part of the run identity and cache key")


def add_judge_role_args(p: argparse.ArgumentParser, only: tuple[str, ...] | None = None,
                        judge_help: str = "default model for every judge role") -> None:
    """`--judge` and the options of every judge role the registered stages declare (`only`: these)."""
    d = ROLE_DEFAULTS
    _add_role(p, "judge", judge_help, d.judge_concurrency)
    for role in judge_roles():
        if only is None or role.name in only:
            _add_role(p, role.flag, role.help, d.judge_concurrency)


def add_model_role_args(p: argparse.ArgumentParser, only: tuple[str, ...]) -> None:
    """The options of the roles the registered stages declare that write text (`only`: these; a
    command offers the model under test or the reference model, not always both)."""
    for role in model_roles():
        if role.name in only:
            concurrency = getattr(ROLE_DEFAULTS, f"{role.name}_concurrency", ROLE_DEFAULTS.judge_concurrency)
            _add_role(p, role.flag, role.help, concurrency)


def add_stage_option_args(p: argparse.ArgumentParser, stages: tuple[Stage, ...] | None = None) -> None:
    """One flag per field of the stages' `options` models (default: every registered stage), checked by
    the stage's model; unset, the stage's default applies."""
    for name, (stage, info) in option_fields(stages).items():
        what = info.description or f"option of the {stage.name} stage"
        p.add_argument(f"--{name.replace('_', '-')}", dest=name, type=_option_value(stage, name), metavar="VALUE"
                       if info.annotation is not int else "N", help=f"{what} (default: {info.default})")


def _option_value(stage: Stage, name: str) -> Any:
    """argparse `type` for one stage option: the text checked and converted by the stage's options model."""
    from pydantic import ValidationError

    assert stage.options is not None

    def convert(text: str) -> Any:
        try:
            return getattr(stage.options.model_validate({name: text}), name)  # type: ignore[union-attr]
        except ValidationError as exc:
            raise argparse.ArgumentTypeError(exc.errors()[0]["msg"]) from None

    convert.__name__ = stage.name + " option"
    return convert


def _add_judge_args(p: argparse.ArgumentParser, only: tuple[str, ...] | None = None) -> None:
    """The judge roles' models and transport, and which judges (templates + parsers) they run."""
    d = ROLE_DEFAULTS
    add_judge_role_args(p, only)
    add_stage_option_args(p, None if only is None else tuple(s for s in registered_stages()
                                                            if any(r.name in only for r in s.roles)))
    p.add_argument("--judges", default="", metavar="NAME[,NAME...]",
                   help="judges (template + parser) replacing their role's default; see `factbench list judges`")
    p.add_argument("--judge-max-tokens", type=POSITIVE, default=d.judge_max_tokens, help="max output tokens per judge call")
    p.add_argument("--judge-timeout", type=SECONDS, default=d.judge_timeout_s,
                   help="most seconds one judge request may take; below that the limit adapts (docs/reliability.md)")
    p.add_argument("--max-retries", type=whole(0, 100), default=d.max_retries, help="bounded retries on 429/5xx/timeouts")
    p.add_argument("--no-structured-output", action="store_true",
                   help="do not request JSON-schema output (the tolerant parser is always used)")
    p.add_argument("--schema-item-counts", action="store_true",
                   help="put each judge call's list length into its JSON schema (minItems = maxItems), so a "
                        "grammar-constrained server cannot end a list early; for servers that enforce these "
                        "keywords (llama.cpp, vLLM with xgrammar >= 0.1.19), refused by some APIs (default: off)")
    p.add_argument("--no-preflight", action="store_true",
                   help="skip the checks made before any work (API key variables set, every endpoint "
                        "answers GET /models, the model name is served)")
    p.add_argument("--evidence", default=_DEFAULT.evidence,
                   help="none | corpus:PATH[#topic] | serper | snapshot:RUN_DIR | auto (each task's default; the "
                        "run fails, naming what to set, when a default is unavailable); see `factbench list evidence`")
    p.add_argument("--cache", metavar="PATH", help="SQLite call cache (default ~/.cache/factbench/cache.sqlite)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the call cache")
    p.add_argument("--no-memo", action="store_true",
                   help="judge every claim of every answer, sharing no verdict or class between answers or runs "
                        "(the verdict memo beside the cache)")


def _add_sample_args(p: argparse.ArgumentParser) -> None:
    """Which prompts, how many at once, and the output format (runs and calibration)."""
    p.add_argument("--limit", type=POSITIVE, metavar="N",
                   help="seeded sample of N >= 1 prompts per task (default: every prompt)")
    p.add_argument("--seed", type=NON_NEGATIVE, default=_DEFAULT.seed, help="seed of the --limit sample and the bootstrap")
    p.add_argument("--parallel", type=NON_NEGATIVE, default=_DEFAULT.max_parallel_samples,
                   help="samples in flight (0: derived from the judges' concurrency)")
    p.add_argument("--json", action="store_true", help="print the result as JSON instead of a table")


def _add_answer_scoring_args(p: argparse.ArgumentParser) -> None:
    """How an answer is scored: reference model, label set, chunking, relevance, informativeness, reward."""
    add_model_role_args(p, only=("reference",))
    p.add_argument("--verify-mode", choices=("ternary", "binary"), default=_DEFAULT.verify_mode,
                   help="ternary: supported/unsupported/unverifiable; binary: supported/unsupported")
    p.add_argument("--no-relevance", action="store_true", help="skip the pairwise relevance judge")
    p.add_argument("--no-informativeness", action="store_true",
                   help="skip the informativeness judge (the reward then uses the plain design)")
    p.add_argument("--reward-design", choices=DESIGNS, default=_DEFAULT.reward_design,
                   help="merged: weighted precision and detail on the claims' merged content, the same however "
                        "the facts are cut into sentences; informative: weighted, per claim; plain: unweighted "
                        "(docs/metrics.md)")
    p.add_argument("--reward-lambda", type=number(0), default=_DEFAULT.reward_lambda,
                   help="weight of the detail term log(1 + D)")
    p.add_argument("--reward-mu", type=number(0), default=_DEFAULT.reward_mu,
                   help="weight of pairwise relevance (0.5 where it is not measured)")


def _add_scoring_args(p: argparse.ArgumentParser) -> None:
    _add_judge_args(p)
    _add_sample_args(p)
    _add_answer_scoring_args(p)
    p.add_argument("--run-id", type=run_id,
                   help="name of the run directory; re-use it to resume (default: time and model name)")
    p.add_argument("--results-dir", default=_DEFAULT.results_dir, help="where run directories are written")
    p.add_argument("--data-dir", help="local task data, layout in docs/tasks.md (default: $FACTBENCH_DATA_DIR, "
                                      "else ./data, else ../shared/data when present)")
    p.add_argument("--fail-on-error", type=number(0), default=_DEFAULT.fail_on_error,
                   help="exit 1 when failed samples (a stage failing, claims left unlabelled) exceed this "
                        "proportion (<1) or count (>=1)")
    p.add_argument("--max-judge-attempts", type=POSITIVE, default=_DEFAULT.max_judge_attempts, metavar="N",
                   help="attempts per sample and judge stage, across resumes, for items whose answer did not parse")
    p.add_argument("--price-per-1k-input", metavar="USD|ROLE=USD,...",
                   help="price of 1,000 input tokens (e.g. 0.0005, or judge=0.0005,model=0.001); self-hosted roles "
                        "have no dollar cost without it")
    p.add_argument("--price-per-1k-output", metavar="USD|ROLE=USD,...", help="price of 1,000 output tokens, likewise")
    p.add_argument("--max-cost", type=number(0), metavar="USD",
                   help=f"stop cleanly (exit {EXIT_MAX_COST}) once the run has cost this much over all its invocations")
    p.add_argument("--no-progress", action="store_true", help="no progress display (same as --display none)")
    p.add_argument("--display", choices=("auto", "live", "plain", "none"), default="auto",
                   help="progress: live bars (a terminal), plain periodic lines (a pipe or log file), none; "
                        "auto picks by where stderr goes (default)")
    p.add_argument("--label", default=_DEFAULT.label,
                   help="a note shown with this run on the leaderboard (e.g. demo-quality)")
    p.add_argument("--shard", metavar="I/N",
                   help="score only shard I of N (every N-th planned prompt); join the shards with `factbench merge`")


def options_from(args: argparse.Namespace, **overrides: Any) -> RunOptions:
    """The namespace as RunOptions: the one place flags become role specs and run settings."""
    return RunOptions.from_namespace(args, **overrides)


def role_specs(args: argparse.Namespace, with_model: bool, only: tuple[str, ...] | None = None) -> dict[str, Any]:
    return options_from(args).role_specs(with_model, only)


def judge_names(args: argparse.Namespace) -> tuple[str, ...]:
    return options_from(args).judges


def _open_cache(args: argparse.Namespace):
    return options_from(args).open_cache()
