"""Task data: one-line offline failures, `data fetch` into the documented layout, and run-time
downloads, against a local stand-in for the Hub and GitHub (never the real network)."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from factbench.serving.judge_server import free_port
from factbench.taskdata import _reachable
from factbench.tasks import DataContext, TaskDataUnavailable, discover_tasks

FAVA = "/datasets/fava-uw/fava-data/resolve/main/annotations.json"
HARD = "/datasets/launch/FactBench/resolve/67d807e76651f4649a971b3eeaeb95f72b6cba40/tier_1.csv"
BIO = ("/google-deepmind/long-form-factuality/9d27158d198ced0a9d8271a80147cae580614601/"
       "third_party/factscore/labeled_data/prompt_entities.txt")


@pytest.fixture
def stand_in(tmp_path, monkeypatch):
    """A static HTTP server laid out like the Hub's and GitHub's download URLs."""
    root = tmp_path / "www"
    files = {FAVA: json.dumps([{"prompt": "Tell me about X.", "model": "m"}, {"prompt": "Who is Y?", "model": "m"}]),
             HARD: "user_prompts,topic_description\nWhat is A?,t1\n\"Who wrote B, and when?\",t2\n",
             BIO: "Ada Lovelace\nAlan Turing\n"}
    for url_path, text in files.items():
        dest = root / url_path.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text)
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    monkeypatch.setenv("HF_ENDPOINT", base)
    monkeypatch.setenv("FACTBENCH_GITHUB_RAW", base)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("FACTBENCH_DATA_CACHE", str(tmp_path / "download-cache"))
    _reachable.cache_clear()
    yield base
    httpd.shutdown()
    _reachable.cache_clear()


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "factbench", *args], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ))


def test_offline_a_task_without_local_data_fails_at_once_saying_where_to_put_it(tmp_path):
    with pytest.raises(TaskDataUnavailable) as info:  # HF_HUB_OFFLINE=1 (conftest)
        discover_tasks()["fava"].load(DataContext(tmp_path, offline=False))
    message = str(info.value)
    assert "\n" not in message
    assert "<data-dir>/fava/annotations.json is missing" in message and "factbench data fetch fava" in message


def test_without_a_network_the_failure_is_immediate_and_names_the_url(tmp_path, monkeypatch):
    dead = f"http://127.0.0.1:{free_port()}"
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", dead)
    monkeypatch.setenv("FACTBENCH_DATA_CACHE", str(tmp_path / "cache"))
    _reachable.cache_clear()
    with pytest.raises(TaskDataUnavailable, match=f"{dead}/datasets/facebook/FACTORY/.* cannot be reached"):
        discover_tasks()["factory"].load(DataContext(tmp_path, offline=False))
    _reachable.cache_clear()


def test_a_run_on_a_task_without_data_offline_is_a_one_line_usage_error(tmp_path):
    (tmp_path / "r.jsonl").write_text('{"task": "fava", "id": "fava-0000", "response": "x"}\n')
    proc = cli("run", "--tasks", "fava", "--responses", str(tmp_path / "r.jsonl"), "--judge", "openai/j",
               "--judge-base-url", f"http://127.0.0.1:{free_port()}/v1", "--no-preflight",
               "--results-dir", str(tmp_path))
    assert proc.returncode == 2
    assert "fava: skipped (<data-dir>/fava/annotations.json is missing" in proc.stderr


def test_data_fetch_writes_the_documented_layout_that_the_loaders_read(stand_in, tmp_path):
    to = tmp_path / "data"
    proc = cli("data", "fetch", "fava,factbench-hard,bio", "--to", str(to))
    assert proc.returncode == 0, proc.stderr
    assert (to / "fava" / "annotations.json").is_file()
    assert (to / "factbench" / "tier_1.csv").is_file()
    assert (to / "factscore" / "labeled_data" / "prompt_entities.txt").is_file()
    assert f"--data-dir {to}" in proc.stdout
    ctx = DataContext(to, offline=True)
    reg = discover_tasks()
    assert [p.text for p in reg["fava"].load(ctx)] == ["Tell me about X.", "Who is Y?"]
    assert [(p.id, p.text) for p in reg["factbench-hard"].load(ctx)] == [
        ("fb_hard_000", "What is A?"), ("fb_hard_001", "Who wrote B, and when?")]
    assert [p.topic for p in reg["bio"].load(ctx)] == ["Ada Lovelace", "Alan Turing"]
    listed = {r["name"]: r for r in json.loads(cli("list", "tasks", "--data-dir", str(to), "--json").stdout)}
    assert listed["fava"]["data"] == listed["bio"]["data"] == "local" and listed["bio"]["prompts"] == 2
    assert listed["factory"]["data"] == "missing"
    again = cli("data", "fetch", "fava", "--to", str(to))
    assert "0 downloaded, 1 already there" in again.stdout


def test_data_fetch_failure_names_the_url_and_leaves_nothing_partial(stand_in, tmp_path):
    to = tmp_path / "data"
    proc = cli("data", "fetch", "factory", "--to", str(to))  # the stand-in has no FACTORY files
    assert proc.returncode == 2
    assert "factory: failed: GET " in proc.stderr and "/datasets/facebook/FACTORY/" in proc.stderr
    assert not list(Path(to).rglob("*.jsonl")) and not list(Path(to).rglob("*.part"))


def test_a_run_time_download_goes_to_the_download_cache_and_is_reused_offline(stand_in, tmp_path, monkeypatch):
    task = discover_tasks()["fava"]
    assert len(task.load(DataContext(None, offline=False))) == 2
    assert (tmp_path / "download-cache" / "fava" / "annotations.json").is_file()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert len(task.load(DataContext(None, offline=True))) == 2  # no network needed the second time
