"""CLI flags and Python keywords become the same role specs and settings (one code path)."""

import argparse

import pytest

import factbench
from factbench.cli.main import build_parser
from factbench.cli.options import options_from
from factbench.pipeline.options import NEGATED_FLAGS, RunOptions, UsageError


def test_flags_and_keywords_build_identical_specs_and_settings():
    args = build_parser().parse_args([
        "run", "--model", "openai/m", "--model-base-url", "http://a/v1", "--judge", "openai/j",
        "--judge-base-url", "http://b/v1,http://c/v1", "--verifier", "openai/v", "--verifier-concurrency", "7",
        "--no-relevance", "--limit", "5", "--shard", "2/4", "--judge-timeout", "30"])
    from_cli = options_from(args)
    from_python = RunOptions(model="openai/m", model_base_url="http://a/v1", judge="openai/j",
                             judge_base_url=["http://b/v1", "http://c/v1"], verifier="openai/v",
                             verifier_concurrency=7, relevance=False, limit=5, shard="2/4", judge_timeout=30)
    assert from_cli.role_specs(True) == from_python.role_specs(True)
    assert from_cli.settings("r") == from_python.settings("r")
    roles = from_python.role_specs(True)
    assert roles["verifier"].max_concurrency == 7 and roles["extractor"].base_urls == ("http://b/v1", "http://c/v1")
    assert "relevance" not in roles and roles["extractor"].timeout_s == 30


def test_cli_defaults_are_the_options_defaults():
    args = build_parser().parse_args(["run", "--judge", "openai/j", "--model", "openai/m"])
    assert options_from(args) == RunOptions(judge="openai/j", model="openai/m")


def test_missing_judge_and_unknown_keyword():
    with pytest.raises(UsageError, match="--judge"):
        RunOptions(model="openai/m").role_specs(True)
    with pytest.raises(UsageError, match="unknown option 'judge_url'"):
        RunOptions.of(judge_url="x")
    with pytest.raises(UsageError, match="'verifer_base_url' .did you mean 'verifier_base_url'"):
        RunOptions.of(judge="openai/j", verifer_base_url="http://v/v1")
    with pytest.raises(UsageError, match="unknown option 'limt' .did you mean 'limit'"):
        factbench.evaluate("demo", judge="openai/j", limt=3)


# Flags of `factbench run` that are not evaluate() keywords, and why.
CLI_ONLY = {"help": "argparse's help", "json": "how the terminal shows the summary (evaluate returns it)",
            "tasks": "evaluate's first argument"}


def test_every_run_flag_is_an_evaluate_keyword_named_like_it():
    run = build_parser()._subparsers._group_actions[0].choices["run"]
    keywords = RunOptions.keywords()  # the fields, every role's options, every stage's options
    flags = [a for a in run._actions if a.option_strings and a.help != argparse.SUPPRESS]  # not former spellings
    assert len(flags) > 60  # every role's five options included
    for action in flags:
        flag = max(action.option_strings, key=len)
        dest = action.dest
        if dest in CLI_ONLY:
            continue
        keyword = NEGATED_FLAGS.get(dest, dest)
        assert keyword in keywords, f"{flag} has no evaluate() keyword"
        assert flag == "--" + dest.replace("_", "-")  # the keyword is the flag's name (--no-X: X=False)
    # and the reverse: every keyword is a flag of `factbench run`
    dests = {NEGATED_FLAGS.get(a.dest, a.dest) for a in flags}
    assert keywords <= dests, f"keywords without a flag: {sorted(keywords - dests)}"


def test_role_defaults_are_written_once():
    from factbench.llm.client import ROLE_DEFAULTS, RoleSpec

    bare = RoleSpec(role="verifier", model="openai/j")
    assert (bare.max_concurrency, bare.timeout_s, bare.max_retries) == (
        ROLE_DEFAULTS.judge_concurrency, ROLE_DEFAULTS.judge_timeout_s, ROLE_DEFAULTS.max_retries)
    built = RunOptions(judge="openai/j").role_specs(False)["verifier"]
    assert (built.max_concurrency, built.timeout_s) == (bare.max_concurrency, bare.timeout_s)
