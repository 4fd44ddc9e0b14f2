"""index.html of the leaderboard: one section per task, one table per comparability group,
demo-quality rows in their own section, the Pareto plot and (for series of runs) a trend view.

Tables are written here as static, escaped HTML; the page's small script only switches tasks
and sorts rows within a table.
"""

from __future__ import annotations

import html

from factbench import __version__
from factbench.reports.html import asset, page
from factbench.reports.metric_format import BY_KEY, HEADLINE, SHOWN_METRICS, fmt_ci, reward_formulas
from factbench.reports.pareto import Point, pareto_svg
from factbench.reports.ranking import MAX_JUDGE_ERROR_RATE, MIN_SCORED, TIE_RULE, Row
from factbench.reports.trend import trend_svg

e = html.escape


def _row_html(row: Row, page_of: dict[str, str]) -> str:
    r, run = row.result, row.run
    data = "".join(f' data-{m.key.replace("_", "-")}="{"" if r.metrics.get(m.key, {}).get("mean") is None else r.metrics[m.key]["mean"]}"'
                   for m in SHOWN_METRICS)
    rank = (f'<td class="rank">{row.rank}</td>' if row.rank is not None else
            f'<td class="rank unranked" title="{e(row.unranked_reason)}">–<div class="why">{e(row.unranked_reason)}</div></td>')
    name = f'<div class="model">{e(run.model)}</div>'
    if run.label:
        name += f'<div class="label">{e(run.label)}</div>'
    name += f'<div class="runid">run {e(run.run_id)}</div>'
    cells = []
    for m in SHOWN_METRICS:
        cls = "num headline" if m.key == HEADLINE else "num"
        cells.append(f'<td class="{cls}">{e(fmt_ci(r.metrics.get(m.key), m.key))}</td>')
    version = f" · version {e(r.version)}" if r.version else ""
    prov = (f'{e(run.judge)} ({e(run.judge_hosting)}) · evidence {e(r.evidence)}{version} · '
            f'factbench {e(run.factbench_version)} · {e(run.date)}')
    link = page_of.get(run.run_id)
    answers = f'<a href="runs/{e(link)}.html">answers</a>' if link else ""
    return (f'<tr data-run="{e(run.run_id)}" data-rank="{row.rank or ""}" data-n-scored="{r.n_scored}"{data}>'
            f'{rank}<td class="run">{name}</td>{"".join(cells)}<td class="num">{r.n_scored}</td>'
            f'<td class="prov">{prov}</td><td>{answers}</td></tr>')


def _table(caption: str, rows: list[Row], page_of: dict[str, str]) -> str:
    heads = "".join(f'<th data-key="{m.key.replace("_", "-")}" class="{"headline" if m.key == HEADLINE else ""}">'
                    f'{e(m.header)}{" (%)" if m.unit == "%" else ""}</th>' for m in SHOWN_METRICS)
    body = "".join(_row_html(r, page_of) for r in rows)
    return (f'<table class="lb"><caption>{e(caption)}</caption><thead><tr><th data-key="rank">#</th><th>Run</th>'
            f'{heads}<th data-key="n-scored">n scored</th><th>Provenance</th><th></th></tr></thead>'
            f'<tbody>{body}</tbody></table>')


def _task_section(task: str, rows: list[Row], page_of: dict[str, str]) -> str:
    parts = [f'<section class="task" data-task="{e(task)}">']
    measured = [r for r in rows if r.section == "measured"]
    groups: dict[str, list[Row]] = {}
    for r in measured:
        groups.setdefault(r.group, []).append(r)
    if not groups:
        parts.append("<p>No measured runs for this task.</p>")
    for gid, members in groups.items():
        parts.append(_table(f"Group {gid}: {members[0].group_label}", members, page_of))
    demo = [r for r in rows if r.section == "demo"]
    if demo:
        parts.append('<h3 class="demo-head">Demo-quality runs (never ranked; their numbers measure nothing)</h3>')
        parts.append(_table("judged by a tiny local model", demo, page_of))
    plotted = [r for r in rows if (r.result.metrics.get("supported") or {}).get("mean") is not None
               and (r.result.metrics.get("precision") or {}).get("mean") is not None]
    models = [r.run.model for r in plotted]
    points = [Point(r.result.metrics["supported"]["mean"], r.result.metrics["precision"]["mean"] * 100,
                    r.run.model if models.count(r.run.model) == 1 else r.run.run_id,
                    f"{r.run.model} (run {r.run.run_id}): {fmt_ci(r.headline, HEADLINE)} precision", r.section == "demo")
              for r in plotted]
    if points:
        parts.append("<h3>Precision against detail</h3><p class='note'>Points on the dashed line are "
                     "Pareto-optimal: no other run is both more precise and more detailed. Shorter, vaguer "
                     "answers raise precision at the cost of detail.</p>")
        parts.append(pareto_svg(points, task))
    trend = trend_svg(task, measured)
    if trend:
        parts.append(f"<h3>Trend over steps</h3><p class='note'>{e(HEADLINE)} with its 95% CI per checkpoint "
                     "step; one line per series of comparable runs.</p>" + trend)
    parts.append("</section>")
    return "".join(parts)


def index_html(rows_by_task: dict[str, list[Row]], page_of: dict[str, str]) -> str:
    options = "".join(f'<option value="{e(t)}">{e(t)}</option>' for t in rows_by_task)
    rewards = reward_formulas({r.run.reward for rows in rows_by_task.values() for r in rows})
    headline = BY_KEY[HEADLINE]
    body = f"""<h1>factbench leaderboard</h1>
<p class="intro">Long-form factuality. <b>Headline metric: {e(headline.header.lower())}</b> — the share of an
answer's verified claims that the judge found supported (hallucination rate = 1 − precision), mean over answers
with its 95% bootstrap CI. Detail = supported claims per answer; F1@K; relevance = win rate against reference
answers; <b>{e(rewards)}</b>.</p>
<p class="rules">Rows are ranked only against rows of the same group: the same claim judges (models, parameters,
templates; endpoints do not matter), evidence and task version, and for <i>overall</i> the same set of tasks.
Rank rule: {e(TIE_RULE)}. Shown but unranked (marked –): fewer than {MIN_SCORED} scored answers, or more than
{MAX_JUDGE_ERROR_RATE:.0%} of claims without a verdict. Demo-quality runs sit in their own section. Follow
"answers" for each run's claims, labels, evidence and judge outputs. Built by factbench {e(__version__)}.</p>
<label>Task: <select id="task">{options}</select></label>
{"".join(_task_section(t, rows, page_of) for t, rows in rows_by_task.items())}"""
    return page("factbench leaderboard", body, asset("leaderboard.js"))
