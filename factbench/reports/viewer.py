"""The run viewer: one static, self-contained page per run to read it answer by answer.

The page carries a compact index (per answer: task, id, scores, its claims and labels) that
the script sorts, filters, searches and pages through, and the details (answer text,
sentences, evidence, raw judge outputs) in chunks of CHUNK answers, each parsed only when one
of its answers is opened. Long texts are capped (PASSAGE_CHARS, RAW_CHARS, ANSWER_CHARS);
the run directory keeps them whole.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from factbench.reports.html import asset, page
from factbench.reports.metric_format import HEADLINE, fmt_ci
from factbench.reports.run_data import RunData
from factbench.reports.run_info import RunInfo

CHUNK = 100
PASSAGE_CHARS = 600
RAW_CHARS = 4000
ANSWER_CHARS = 20000
LABEL_CODES = {"supported": "S", "unsupported": "U", "unverifiable": "V"}


def _cap(text: str | None, limit: int) -> str:
    text = text or ""
    return text if len(text) <= limit else text[:limit] + f" … [{len(text) - limit} more characters in the run directory]"


def _entry(data: RunData, key: str, tasks: dict[str, int], chunk: int) -> dict[str, Any]:
    task, sid = key.split("\x1f", 1)
    a, c, v, s = data.answers.get(key), data.claims.get(key), data.verdicts.get(key), data.scores.get(key, {})
    labels = list(v.labels) if v else []
    claims = [[cl.text, LABEL_CODES.get((labels[i] or "") if i < len(labels) else "", "N")] for i, cl in enumerate(c.claims)] if c else []
    codes = [x[1] for x in claims]
    prompt = (a.prompt if a else None) or ""
    fails = data.failures.get(key, {})
    problems = [f"{st}: {k}" for st, k in fails.items()]
    w = data.informativeness.get(key)
    informativeness_errors = sum(1 for err in w.errors if err) if w else int(s.get("informativeness_errors") or 0)
    if informativeness_errors:
        problems.append(f"informativeness: {informativeness_errors} claim{'s' if informativeness_errors > 1 else ''} without a class")
    return {
        "t": tasks.setdefault(task, len(tasks)), "id": sid, "q": prompt[:160],
        "n": len(claims) if c else s.get("claims", 0), "s": codes.count("S") if c else s.get("supported", 0),
        "u": codes.count("U") if c else s.get("unsupported", 0), "v": codes.count("V") if c else s.get("unverifiable", 0),
        "e": codes.count("N") if c else s.get("judge_errors", 0),
        "p": s.get("precision"), "r": s.get("reward"), "a": 1 if (c.abstained if c else s.get("abstained")) else 0,
        "f": "; ".join(problems), "c": claims, "k": chunk,
    }


def _detail(data: RunData, key: str) -> dict[str, Any]:
    a, c, v, ev, rel, w = (data.answers.get(key), data.claims.get(key), data.verdicts.get(key),
                           data.evidence.get(key), data.relevance.get(key), data.informativeness.get(key))
    used: dict[int, int] = {}  # passage index in the record -> index in this page's list
    passages: list[list[str]] = []
    per_claim = []
    if ev is not None and c is not None:
        for i in range(len(c.claims)):
            ids = []
            for j in (ev.per_claim[i] if i < len(ev.per_claim) else [])[:3]:
                if j >= len(ev.passages):
                    continue
                if j not in used:
                    p = ev.passages[j]
                    used[j] = len(passages)
                    passages.append([p.title, _cap(p.text, PASSAGE_CHARS), p.source])
                ids.append(used[j])
            per_claim.append(ids)
    errors = [(v.errors[i] if v and i < len(v.errors) else None) or
              ("" if v and i < len(v.labels) and v.labels[i] else
               (data.failures.get(key, {}).get("verdicts") or "not verified")) for i in range(len(c.claims) if c else 0)]
    return {
        "prompt": _cap(a.prompt if a else "", ANSWER_CHARS),
        "answer": "" if c is not None and c.sentences else _cap(a.answer if a else "", ANSWER_CHARS),  # sentences carry it
        "finish": (a.finish_reason if a else None) or "", "sentences": list(c.sentences) if c else [],
        "cs": [cl.sentence for cl in c.claims] if c else [], "err": errors, "ev": per_claim, "passages": passages,
        "backend": ev.backend if ev else "", "verifier": v.verifier if v else "", "extractor": c.extractor if c else "",
        "raw_v": [_cap(r, RAW_CHARS) for r in (v.raw if v else [])],
        "raw_c": [_cap(r, RAW_CHARS) for r in (c.raw if c else [])],
        "cerr": list(c.errors) if c else [],
        "ungrounded": [cl.text for cl in c.ungrounded] if c else [],
        # informativeness class per claim (informative, trivial, restates, off_topic), or its informativeness error
        "wc": [(w.classes[i] if i < len(w.classes) else None) for i in range(len(c.claims))] if w and c else [],
        "werr": [(w.errors[i] if i < len(w.errors) else None) for i in range(len(c.claims))] if w and c else [],
        "rel": None if rel is None else {"score": rel.score, "winners": rel.winners, "ref": rel.reference_source},
    }


def viewer_data(data: RunData) -> tuple[dict[str, Any], list[list[dict[str, Any]]]]:
    """(index, detail chunks) for one run."""
    tasks: dict[str, int] = {}
    keys = sorted(data.keys(), key=lambda k: k.split("\x1f", 1))
    entries = [_entry(data, key, tasks, n // CHUNK) for n, key in enumerate(keys)]
    chunks = [[_detail(data, key) for key in keys[i:i + CHUNK]] for i in range(0, len(keys), CHUNK)]
    has_details = bool(data.answers or data.claims)
    return {"tasks": list(tasks), "answers": entries, "details": has_details, "chunk": CHUNK}, (chunks if has_details else [])


def viewer_html(data: RunData, info: RunInfo, back_link: str | None = None) -> str:
    e = html.escape
    index, chunks = viewer_data(data)
    overall = info.tasks.get("overall")
    head = fmt_ci(overall.metrics.get(HEADLINE), HEADLINE) if overall else "-"
    evidence = sorted({t.evidence for name, t in info.tasks.items() if name != "overall"})
    back = f'<p><a href="{e(back_link)}">&larr; leaderboard</a></p>' if back_link else ""
    body = f"""{back}<h1>{e(info.model)}</h1>
{f'<p class="label">{e(info.label)}</p>' if info.label else ''}
<p class="prov-line">run {e(info.run_id)} · judge {e(info.judge)} ({e(info.judge_hosting)}) · evidence {e(', '.join(evidence))}
· factbench {e(info.factbench_version)} · {e(info.date)} · overall {e(HEADLINE)} {e(head)} over
{overall.n_scored if overall else 0} scored answers</p>
<div class="controls">
<label>Sort <select id="sort">
<option value="unsupported">most unsupported claims first</option>
<option value="precision-asc">lowest precision first</option>
<option value="precision-desc">highest precision first</option>
<option value="noverdict">most claims without a verdict first</option>
<option value="claims">most claims first</option>
<option value="reward-asc">lowest reward first</option>
<option value="order">task, then id</option></select></label>
<label>Task <select id="task"><option value="">all tasks</option></select></label>
<label>Show <select id="filter">
<option value="">all answers</option><option value="U">with an unsupported claim</option>
<option value="V">with an unverifiable claim</option><option value="N">with a claim without a verdict</option>
<option value="S">with every claim supported</option><option value="abstained">abstentions</option>
<option value="failed">with a failed stage</option></select></label>
<input type="search" id="search" placeholder="search claims, ids and prompts" aria-label="search">
</div>
<div class="pager" id="pager-top"></div>
<table id="answers"><thead><tr><th>task</th><th>id</th><th>prompt</th><th>claims</th><th>labels</th>
<th>precision (%)</th><th>reward</th><th>problems</th></tr></thead><tbody id="rows"></tbody></table>
<div class="pager" id="pager-bottom"></div>
<p class="note">Labels: <span class="sup">supported</span>, <span class="uns">unsupported</span>,
<span class="unv">unverifiable</span>, <span class="nol">no verdict</span>; after each label, the claim's
informativeness class (informative, trivial, restates, off topic; only informative and off-topic claims count in
the weighted metrics) or why it has none. Click an answer for its sentences
(hover a claim to find its sentence, click a sentence for its claims), the evidence each claim was judged
against, and the judges' raw outputs.</p>"""
    islands: dict[str, Any] = {"viewer-index": index}
    for i, chunk in enumerate(chunks):
        islands[f"viewer-chunk-{i}"] = chunk
    return page(f"{info.model} — factbench run {info.run_id}", body, asset("viewer.js"), islands)


def write_viewer(data: RunData, info: RunInfo, out: Path, back_link: str | None = None) -> int:
    """Write the viewer page; returns its size in bytes."""
    text = viewer_html(data, info, back_link)
    out.write_text(text, encoding="utf-8")
    return len(text.encode("utf-8"))
