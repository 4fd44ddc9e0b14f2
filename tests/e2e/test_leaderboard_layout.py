"""The leaderboard page holds a long run name and an unranked reason, and its plot has a key (real Chromium)."""

from __future__ import annotations

from browser import chromium_page

from factbench.cli.main import main
from factbench.testing.synthetic_run import write_synthetic_run

# no spaces or hyphens: nothing a browser would break the line at by itself
LONG_ID = ("grpo_qwen2.5_7b_instruct_factuality_reward_lambda0.1_mu0_lr1e6_kl0.02_seed1234_step001200_" * 2)[:128]


def _box(page, selector: str) -> dict:
    return page.locator(selector).first.bounding_box()


def _overlap(a: dict, b: dict) -> bool:
    return a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"] and \
        a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"]


def test_a_long_run_name_and_an_unranked_reason_fit_the_page(tmp_path):
    res = tmp_path / "results"
    write_synthetic_run(res / LONG_ID, 80, tasks=("bio",), model="org/" + "very_long_model_name_" * 6)
    write_synthetic_run(res / "few-answers", 12, tasks=("bio",), seed=1)
    write_synthetic_run(res / "tiny-demo", 80, tasks=("bio",), seed=2, label="demo-quality: a 135M judge")
    out = tmp_path / "lb"
    assert main(["leaderboard", "build", str(res), "--out", str(out)]) == 0
    with chromium_page(width=1400) as page:
        page.goto((out / "index.html").as_uri())
        page.select_option("#task", "bio")
        section = "section.task[data-task=bio]"
        table = page.locator(f"{section} table.lb").first
        assert table.bounding_box()["width"] <= 1400
        long_row = f'{section} tr[data-run="{LONG_ID}"]'
        for cell in ("td.prov", "td:last-child a"):  # provenance and the answers link stay on the page
            box = _box(page, f"{long_row} {cell}")
            assert box["x"] + box["width"] <= 1400, cell
        few = f'{section} tr[data-run="few-answers"]'
        assert "needs 30" in page.locator(f"{few} .why").inner_text()
        assert not _overlap(_box(page, f"{few} .why"), _box(page, f"{few} .runid"))
        assert _box(page, f"{few} .why")["x"] + _box(page, f"{few} .why")["width"] <= _box(page, f"{few} td.run")["x"] + 1
        key = page.locator(f"{section} svg.pareto g.key").text_content()
        assert "Pareto-optimal run" in key and "other run" in key and "demo-quality run" in key
        assert page.errors == []
