"""The run viewer page driven in real Chromium: sort, filter, search, details, a 2,000-answer run."""

from __future__ import annotations

import re

from browser import chromium_page, screenshot

from factbench.cli.main import main
from factbench.testing.synthetic_run import write_synthetic_run

HOSTILE = "<img src=x onerror=alert(1)><script>alert(2)</script>"


def _ids(page) -> list[str]:
    return page.locator("#rows tr.answer-row td.aid").all_inner_texts()


def test_viewer_sorts_filters_searches_and_shows_details(tmp_path, capsys):
    run = write_synthetic_run(tmp_path / "big", 2000, hostile=HOSTILE)
    out = tmp_path / "view.html"
    assert main(["view", str(run), "--out", str(out)]) == 0
    assert re.search(r"\(\d+\.\d MB\)", capsys.readouterr().out)
    text = out.read_text()
    assert HOSTILE not in text and "<img" not in text  # escaped inside the data island
    with chromium_page() as page:
        page.goto(out.as_uri())
        rows = page.locator("#rows tr.answer-row")
        assert rows.count() == 50  # paged
        assert "of 2000 answers" in page.locator("#pager-top").inner_text()
        by_unsupported = _ids(page)
        first_u = int(rows.nth(0).locator("td").nth(4).inner_text().split("/")[1])
        last_u = int(rows.nth(49).locator("td").nth(4).inner_text().split("/")[1])
        assert first_u >= last_u and first_u >= 3  # most unsupported first
        page.select_option("#sort", "order")
        assert _ids(page)[:3] == ["p00001", "p00003", "p00005"]  # task (bio first), then id
        assert _ids(page) != by_unsupported
        page.select_option("#sort", "precision-desc")
        precs = [float(x) for x in page.locator("#rows tr.answer-row td.prec").all_inner_texts()]
        assert precs == sorted(precs, reverse=True)

        page.select_option("#task", label="bio")
        tasks = set(page.locator("#rows tr.answer-row td:first-child").all_inner_texts())
        assert tasks == {"bio"} and "of 1000 answers" in page.locator("#pager-top").inner_text()
        page.select_option("#task", "")
        page.select_option("#filter", "N")  # answers with a claim without a verdict
        shown = page.locator("#rows tr.answer-row").count()
        assert 0 < shown <= 50
        assert all(len(t.split("/")) == 4 for t in page.locator("#rows tr.answer-row td:nth-child(5)").all_inner_texts())
        page.select_option("#filter", "")

        page.fill("#search", "subject 1234 has property 5")
        assert _ids(page) == ["p01234"]
        assert page.locator("#rows mark.match").first.inner_text().lower() == "subject 1234 has property 5"
        page.fill("#search", "subject 0 is called")
        assert _ids(page) == ["p00000"]
        page.locator("#rows tr.answer-row").first.click()  # p00000 carries the hostile text
        detail = page.locator("tr.detail")
        assert HOSTILE in detail.inner_text()  # shown as text, never run
        claim = detail.locator("ol.claims li").first
        claim.hover()
        assert detail.locator("span.sent.hl").count() == 1 and "Subject 0 is called" in detail.locator("span.sent.hl").inner_text()
        detail.locator("span.sent").nth(2).click()
        assert detail.locator("ol.claims li.hl").count() == 1
        detail.locator("ol.claims li details.evidence summary").first.click()
        assert "Archive 0 of subject 0" in detail.locator("ol.claims li details.evidence").first.inner_text()
        assert detail.locator("pre.raw").count() == 0
        detail.locator("button.show-raw").click()
        assert '"verdicts"' in detail.locator("pre.raw").last.inner_text()
        screenshot(page, "viewer")
        page.fill("#search", "")
        page.locator("#pager-top button.next").click()
        assert "51–100 of 2000" in page.locator("#pager-top").inner_text()
        assert page.dialogs == [] and page.errors == []
        assert page.locator("img").count() == 0
