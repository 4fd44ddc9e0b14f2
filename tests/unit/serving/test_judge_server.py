import subprocess
import sys
from pathlib import Path

import pytest

from factbench.cli.main import main
from factbench.serving.judge_server import (
    ServeError,
    free_port,
    llama_cpp_command,
    start,
    vllm_command,
    wait_ready,
)

ROOT = Path(__file__).resolve().parents[3]


def test_vllm_command_has_judging_settings():
    cmd = vllm_command("meta-llama/Llama-3.3-70B-Instruct", port=9001, tensor_parallel=4, max_num_seqs=128)
    assert Path(cmd[0]).name == "vllm" and cmd[1:3] == ["serve", "meta-llama/Llama-3.3-70B-Instruct"]
    joined = " ".join(cmd)
    assert "--enable-prefix-caching" in cmd
    assert "--tensor-parallel-size 4" in joined and "--port 9001" in joined and "--max-num-seqs 128" in joined
    assert "--structured-outputs-config.backend xgrammar" in joined
    assert "--served-model-name meta-llama/Llama-3.3-70B-Instruct" in joined


VLLM_OPTIONS = {line for line in (Path(__file__).with_name("vllm_serve_options.txt").read_text().splitlines())
                if line.startswith("-")}


def _flags(cmd: list[str]) -> list[str]:
    """The option strings of a command line, without a dotted config key's field (--a-config.b -> --a-config)."""
    return [arg.split("=", 1)[0].split(".", 1)[0] for arg in cmd if arg.startswith("--")]


def test_every_vllm_flag_is_one_the_admitted_vllm_versions_accept():
    assert "--disable-log-requests" not in VLLM_OPTIONS  # removed from vLLM: the old command failed with exit 2
    assert {"--host", "--data-parallel-size", "--tensor-parallel-size"} <= VLLM_OPTIONS  # the list is the parser's
    cmd = vllm_command("m", host="0.0.0.0", port=8001, tensor_parallel=2)
    unknown = [f for f in _flags(cmd) if f not in VLLM_OPTIONS]
    assert unknown == []


def test_judge_serve_passes_everything_after_the_double_dash(capsys):
    assert main(["judge", "serve", "--model", "Qwen/Qwen2.5-72B-Instruct", "--host", "0.0.0.0", "--dry-run",
                 "--", "--data-parallel-size", "2", "--quantization", "fp8"]) == 0
    cmd = capsys.readouterr().out.split()
    assert cmd[1:3] == ["serve", "Qwen/Qwen2.5-72B-Instruct"]
    assert cmd[-4:] == ["--data-parallel-size", "2", "--quantization", "fp8"]  # last: they override defaults
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0"
    assert [f for f in _flags(cmd) if f not in VLLM_OPTIONS] == []


def test_judge_serve_refuses_unknown_flags_before_the_double_dash(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["judge", "serve", "--model", "m", "--dry-run", "--data-parallel-size", "2"])
    assert exc.value.code == 2


def test_client_url_names_this_host_when_serving_every_interface():
    import socket

    from factbench.serving.judge_server import client_url, local_url

    assert client_url("0.0.0.0", 8000) == f"http://{socket.getfqdn()}:8000/v1"
    assert local_url("0.0.0.0", 8000) == "http://127.0.0.1:8000/v1"
    assert client_url("gpu3", 9000) == local_url("gpu3", 9000) == "http://gpu3:9000/v1"


@pytest.mark.slow
def test_vllms_own_parser_accepts_the_command():
    """Where vLLM is installed (the gpu extra), its `vllm serve` parser reads the command we build."""
    pytest.importorskip("vllm", reason="vLLM is not installed (pip install 'factbench[gpu]')")
    # make_arg_parser moved between releases; the serve command module imports it in all of them
    from vllm.entrypoints.cli import serve as vllm_serve
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    cmd = vllm_command("Qwen/Qwen2.5-7B-Instruct", host="0.0.0.0", tensor_parallel=2,
                       extra=["--data-parallel-size", "2"])
    parsed = vllm_serve.make_arg_parser(FlexibleArgumentParser()).parse_args(cmd[2:])
    assert parsed.model_tag == "Qwen/Qwen2.5-7B-Instruct" and parsed.host == "0.0.0.0"
    assert parsed.tensor_parallel_size == 2 and parsed.data_parallel_size == 2 and parsed.enable_prefix_caching


def test_llama_cpp_command():
    cmd = llama_cpp_command("/models/judge.gguf", port=9002, served_name="judge", threads=2, engine="llama_cpp")
    assert cmd[1:3] == ["-m", "llama_cpp.server"]
    assert "--model_alias judge" in " ".join(cmd) and "--n_threads 2" in " ".join(cmd)


def test_the_prebuilt_engines_server_takes_the_same_command_line():
    from factbench.serving import llama_server

    cmd = llama_cpp_command("/models/judge.gguf", port=9002, served_name="judge", threads=1, engine="xllamacpp")
    assert cmd[1:3] == ["-m", "factbench.serving.llama_server"]
    args = llama_server.parser().parse_args(cmd[3:])
    assert (args.model, args.port, args.model_alias, args.n_threads, args.n_ctx) == \
        ("/models/judge.gguf", 9002, "judge", 1, 8192)


def test_judge_serve_dry_run_prints_the_command(capsys):
    assert main(["judge", "serve", "--model", "Qwen/Qwen2.5-72B-Instruct", "--tensor-parallel", "2",
                 "--port", "8123", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "--tensor-parallel-size 2" in out and "--port 8123" in out and "--enable-prefix-caching" in out


def test_start_waits_for_a_local_stand_in_and_stops_it():
    port = free_port()
    cmd = [sys.executable, "-m", "factbench.testing.scripted_server", "--port", str(port), "--models", "scripted"]
    with start(cmd, f"http://127.0.0.1:{port}/v1", "scripted", timeout_s=60) as served:
        assert served.proc.poll() is None
        assert wait_ready(served.base_url, served.proc, timeout_s=5) == ["scripted"]
    assert served.proc.poll() is not None  # stopped on exit


def test_readiness_fails_fast_when_the_server_dies():
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(3)"])
    with pytest.raises(ServeError, match="exited with status 3"):
        wait_ready(f"http://127.0.0.1:{free_port()}/v1", proc, timeout_s=30, interval_s=0.05)


def test_readiness_times_out_on_a_silentfree_port():
    with pytest.raises(ServeError, match="not ready after"):
        wait_ready(f"http://127.0.0.1:{free_port()}/v1", None, timeout_s=0.3, interval_s=0.05)


def test_make_leaderboard_builds_from_committed_runs(tmp_path):
    runs = sorted(str(p) for p in (ROOT / "results" / "published").iterdir() if (p / "summary.json").is_file())
    assert any("factscore-instructgpt-human" in r for r in runs)
    assert main(["leaderboard", "build", *runs, "--out", str(tmp_path)]) == 0
    md = (tmp_path / "leaderboard.md").read_text()
    assert "InstructGPT" in md and "42.6 [" in md  # the human-judged row
    assert "PerplexityAI" in md and "71.6 [" in md  # the second human-judged row
