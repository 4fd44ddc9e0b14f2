"""Leaderboard (in a real headless browser) and the compare gate's exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import write_longfact_fixture

from factbench.cli.main import main

HOSTILE = "<script>alert(1)</script>"


def _answers(n: int, bad: set[int], sentences: int = 8) -> list[str]:
    """Answers whose sentences are all true except one false sentence in answers listed in `bad`."""
    out = []
    for i in range(n):
        parts = [f"Object {i} is documented in source {j} of the archive." for j in range(sentences)]
        if i in bad:
            parts[0] = f"Records from Atlantis mention object {i}."
        out.append(" ".join(parts))
    return out


def _run(tmp_path: Path, server, run_id: str, answers: list[str], judge: str = "openai/judge",
         model_label: str | None = None) -> Path:
    data = tmp_path / "data"
    if not data.exists():
        write_longfact_fixture(data, n_topics=4, per_topic=15)
    ids = [f"topic{t}-{i:02d}" for t in range(4) for i in range(15)]
    responses = tmp_path / f"{run_id}.jsonl"
    responses.write_text("".join(json.dumps({"id": pid, "response": a}) + "\n" for pid, a in zip(ids, answers)))
    args = ["run", "--tasks", "longfact-objects", "--responses", str(responses), "--data-dir", str(data),
            "--results-dir", str(tmp_path / "results"), "--run-id", run_id, "--judge", judge,
            "--judge-base-url", server.base_url, "--no-progress", "--evidence", "none"]
    if model_label:
        args += ["--label", model_label]
    assert main(args) == 0
    return tmp_path / "results" / run_id


def test_compare_exit_codes(tmp_path, server, capsys):
    base = _run(tmp_path, server, "base", _answers(60, bad=set()))
    small = _run(tmp_path, server, "small", _answers(60, bad={3}))          # one claim in 480 got worse
    large = _run(tmp_path, server, "large", _answers(60, bad=set(range(0, 60, 2))))  # half the answers lose 1/8
    other = _run(tmp_path, server, "other-judge", _answers(60, bad=set()), judge="openai/judge-b")

    assert main(["compare", str(base), str(small)]) == 0
    report = capsys.readouterr().out
    assert "no significant regression" in report and "| overall | 60 |" in report

    assert main(["compare", str(base), str(large)]) == 1
    assert "regression" in capsys.readouterr().out
    assert main(["compare", str(base), str(large), "--max-drop", "10"]) == 0  # a 6.25 pp drop is allowed
    capsys.readouterr()

    assert main(["compare", str(base), str(other)]) == 3
    assert "judged differently" in capsys.readouterr().err
    assert main(["compare", str(base), str(large), "--min-pairs", "100"]) == 3
    assert main(["compare", str(base), str(tmp_path / "missing")]) == 2
    assert main(["compare", str(base), str(small), "--metric", "nonsense"]) == 2

    assert main(["compare", str(base), str(large), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    overall = next(d for d in data["deltas"] if d["scope"] == "overall")
    assert overall["diff"] == pytest.approx(-100 * 30 * (1 / 8) / 60)  # -6.25 pp, computed by hand
    assert overall["ci"][1] < -1.0


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    return path


def test_leaderboard_page_in_headless_browser(tmp_path, server):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra")
    chromium = _chromium()
    good = _run(tmp_path, server, "good", _answers(60, bad=set()))
    hostile_answers = _answers(60, bad=set(range(0, 60, 3)))
    hostile_answers[0] = hostile_answers[0] + " " + HOSTILE
    hostile = _run(tmp_path, server, "hostile", hostile_answers, model_label=HOSTILE)
    # the model under test is named by its run.json; give the second run a hostile name
    spec = json.loads((hostile / "run.json").read_text())
    spec["roles"]["model"] = {"model": HOSTILE, "endpoints": []}
    (hostile / "run.json").write_text(json.dumps(spec))
    out = tmp_path / "lb"
    assert main(["leaderboard", "build", str(good), str(hostile), "--out", str(out)]) == 0
    for name in ("index.html", "leaderboard.md", "leaderboard.csv", "pareto.svg", "runs/good.html", "runs/hostile.html"):
        assert (out / name).is_file(), name
    assert HOSTILE not in (out / "index.html").read_text()
    assert HOSTILE not in (out / "runs" / "hostile.html").read_text()

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page()
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto((out / "index.html").as_uri())
        rows = page.locator("#lb-body tr")
        assert rows.count() == 2
        first_model = lambda: rows.nth(0).locator("td").nth(1).inner_text()  # noqa: E731
        assert first_model().startswith("responses:good")  # sorted by precision, best first
        page.click("th[data-key=precision]")  # ascending now
        assert first_model().startswith(HOSTILE)  # shown as text, not executed
        assert page.locator("svg.pareto[data-task=overall]").is_visible()
        assert page.locator("svg.pareto[data-task=overall] circle").count() == 2
        page.select_option("#task", "longfact-objects")
        assert page.locator("svg.pareto[data-task=longfact-objects]").is_visible()
        assert not page.locator("svg.pareto[data-task=overall]").is_visible()
        page.goto((out / "runs" / "hostile.html").as_uri())
        page.locator("details").first.click()
        assert HOSTILE in page.locator("body").inner_text()
        assert page.locator("script").count() == 0
        assert dialogs == []
        browser.close()
