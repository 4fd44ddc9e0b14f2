"""Leaderboard: run directories -> index.html (static, self-contained), leaderboard.md,
leaderboard.csv, pareto.svg and one viewer page per run (runs/<safe name>.html).

Ranking rules live in ranking.py, the page in lb_page.py, the text tables in lb_tables.py.
Every file written here has a name made from data by `safe_file_stem` and is checked to
lie inside --out, whatever a run.json says. Unreadable runs are skipped with a warning.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TextIO

from factbench.reports.lb_page import index_html
from factbench.reports.lb_tables import markdown, write_csv
from factbench.reports.pareto import Point, pareto_svg
from factbench.reports.ranking import build_rows
from factbench.reports.run_data import load_run_data
from factbench.reports.run_info import RunInfo, UnreadableRun, find_run_dirs, read_run, safe_file_stem
from factbench.reports.viewer import write_viewer


class NoRuns(FileNotFoundError):
    pass


def _inside(out: Path, path: Path) -> Path:
    resolved = path.resolve()
    if not resolved.is_relative_to(out.resolve()):
        raise ValueError(f"refusing to write {path}: outside {out}")
    return path


def build(roots: list[Path], out: Path, warn: TextIO | None = None) -> dict[str, Any]:
    """Write the leaderboard of the runs found in/below `roots` into `out`."""
    warn = warn or sys.stderr
    runs: list[RunInfo] = []
    for d in find_run_dirs(roots):
        try:
            runs.append(read_run(d))
        except UnreadableRun as exc:
            print(f"factbench leaderboard: warning: skipped {d}: {exc}", file=warn)
    if not runs:
        raise NoRuns("no readable run directory (with run.json and summary.json) in or below: "
                     + ", ".join(str(d) for d in roots))
    out.mkdir(parents=True, exist_ok=True)
    runs_dir = _inside(out, out / "runs")
    runs_dir.mkdir(exist_ok=True)
    taken: set[str] = set()
    page_of: dict[str, str] = {}
    sizes: dict[str, int] = {}
    for run in runs:
        try:
            data = load_run_data(run.run_dir)
        except UnreadableRun as exc:
            print(f"factbench leaderboard: warning: {run.run_id}: no answers page: {exc}", file=warn)
            continue
        stem = safe_file_stem(run.run_id, taken)
        target = _inside(out, runs_dir / f"{stem}.html")
        sizes[run.run_id] = write_viewer(data, run, target, back_link="../index.html")
        page_of[run.run_id] = stem
    for stale in runs_dir.glob("*.html"):  # pages of runs no longer on the board would be linked from nowhere
        if stale.stem not in page_of.values():
            stale.unlink()
    rows = build_rows(runs)
    _inside(out, out / "index.html").write_text(index_html(rows, page_of), encoding="utf-8")
    _inside(out, out / "leaderboard.md").write_text(markdown(rows), encoding="utf-8")
    write_csv(rows, _inside(out, out / "leaderboard.csv"))
    overall = [r for r in rows.get("overall", []) if r.result.metrics.get("supported", {}).get("mean") is not None
               and r.result.metrics.get("precision", {}).get("mean") is not None]
    points = [Point(r.result.metrics["supported"]["mean"], r.result.metrics["precision"]["mean"] * 100,
                    r.run.model, r.run.run_id, r.section == "demo") for r in overall]
    _inside(out, out / "pareto.svg").write_text(pareto_svg(points, "overall"), encoding="utf-8")
    return {"rows": len(runs), "tasks": list(rows), "pages": page_of, "page_bytes": sizes}
