"""Viewer page weight and load time: synthetic runs of N answers -> `factbench view` -> headless Chromium.

Prints, per run size, the page's bytes and the time from navigation until the first page of
rows is on screen, and until a search over every claim has re-rendered the list.

    python bench/viewer.py [--answers 2000,10000] [--claims 20]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from factbench.reports.run_data import load_run_data
from factbench.reports.run_info import read_run
from factbench.reports.viewer import write_viewer
from factbench.testing.synthetic_run import write_synthetic_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", default="2000,10000")
    parser.add_argument("--claims", type=int, default=20)
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"]) if chromium else None
        print(f"{'answers':>8} {'claims':>7} {'page MB':>8} {'first rows s':>13} {'search s':>9}")
        for n in (int(x) for x in args.answers.split(",")):
            run = write_synthetic_run(Path(tmp) / f"run{n}", n, claims_per_answer=args.claims)
            out = Path(tmp) / f"view{n}.html"
            size = write_viewer(load_run_data(run), read_run(run), out)
            first = search = float("nan")
            if browser is not None:
                page = browser.new_page()
                start = time.perf_counter()
                page.goto(out.as_uri())
                page.wait_for_selector("#rows tr.answer-row")
                first = time.perf_counter() - start
                start = time.perf_counter()
                page.fill("#search", f"subject {n - 1} has property 3")
                page.wait_for_function("document.querySelectorAll('#rows tr.answer-row').length === 1")
                search = time.perf_counter() - start
                page.close()
            print(f"{n:>8} {n * args.claims:>7} {size / 1e6:>8.1f} {first:>13.2f} {search:>9.2f}")
        if browser is not None:
            browser.close()


if __name__ == "__main__":
    main()
