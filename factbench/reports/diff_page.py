"""The compare diff page (`factbench compare BASE CAND --html OUT`): aggregate changes, then
every paired prompt with its metric change and flipped claims, biggest regressions first."""

from __future__ import annotations

import html
from typing import Any

from factbench.reports.diff import PromptDiff
from factbench.reports.html import asset, page

e = html.escape
LABEL_CLASS = {"supported": "sup", "unsupported": "uns", "unverifiable": "unv"}


def _label(text: str) -> str:
    return f'<span class="{LABEL_CLASS.get(text, "nol")}">{e(text)}</span>'


def _prompt_row(d: PromptDiff, unit: str) -> str:
    cls = "delta-neg" if d.change < 0 else "delta-pos" if d.change > 0 else ""
    details = ""
    if d.flipped or d.new_unsupported:
        items = "".join(f"<li class='flip'>{e(claim)} — {_label(b)} → {_label(c)}</li>" for claim, b, c in d.flipped)
        items += "".join(f"<li class='flip'>{e(claim)} — new, {_label('unsupported')}</li>" for claim in d.new_unsupported)
        details = (f"<details class='flips'><summary>{len(d.flipped)} flipped, {len(d.new_unsupported)} new unsupported"
                   f"</summary><ul>{items}</ul></details>")
    prompt = e(d.prompt[:140] + ("…" if len(d.prompt) > 140 else ""))
    return (f'<tr class="prompt" data-task="{e(d.task)}" data-flipped="{len(d.flipped)}" data-change="{d.change:.6f}">'
            f"<td>{e(d.task)}</td><td>{e(d.id)}</td><td>{prompt}</td><td class='num'>{d.base:.1f}</td>"
            f"<td class='num'>{d.candidate:.1f}</td><td class='num {cls}'>{d.change:+.1f}{unit}</td>"
            f"<td>{details}</td></tr>")


def diff_html(deltas: list[Any], meta: dict[str, Any], failed: bool, diffs: list[PromptDiff], unit: str) -> str:
    verdict = "regression" if failed else "no significant regression"
    agg = "".join(f"<tr><td>{e(d.scope)}</td><td class='num'>{d.n_pairs}</td><td class='num'>{d.base:.2f}</td>"
                  f"<td class='num'>{d.candidate:.2f}</td><td class='num {'delta-neg' if d.diff < 0 else 'delta-pos'}'>"
                  f"{d.diff:+.2f}{unit}</td><td class='num'>[{d.ci[0]:+.2f}, {d.ci[1]:+.2f}]</td>"
                  f"<td>{'regression' if d.regression else ''}</td></tr>" for d in deltas)
    tasks = sorted({d.task for d in diffs})
    options = "".join(f'<option value="{e(t)}">{e(t)}</option>' for t in tasks)
    n_flipped = sum(len(d.flipped) for d in diffs)
    body = f"""<h1>factbench compare: {e(verdict)}</h1>
<p class="prov-line">{e(meta['metric'])} of <b>{e(str(meta['candidate_model']))}</b> ({e(meta['candidate'])}) against
<b>{e(str(meta['base_model']))}</b> ({e(meta['base'])}), paired by prompt. The gate fails when the whole
{100 * (1 - meta['alpha']):.0f}% CI of the change is below −{meta['max_drop']}{unit}. Change: positive = candidate better.</p>
<table id="aggregate"><thead><tr><th>scope</th><th>pairs</th><th>baseline</th><th>candidate</th><th>change</th>
<th>CI</th><th></th></tr></thead><tbody>{agg}</tbody></table>
<h2>Per prompt, biggest regressions first</h2>
<p class="note">{len(diffs)} prompts scored in both runs; {n_flipped} claims flipped label (the same claim text in
both answers, judged differently).</p>
<div class="controls"><label>Task <select id="task"><option value="">all tasks</option>{options}</select></label>
<label>Show <select id="show"><option value="">all prompts</option><option value="worse">regressions only</option>
<option value="better">improvements only</option><option value="flipped">with flipped claims</option></select></label>
<span id="count"></span></div>
<table id="prompts"><thead><tr><th>task</th><th>id</th><th>prompt</th><th>baseline</th><th>candidate</th>
<th>change</th><th>claims</th></tr></thead><tbody>{"".join(_prompt_row(d, unit) for d in diffs)}</tbody></table>"""
    return page("factbench compare", body, asset("diff.js"))
