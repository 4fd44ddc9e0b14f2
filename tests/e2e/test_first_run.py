"""A new user's first errors: pre-flight per role, input checks and help, through the real CLI."""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys

import pytest
from conftest import role_args

from factbench.cli.main import build_parser, main
from factbench.serving.judge_server import free_port
from factbench.testing.scripted_server import ScriptedServer, ScriptedState


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "factbench", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def without(*names: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in names}


# ------------------------------------------------------------------ pre-flight

def test_a_provider_key_that_is_not_set_is_named(tmp_path):
    env = without("OPENAI_API_KEY")
    proc = subprocess.run([sys.executable, "-m", "factbench", "run", "--tasks", "demo", "--limit", "1",
                           "--model", "openai/gpt-4o-mini", "--judge", "openai/gpt-4o-mini",
                           "--results-dir", str(tmp_path)], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2
    assert "OPENAI_API_KEY" in proc.stderr and "Traceback" not in proc.stderr
    assert not any(tmp_path.iterdir())  # no run directory: nothing started


def test_a_named_key_variable_that_is_not_set_is_named(server):
    proc = cli("run", "--tasks", "demo", "--limit", "1", *role_args(server.base_url),
               "--judge-api-key-env", "MY_JUDGE_KEY", env={"MY_JUDGE_KEY": ""})
    assert proc.returncode == 2 and "MY_JUDGE_KEY" in proc.stderr


def test_an_endpoint_that_refuses_connections_is_named_with_what_was_tried():
    url = f"http://127.0.0.1:{free_port()}/v1"
    proc = cli("run", "--tasks", "demo", "--limit", "1", *role_args(url))
    assert proc.returncode == 2
    assert f"{url} (roles " in proc.stderr and f"tried GET {url}/models" in proc.stderr


def test_an_endpoint_that_never_answers_is_named():
    with socket.socket() as silent:  # accepts connections (the kernel does) but never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
        proc = cli("run", "--tasks", "demo", "--limit", "1", *role_args(url))
    assert proc.returncode == 2
    assert f"GET {url}/models: no answer within" in proc.stderr


def test_a_model_the_endpoint_does_not_serve_gets_the_list_it_does_serve(tmp_path):
    with ScriptedServer(ScriptedState(models=("judge", "other-model"))) as srv:
        proc = cli("run", "--tasks", "demo", "--limit", "1", *role_args(srv.base_url), "--results-dir", str(tmp_path))
        assert proc.returncode == 2
        assert "does not serve the model 'test-model' (roles model)" in proc.stderr
        assert "it serves: judge, other-model" in proc.stderr
        # --no-preflight: the check is skipped and the (forgiving) scripted server answers anyway
        proc = cli("run", "--tasks", "demo", "--limit", "1", *role_args(srv.base_url), "--results-dir", str(tmp_path),
                   "--no-preflight", "--run-id", "np")
        assert proc.returncode == 0, proc.stderr[-2000:]


def test_preflight_passes_and_says_what_it_checked(server, tmp_path, capsys):
    rc = main(["run", "--tasks", "demo", "--limit", "1", *role_args(server.base_url), "--results-dir", str(tmp_path)])
    assert rc == 0
    assert f"pre-flight: {server.base_url}: answers" in capsys.readouterr().err


# ------------------------------------------------------------------ inputs

def test_limit_must_be_at_least_one(capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", "--tasks", "demo", "--limit", "0", "--responses", "x.jsonl", "--judge", "openai/j"])
    assert info.value.code == 2 and "must be >= 1" in capsys.readouterr().err


def test_an_empty_responses_file_is_a_usage_error_and_starts_nothing(server, tmp_path, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    rc = main(["run", "--tasks", "demo", "--responses", str(empty), *role_args(server.base_url, model=False),
               "--results-dir", str(tmp_path / "results")])
    assert rc == 2 and "no responses in the file" in capsys.readouterr().err
    assert not (tmp_path / "results").exists()


def test_response_ids_that_match_no_prompt_are_named(server, tmp_path, capsys):
    rows = [{"id": "marie-curie", "response": "Marie Curie was a physicist."},
            {"id": "marie-curry", "response": "A typo."}, {"id": "nobody", "response": "x"}]
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    rc = main(["run", "--tasks", "demo", "--responses", str(path), *role_args(server.base_url, model=False),
               "--results-dir", str(tmp_path / "results")])
    err = capsys.readouterr().err
    assert rc == 2
    assert "2 response id(s) match no prompt" in err and "demo/marie-curry (line 2)" in err and "demo/nobody" in err
    assert not (tmp_path / "results").exists()


def test_responses_for_tasks_outside_the_run_are_ignored_and_said(server, tmp_path, capsys):
    rows = [{"task": "demo", "id": "marie-curie", "response": "Marie Curie was a physicist."},
            {"task": "bio", "id": "Someone", "response": "x"}]
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    rc = main(["run", "--tasks", "demo", "--limit", "1", "--responses", str(path),
               *role_args(server.base_url, model=False), "--results-dir", str(tmp_path), "--fail-on-error", "1"])
    assert rc == 0
    assert "responses for task 'bio' (1 lines) ignored" in capsys.readouterr().err


# ------------------------------------------------------------------ help

def _parsers(parser: argparse.ArgumentParser, path: str = "factbench"):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


def test_every_flag_has_help_text():
    missing = [f"{path} {'/'.join(a.option_strings) or a.dest}"
               for path, parser in _parsers(build_parser()) for a in parser._actions
               if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction)) and not a.help]
    assert missing == []


def test_run_help_shows_defaults_exit_codes_and_the_responses_format():
    text = build_parser()._subparsers._group_actions[0].choices["run"].format_help()
    assert "(default: 0.05)" in text and "(default: ternary)" in text  # --fail-on-error, --verify-mode
    assert "exit codes:" in text and "2    usage or input error" in text
    assert '{"id": "<prompt id>", "task": "<task name>", "response": "<the answer>"}' in text
    assert "else ./data, else ../shared/data" in text  # --data-dir says what the code does


def test_output_into_a_closed_pipe_ends_quietly():
    """`factbench list judges | head -0`: the reader is gone before the first line; no traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "factbench", "list", "judges"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141  # 128 + SIGPIPE, as a shell reports it
    assert "Traceback" not in err and "BrokenPipe" not in err
