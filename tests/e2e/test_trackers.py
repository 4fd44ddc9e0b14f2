"""`--log-to wandb|mlflow`: a run's metrics and tables reach each tracker's offline/local store."""

from __future__ import annotations

import json
import sys

import pandas as pd
import pytest
from conftest import write_longfact_fixture

from factbench.cli.main import main


def _args(tmp_path, server, run_id: str, tracker: str) -> list[str]:
    data = tmp_path / "data"
    if not data.exists():
        write_longfact_fixture(data, n_topics=2, per_topic=3)
    responses = tmp_path / "responses.jsonl"
    responses.write_text("".join(json.dumps({"id": f"topic{t}-{i:02d}", "response": f"Object {t} is in source {i}. "
                                             "Records from Atlantis mention it."}) + "\n" for t in range(2) for i in range(3)))
    return ["run", "--tasks", "longfact-objects", "--responses", str(responses), "--data-dir", str(data),
            "--results-dir", str(tmp_path / "results"), "--run-id", run_id, "--judge", "openai/judge",
            "--judge-base-url", server.base_url, "--no-progress", "--no-relevance", "--evidence", "none",
            "--log-to", tracker]


def test_log_to_wandb_offline(tmp_path, server, monkeypatch, capsys):
    pytest.importorskip("wandb", reason="the optional extra factbench[wandb] is not installed")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    assert main(_args(tmp_path, server, "w1", "wandb")) == 0
    assert "logged to wandb run w1" in capsys.readouterr().err
    runs = list((tmp_path / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(runs) == 1
    stored = runs[0].read_bytes()  # the offline run file holds the summary, table and artifact records
    for key in (b"overall/precision", b"longfact-objects/n_scored", b"claims.parquet", b"answers.parquet", b"tasks.csv"):
        assert key in stored, key
    assert b"127.0.0.1" not in stored  # endpoints are never logged
    assert list((tmp_path / "wandb").glob("offline-run-*/files/media/table/tasks_*.table.json"))


def test_log_to_mlflow_local(tmp_path, server, monkeypatch, capsys):
    mlflow = pytest.importorskip("mlflow", reason="the optional extra factbench[mlflow] is not installed")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # the local file store, no server
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "fb-test")
    assert main(_args(tmp_path, server, "m1", "mlflow")) == 0
    assert "logged to mlflow run" in capsys.readouterr().err
    runs = mlflow.search_runs(experiment_names=["fb-test"], output_format="list")
    assert len(runs) == 1 and runs[0].data.params["run_id"] == "m1"
    summary = json.loads((tmp_path / "results" / "m1" / "summary.json").read_text())
    assert runs[0].data.metrics["overall.precision"] == pytest.approx(summary["overall"]["metrics"]["precision"]["mean"])
    client = mlflow.MlflowClient()
    paths = {a.path for a in client.list_artifacts(runs[0].info.run_id, "factbench")}
    assert paths == {"factbench/claims.parquet", "factbench/answers.parquet", "factbench/tasks.csv"}
    local = client.download_artifacts(runs[0].info.run_id, "factbench/claims.parquet", str(tmp_path / "dl"))
    assert len(pd.read_parquet(local)) == summary["overall"]["n_claims"]


def test_missing_tracker_extra_is_a_usage_error_before_any_work(tmp_path, server, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "wandb", None)  # as if the extra were not installed
    assert main(_args(tmp_path, server, "x1", "wandb")) == 2
    assert "pip install 'factbench[wandb]'" in capsys.readouterr().err
    assert not (tmp_path / "results" / "x1").exists()
