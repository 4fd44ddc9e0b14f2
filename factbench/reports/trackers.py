"""Experiment tracking: `--log-to wandb|mlflow` logs a finished run's summary metrics, its
per-task table and its per-claim and per-answer tables (as artifacts).

The libraries are optional extras (`pip install 'factbench[wandb]'` / `'factbench[mlflow]'`),
imported only here and only when asked for. Where they log to is theirs to configure:
WANDB_PROJECT / WANDB_MODE=offline / WANDB_DIR, and MLFLOW_TRACKING_URI / MLFLOW_EXPERIMENT_NAME.
Only ids, model and judge names and numbers are logged: no endpoints, no keys.
"""

from __future__ import annotations

import importlib
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from factbench.reports.run_info import RunInfo, read_run, safe_file_stem
from factbench.reports.run_tables import load_run

TRACKERS = {"wandb": "wandb", "mlflow": "mlflow"}


class TrackerUnavailable(Exception):
    pass


def require(name: str) -> None:
    """Fail early (before a run starts) when the tracker's library is not installed."""
    if name not in TRACKERS:
        raise TrackerUnavailable(f"--log-to must be one of {', '.join(TRACKERS)}")
    try:
        importlib.import_module(TRACKERS[name])
    except ImportError:
        raise TrackerUnavailable(f"--log-to {name} needs the optional extra: pip install 'factbench[{name}]'") from None


def metrics_of(info: RunInfo) -> dict[str, float]:
    """'<task>/<metric>' -> mean, plus counts, for every task and overall."""
    out: dict[str, float] = {}
    for task, r in info.tasks.items():
        for name, m in r.metrics.items():
            if m.get("mean") is not None:
                out[f"{task}/{name}"] = float(m["mean"])
        out[f"{task}/n_scored"] = float(r.n_scored)
        out[f"{task}/judge_errors"] = float(r.judge_errors)
    return out


def task_table(info: RunInfo) -> pd.DataFrame:
    rows = []
    for task, r in info.tasks.items():
        row: dict[str, Any] = {"task": task, "n_answers": r.n_answers, "n_scored": r.n_scored, "evidence": r.evidence,
                               "version": r.version, "judge_errors": r.judge_errors}
        for name, m in r.metrics.items():
            ci = m.get("ci95") or [None, None]
            row.update({name: m.get("mean"), f"{name}_ci_low": ci[0], f"{name}_ci_high": ci[1]})
        rows.append(row)
    return pd.DataFrame(rows)


def params_of(info: RunInfo) -> dict[str, str]:
    return {"run_id": info.run_id, "model": info.model, "judge": info.judge, "label": info.label[:250],
            "factbench_version": info.factbench_version,
            "tasks": ",".join(sorted(t for t in info.tasks if t != "overall"))[:250],
            **({"step": str(info.step)} if info.step is not None else {})}


def _files(run_dir: Path, folder: Path) -> dict[str, Path]:
    tables = load_run(run_dir)
    info = read_run(run_dir)
    paths = {"claims": folder / "claims.parquet", "answers": folder / "answers.parquet", "tasks": folder / "tasks.csv"}
    tables.claims.to_parquet(paths["claims"], index=False)
    tables.answers.to_parquet(paths["answers"], index=False)
    task_table(info).to_csv(paths["tasks"], index=False)
    return paths


def log_wandb(run_dir: Path) -> str:
    import wandb

    info = read_run(run_dir)
    with tempfile.TemporaryDirectory() as tmp:
        paths = _files(run_dir, Path(tmp))
        run = wandb.init(project=os.environ.get("WANDB_PROJECT", "factbench"), name=info.run_id,
                         config=params_of(info), job_type="factbench-eval", reinit=True)
        try:
            run.summary.update(metrics_of(info))
            run.log({"tasks": wandb.Table(dataframe=task_table(info))})
            artifact = wandb.Artifact(safe_file_stem(f"{info.run_id}-tables", set()), type="factbench-run")
            for path in paths.values():
                artifact.add_file(str(path))
            run.log_artifact(artifact)
            where = getattr(run, "dir", "") or ""
        finally:
            run.finish()
    return f"wandb run {info.run_id} ({where})"


def log_mlflow(run_dir: Path) -> str:
    import mlflow

    info = read_run(run_dir)
    mlflow.set_experiment(os.environ.get("MLFLOW_EXPERIMENT_NAME", "factbench"))
    with tempfile.TemporaryDirectory() as tmp, mlflow.start_run(run_name=info.run_id) as active:
        paths = _files(run_dir, Path(tmp))
        mlflow.log_params(params_of(info))
        mlflow.log_metrics({k.replace("/", "."): v for k, v in metrics_of(info).items()})
        for path in paths.values():
            mlflow.log_artifact(str(path), artifact_path="factbench")
        run_id = active.info.run_id
    return f"mlflow run {run_id} (experiment {os.environ.get('MLFLOW_EXPERIMENT_NAME', 'factbench')})"


def log_run(tracker: str, run_dir: str | Path) -> str:
    """Log a finished run to `tracker`; returns where it went."""
    require(tracker)
    return {"wandb": log_wandb, "mlflow": log_mlflow}[tracker](Path(run_dir))
