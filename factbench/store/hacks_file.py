"""Where a run's hack report lives (RUN_DIR/hacks/hacks.json), and the pointer summary.json carries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPORT_FILE = Path("hacks") / "hacks.json"


def hacks_pointer(run_dir: str | Path) -> dict[str, Any] | None:
    """The report's path (relative to the run directory) and verdict, or None without a report."""
    path = Path(run_dir) / REPORT_FILE
    if not path.is_file():
        return None
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return {"report": str(REPORT_FILE), "reward": report.get("reward"), "raised": report.get("raised"),
            "hacks": list(report.get("hacks", {})), "created_at": report.get("created_at")}
