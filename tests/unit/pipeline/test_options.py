"""CLI flags and Python keywords become the same role specs and settings (one code path)."""

import pytest

from factbench.cli.main import build_parser
from factbench.cli.options import options_from
from factbench.pipeline.options import RunOptions, UsageError


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
    with pytest.raises(ValueError, match="judge_url"):
        RunOptions(judge_url="x")
