"""Leaderboard (in a real headless browser) and the compare gate's exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from browser import chromium_page, screenshot
from conftest import write_longfact_fixture

from factbench.cli.main import main
from factbench.testing.synthetic_run import write_synthetic_run

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


def test_leaderboard_page_in_headless_browser(tmp_path, server):
    _run(tmp_path, server, "good", _answers(60, bad=set()))
    hostile_answers = _answers(60, bad=set(range(0, 60, 3)))
    hostile_answers[0] = hostile_answers[0] + " " + HOSTILE
    hostile = _run(tmp_path, server, "hostile", hostile_answers, model_label=HOSTILE)
    # the model under test is named by its run.json; give the second run a hostile name
    spec = json.loads((hostile / "run.json").read_text())
    spec["roles"]["model"] = {"model": HOSTILE, "endpoints": []}
    (hostile / "run.json").write_text(json.dumps(spec))
    # a crowd of similar runs: their Pareto labels must still not overlap
    for n in range(10):
        write_synthetic_run(tmp_path / "results" / f"crowd-{n}", 40, tasks=("longfact-objects",), seed=n,
                            model=f"crowd/model-number-{n}", p_unsupported=0.1 + 0.01 * n)
    out = tmp_path / "lb"
    assert main(["leaderboard", "build", str(tmp_path / "results"), "--out", str(out)]) == 0
    for name in ("index.html", "leaderboard.md", "leaderboard.csv", "pareto.svg", "runs/good.html", "runs/hostile.html"):
        assert (out / name).is_file(), name
    assert HOSTILE not in (out / "index.html").read_text()
    assert HOSTILE not in (out / "runs" / "hostile.html").read_text()

    with chromium_page() as page:
        page.goto((out / "index.html").as_uri())
        section = page.locator("section.task[data-task=longfact-objects]")
        assert not section.is_visible()
        page.select_option("#task", "longfact-objects")
        assert section.is_visible() and not page.locator("section.task[data-task=overall]").is_visible()
        rows = section.locator("table.lb tbody tr")
        assert rows.count() == 12
        runs = rows.locator(".runid").all_inner_texts()
        assert all(r.startswith("run ") for r in runs)  # every row names its run
        assert rows.nth(0).locator("td.rank").inner_text() == "1" and "run good" in runs[0]
        assert HOSTILE in section.inner_text()  # shown as text, not executed
        hostile_row = section.locator("tr[data-run=hostile]")
        assert hostile_row.locator("td.rank").inner_text() == "2"  # CIs apart: not tied with good
        table = section.locator("table.lb").first
        table.locator("th[data-key=precision]").click()
        first = lambda: table.locator("tbody tr").nth(0).get_attribute("data-run")  # noqa: E731
        assert first() == "good"  # highest first
        table.locator("th[data-key=precision]").click()
        assert first() == "hostile"  # lowest first
        headline = table.locator("td.headline").first.inner_text()
        assert "\n" not in headline and "[" in headline  # the CI on one line
        svg = section.locator("svg.pareto")
        assert svg.is_visible() and svg.locator("circle.point").count() == 12
        boxes = page.evaluate("""sel => Array.from(document.querySelectorAll(sel)).map(t => {
            const b = t.getBBox(); return [b.x, b.y, b.x + b.width, b.y + b.height]; })""",
                              "section.task[data-task=longfact-objects] svg.pareto text.point-label")
        assert len(boxes) == 12
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)
        screenshot(page, "leaderboard")
        page.goto((out / "runs" / "hostile.html").as_uri())
        page.fill("#search", "alert")
        page.locator("#rows tr.answer-row").first.click()
        assert HOSTILE in page.locator("tr.detail").inner_text()
        assert page.locator("script").count() == 3  # the index, one chunk of details, the page's own script
        assert page.dialogs == [] and page.errors == []
