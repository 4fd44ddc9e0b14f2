"""A bad eval-set manifest stops before any work: exit 2 naming the file, the line and the key."""

from __future__ import annotations

import pytest

from factbench.cli.main import build_parser, main
from factbench.evalset.manifest import ManifestError, load_manifest

# `factbench run`'s flag actions, as `factbench eval-set` passes them to load_manifest
RUN_FLAGS = build_parser().parse_args(["eval-set", "set.toml", "--out", "out"]).run_flags

GOOD = """\
judge = "openai/judge"
judge_base_url = "http://127.0.0.1:9/v1"
tasks = ["demo"]
evidence = "none"
limit = 3

[[runs]]
run_id = "ckpt-1"
model = "openai/m1"
step = 1

[[runs]]
run_id = "ckpt-2"
model = "openai/m2"
step = 2
limit = 5
"""


def _write(tmp_path, text):
    path = tmp_path / "set.toml"
    path.write_text(text)
    return path


def test_top_level_keys_are_defaults_and_runs_override_them(tmp_path):
    m = load_manifest(_write(tmp_path, GOOD), RUN_FLAGS)
    assert [r.run_id for r in m.runs] == ["ckpt-1", "ckpt-2"]
    assert m.runs[0].tasks == ("demo",) and m.runs[0].options["limit"] == 3 and m.runs[1].options["limit"] == 5
    assert m.runs[1].options["model"] == "openai/m2" and m.runs[1].options["judge"] == "openai/judge"


@pytest.mark.parametrize("edit, line, key", [
    (lambda t: t.replace("limit = 5", "limt = 5"), 16, "limt"),  # a typo in the second run
    (lambda t: t.replace("evidence = \"none\"", "evidnce = \"none\""), 4, "evidnce"),  # a typo in the defaults
    (lambda t: t.replace("step = 2", "step = \"two\""), 15, "step"),  # a wrong type
    (lambda t: t.replace("limit = 3", "limit = -3"), 5, "limit"),  # inherited by run 1: the default's line
    (lambda t: t.replace("model = \"openai/m1\"", "results_dir = \"x\""), 9, "results_dir"),  # set by --out
    (lambda t: t.replace("run_id = \"ckpt-2\"", "run_id = \"ckpt-1\""), 13, "run_id"),  # used twice
    (lambda t: t.replace("run_id = \"ckpt-2\"", "run_id = \"../x\""), 13, "run_id"),  # not a directory name
    (lambda t: t.replace("tasks = [\"demo\"]", "tasks = [\"no-such-task\"]"), 3, "tasks"),
])
def test_a_bad_manifest_names_file_line_and_key(tmp_path, capsys, edit, line, key):
    path = _write(tmp_path, edit(GOOD))
    with pytest.raises(ManifestError) as exc:
        load_manifest(path, RUN_FLAGS)
    assert f"{path}:{line}" in str(exc.value) and repr(key) in str(exc.value)
    assert main(["eval-set", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{path}:{line}" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing started


def test_limit_below_zero_is_refused_with_the_options_own_rule(tmp_path):
    path = _write(tmp_path, GOOD.replace("limit = 5", "limit = 0"))
    with pytest.raises(ManifestError, match=r":16 \(run 2\): key 'limit'"):
        load_manifest(path, RUN_FLAGS)


def test_unknown_key_suggests_the_near_one(tmp_path):
    with pytest.raises(ManifestError, match="did you mean 'judge_base_url'"):
        load_manifest(_write(tmp_path, GOOD.replace("judge_base_url", "judge_base_ulr")), RUN_FLAGS)


def test_toml_syntax_error_and_missing_runs(tmp_path):
    with pytest.raises(ManifestError, match=r"set.toml: not valid TOML: .*line 1"):
        load_manifest(_write(tmp_path, "judge = \n"), RUN_FLAGS)
    with pytest.raises(ManifestError, match=r"needs at least one \[\[runs\]\] table"):
        load_manifest(_write(tmp_path, "judge = \"openai/j\"\n"), RUN_FLAGS)
    with pytest.raises(ManifestError, match="cannot read"):
        load_manifest(tmp_path / "absent.toml", RUN_FLAGS)


def test_a_run_without_a_model_is_refused_at_load(tmp_path):
    path = _write(tmp_path, GOOD.replace('model = "openai/m2"\n', ""))
    with pytest.raises(ManifestError, match=r":12 \(run 2\): key .model.: give --model"):
        load_manifest(path, RUN_FLAGS)


def test_relative_paths_are_taken_from_the_manifests_folder(tmp_path, monkeypatch):
    (tmp_path / "sets").mkdir()
    path = tmp_path / "sets" / "set.toml"
    path.write_text(GOOD.replace('limit = 3\n', 'limit = 3\ndata_dir = "../data"\ncache = "/abs/c.sqlite"\n'))
    monkeypatch.chdir(tmp_path / "sets")
    run = load_manifest(path, RUN_FLAGS).runs[0]
    assert run.options["data_dir"] == str(tmp_path / "data") and run.options["cache"] == "/abs/c.sqlite"
