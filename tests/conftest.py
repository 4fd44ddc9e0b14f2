from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from factbench.testing.scripted_server import ScriptedServer, ScriptedState

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own call cache; nothing touches the user's."""
    monkeypatch.setenv("FACTBENCH_CACHE", str(tmp_path / "cache.sqlite"))
    monkeypatch.delenv("SERPER_API_KEY", raising=False)
    monkeypatch.delenv("FACTBENCH_DATA_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the test machine has no Hub access: fail fast
    monkeypatch.chdir(tmp_path)  # no ./data or ../shared/data is picked up by default


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA / "longfact").is_dir():
        pytest.skip(f"public benchmark data not present at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def server():
    with ScriptedServer(ScriptedState()) as srv:
        yield srv


def default_sigint() -> None:
    """`preexec_fn` of a child a test stops with SIGINT: Ctrl-C acts on it even when the test run
    itself was started in the background by a shell (which makes SIGINT ignored, and a child
    inherits that)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def role_args(url: str, model: bool = True, evidence: str | None = "none") -> list[str]:
    """Roles on the scripted server. Evidence is named explicitly (a task's default, web search,
    is not available in tests and is never replaced silently); pass evidence=None to omit it."""
    args = ["--judge", "openai/judge", "--judge-base-url", url, "--no-progress"]
    if evidence is not None:
        args += ["--evidence", evidence]
    if model:
        args = ["--model", "openai/test-model", "--model-base-url", url] + args
    return args


def write_longfact_fixture(root: Path, n_topics: int = 2, per_topic: int = 3) -> Path:
    """A tiny data directory in LongFact's published layout (for tests without shared data)."""
    folder = root / "longfact" / "longfact-objects_gpt4_01-12-2024_noduplicates"
    folder.mkdir(parents=True)
    for t in range(n_topics):
        lines = [f'{{"prompt": "What can you tell me about object {t}-{i}?", "canary": "x"}}' for i in range(per_topic)]
        (folder / f"longfact-objects_topic{t}.jsonl").write_text("\n".join(lines) + "\n")
    return root


os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def install_plugin(site: Path, module: str, source: str, entry_points: str) -> list[Path]:
    """A plug-in distribution in the two files importlib.metadata needs to find its entry points: a
    one-file module and its `NAME-VERSION.dist-info/entry_points.txt` (without METADATA the
    distribution is named by that directory, as in a wheel). Put `site` on sys.path to have it
    discovered; returns the files written."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(source)
    dist = site / f"{module}-0.1.dist-info"
    dist.mkdir()
    (dist / "entry_points.txt").write_text(entry_points)
    return sorted(p for p in site.rglob("*") if p.is_file())
