"""Leaderboard: run directories -> index.html (static, self-contained), leaderboard.md, .csv,
pareto.svg (precision against detail) and one drill-down page per run.

Every string that comes from a run (model names, answers, evidence) is escaped: HTML pages
escape it when written, and the table's data is embedded as JSON that cannot close its
<script> element and is put into cells with textContent.
"""

from __future__ import annotations

import csv
import html
import json
from pathlib import Path
from typing import Any

from factbench import __version__
from factbench.store.run_dir import RunStore

COLUMNS = [  # (key, header, scale for display)
    ("precision", "Precision", 100), ("hallucination_rate", "Halluc.", 100), ("supported", "Supported", 1),
    ("f1_at_k", "F1@K", 100), ("relevance", "Relevance", 100), ("reward", "Combined", 1),
]
DRILLDOWN_MAX_ANSWERS = 300


def endpoint_kind(endpoints: list[str]) -> str:
    if not endpoints:
        return "provider API"
    if all("127.0.0.1" in e or "localhost" in e or "[::1]" in e for e in endpoints):
        return "local server"
    return "self-hosted server"


def load_row(run_dir: Path) -> dict[str, Any] | None:
    store = RunStore(run_dir)
    spec, summary = store.read_json("run.json"), store.read_json("summary.json")
    if spec is None or summary is None:
        return None
    roles = spec.get("roles", {})
    model = roles.get("model", {}).get("model") or spec.get("identity", {}).get("answers", "?")
    verifier = roles.get("verifier", {})
    tasks = {}
    for name, agg in {**summary.get("tasks", {}), "overall": summary.get("overall", {})}.items():
        metrics = agg.get("metrics", {})
        tasks[name] = {key: metrics.get(key) for key, _, _ in COLUMNS}
        tasks[name]["n"] = agg.get("n_answers", 0)
    return {
        "run_id": spec.get("run_id", run_dir.name),
        "model": model,
        "label": spec.get("label") or "",
        "judge": verifier.get("model", "?"),
        "judge_endpoint": ("human" if spec.get("kind") == "human-label-replay"
                           else endpoint_kind(verifier.get("endpoints", []))),
        "task_versions": {n: t.get("version") for n, t in spec.get("tasks", {}).items()},
        "evidence": sorted({t.get("evidence", "?") for t in spec.get("tasks", {}).values()}),
        "date": (spec.get("finished_at") or spec.get("started_at") or "")[:10],
        "factbench_version": spec.get("factbench_version", "?"),
        "tasks": tasks,
    }


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of points not dominated in (detail, precision), both maximised."""
    order = sorted(range(len(points)), key=lambda i: (-points[i][0], -points[i][1]))
    front, best = [], float("-inf")
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def pareto_svg(rows: list[dict[str, Any]], task: str, width: int = 560, height: int = 360) -> str:
    pts, names = [], []
    for r in rows:
        m = r["tasks"].get(task) or {}
        p, s = (m.get("precision") or {}).get("mean"), (m.get("supported") or {}).get("mean")
        if p is not None and s is not None:
            pts.append((float(s), float(p) * 100))
            names.append(r["model"])
    pad = 48
    max_x = max([x for x, _ in pts] + [1.0]) * 1.1
    sx = lambda x: pad + x / max_x * (width - 2 * pad)  # noqa: E731
    sy = lambda y: height - pad - y / 100 * (height - 2 * pad)  # noqa: E731
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="pareto" data-task="{html.escape(task)}" '
           f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="black"/>',
           f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="black"/>',
           f'<text x="{width / 2}" y="{height - 12}" text-anchor="middle">supported claims per answer (detail)</text>',
           f'<text x="14" y="{height / 2}" text-anchor="middle" transform="rotate(-90 14 {height / 2})">precision (%)</text>']
    for y in (0, 25, 50, 75, 100):
        out.append(f'<text x="{pad - 6}" y="{sy(y) + 4}" text-anchor="end">{y}</text>')
    step = max(1, round(max_x / 5))
    for x in range(0, int(max_x) + 1, step):
        out.append(f'<text x="{sx(x):.1f}" y="{height - pad + 14}" text-anchor="middle">{x}</text>')
    front = pareto_front(pts)
    if len(front) > 1:
        line = " ".join(f"{sx(pts[i][0]):.1f},{sy(pts[i][1]):.1f}" for i in sorted(front, key=lambda i: pts[i][0]))
        out.append(f'<polyline class="frontier" points="{line}" fill="none" stroke="#d62728" stroke-dasharray="4 3"/>')
    for i, (x, y) in enumerate(pts):
        colour = "#d62728" if i in front else "#1f77b4"
        out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="5" fill="{colour}"><title>{html.escape(names[i])}: '
                   f'{y:.1f}% precision, {x:.1f} supported</title></circle>')
        out.append(f'<text x="{sx(x) + 7:.1f}" y="{sy(y) - 6:.1f}">{html.escape(names[i][:40])}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _cell(metric: dict[str, Any] | None, scale: int) -> str:
    if not metric or metric.get("mean") is None:
        return "-"
    ci = metric.get("ci95") or [metric["mean"], metric["mean"]]
    return f"{metric['mean'] * scale:.1f} [{ci[0] * scale:.1f}, {ci[1] * scale:.1f}]"


def markdown(rows: list[dict[str, Any]], tasks: list[str]) -> str:
    esc = lambda s: str(s).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")  # noqa: E731
    lines = [f"# factbench leaderboard\n\nBuilt by factbench {__version__}. Values: mean [95% CI].\n"]
    for task in tasks:
        lines.append(f"\n## {task}\n")
        lines.append("| model | label | " + " | ".join(h for _, h, _ in COLUMNS) + " | n | judge | date |")
        lines.append("|" + "---|" * (len(COLUMNS) + 5))
        for r in rows:
            m = r["tasks"].get(task)
            if not m:
                continue
            cells = [_cell(m.get(k), s) for k, _, s in COLUMNS]
            lines.append(f"| {esc(r['model'])} | {esc(r['label'])} | " + " | ".join(cells) +
                         f" | {m['n']} | {esc(r['judge'])} ({r['judge_endpoint']}) | {r['date']} |")
    return "\n".join(lines) + "\n"


def write_csv(rows: list[dict[str, Any]], tasks: list[str], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        header = ["run_id", "model", "label", "task", "n"]
        for key, _, _ in COLUMNS:
            header += [key, f"{key}_ci_low", f"{key}_ci_high"]
        w.writerow(header + ["judge", "judge_endpoint", "evidence", "date", "factbench_version"])
        for r in rows:
            for task in tasks:
                m = r["tasks"].get(task)
                if not m:
                    continue
                vals = []
                for key, _, _ in COLUMNS:
                    metric = m.get(key) or {}
                    ci = metric.get("ci95") or [None, None]
                    vals += [metric.get("mean"), ci[0], ci[1]]
                w.writerow([r["run_id"], r["model"], r["label"], task, m["n"]] + vals +
                           [r["judge"], r["judge_endpoint"], ";".join(r["evidence"]), r["date"], r["factbench_version"]])


_PAGE_CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #ddd;padding:4px 6px;text-align:left;font-size:13px;vertical-align:top}
th{cursor:pointer;background:#f4f4f4}th.sorted-asc::after{content:" \\25B2"}th.sorted-desc::after{content:" \\25BC"}
.label{color:#a15c00;font-size:12px}.prov{color:#666;font-size:11px}.sup{color:#1a7f37}.uns{color:#cf222e}.unv{color:#9a6700}"""

_PAGE_JS = """
const DATA = JSON.parse(document.getElementById('lb-data').textContent);
const COLS = DATA.columns; let sortKey = 'precision', sortDir = -1;
function fmt(m, scale){ if(!m || m.mean===null || m.mean===undefined) return '-';
  const ci = m.ci95 || [m.mean, m.mean];
  return (m.mean*scale).toFixed(1) + ' [' + (ci[0]*scale).toFixed(1) + ', ' + (ci[1]*scale).toFixed(1) + ']'; }
function val(r, task, key){ const m = (r.tasks[task]||{})[key]; if(key==='n') return (r.tasks[task]||{}).n||0;
  if(key==='model') return r.model; return (m && m.mean!==null && m.mean!==undefined) ? m.mean : -Infinity; }
function render(){
  const task = document.getElementById('task').value;
  const rows = DATA.rows.filter(r => r.tasks[task]);
  rows.sort((a,b) => { const x = val(a,task,sortKey), y = val(b,task,sortKey);
    return (x < y ? -1 : x > y ? 1 : 0) * sortDir; });
  const body = document.getElementById('lb-body'); body.replaceChildren();
  rows.forEach((r, i) => { const tr = document.createElement('tr');
    const add = (text, cls) => { const td = document.createElement('td'); td.textContent = text; if(cls) td.className = cls; tr.appendChild(td); return td; };
    add(String(i+1));
    const name = add(r.model); if(r.label){ const s = document.createElement('div'); s.className='label'; s.textContent = r.label; name.appendChild(s); }
    COLS.forEach(c => add(fmt(r.tasks[task][c[0]], c[2])));
    add(String(r.tasks[task].n));
    add(r.judge + ' (' + r.judge_endpoint + '); evidence: ' + r.evidence.join(', ') + '; tasks: ' +
        Object.entries(r.task_versions).map(e => e[0] + ' v' + e[1]).join(', ') + '; factbench ' + r.factbench_version + '; ' + r.date, 'prov');
    const td = document.createElement('td'); const a = document.createElement('a');
    a.href = 'runs/' + encodeURIComponent(r.run_id) + '.html'; a.textContent = 'answers'; td.appendChild(a); tr.appendChild(td);
    body.appendChild(tr); });
  document.querySelectorAll('th[data-key]').forEach(th => { th.classList.remove('sorted-asc','sorted-desc');
    if(th.dataset.key===sortKey) th.classList.add(sortDir>0?'sorted-asc':'sorted-desc'); });
  document.querySelectorAll('svg.pareto').forEach(s => { s.style.display = s.dataset.task===task ? '' : 'none'; });
}
document.querySelectorAll('th[data-key]').forEach(th => th.addEventListener('click', () => {
  if(sortKey===th.dataset.key) sortDir = -sortDir; else { sortKey = th.dataset.key; sortDir = th.dataset.key==='model' ? 1 : -1; }
  render(); }));
document.getElementById('task').addEventListener('change', render);
render();
"""


def _json_for_script(data: Any) -> str:
    return json.dumps(data).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def index_html(rows: list[dict[str, Any]], tasks: list[str]) -> str:
    options = "".join(f'<option value="{html.escape(t)}">{html.escape(t)}</option>' for t in tasks)
    headers = "".join(f'<th data-key="{k}">{h}</th>' for k, h, _ in COLUMNS)
    plots = "\n".join(pareto_svg(rows, t) for t in tasks)
    data = {"rows": rows, "columns": [[k, h, s] for k, h, s in COLUMNS]}
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>factbench leaderboard</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<style>{_PAGE_CSS}</style></head><body>
<h1>factbench leaderboard</h1>
<p>Long-form factuality: precision of verified claims (hallucination rate = 1 &minus; precision), detail
(supported claims per answer), F1@K, relevance (win rate against reference answers) and the combined reward;
mean [95% bootstrap CI]. Rows labelled <span class="label">demo-quality</span> were judged by a tiny local
model and carry no information about factuality. Every number comes from a run; follow "answers" for its
claims, labels and evidence. Built by factbench {html.escape(__version__)}.</p>
<label>Task: <select id="task">{options}</select></label>
<table><thead><tr><th>#</th><th data-key="model">Model</th>{headers}<th data-key="n">n</th>
<th>Provenance</th><th></th></tr></thead><tbody id="lb-body"></tbody></table>
<h2>Precision against detail</h2>
<p>Points on the dashed line are Pareto-optimal: no other run is both more precise and more detailed.
Shorter, vaguer answers raise precision at the cost of detail.</p>
{plots}
<script type="application/json" id="lb-data">{_json_for_script(data)}</script>
<script>{_PAGE_JS}</script>
</body></html>
"""


def drilldown_html(run_dir: Path, row: dict[str, Any]) -> str:
    store = RunStore(run_dir)
    e = html.escape
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{e(row['model'])} — factbench</title>",
             f"<style>{_PAGE_CSS}</style></head><body><p><a href='../index.html'>&larr; leaderboard</a></p>",
             f"<h1>{e(row['model'])}</h1><p class='label'>{e(row['label'])}</p>",
             f"<p class='prov'>run {e(row['run_id'])}; judge {e(row['judge'])} ({e(row['judge_endpoint'])}); "
             f"evidence {e(', '.join(row['evidence']))}; factbench {e(row['factbench_version'])}; {e(row['date'])}</p>"]
    answers = store.load_latest("answers") if store.path("answers").exists() else {}
    claims = store.load_latest("claims") if store.path("claims").exists() else {}
    verdicts = store.load_latest("verdicts") if store.path("verdicts").exists() else {}
    evidence = store.load_latest("evidence") if store.path("evidence").exists() else {}
    scores = store.read_scores()
    if not claims:
        parts.append("<p>This run stores per-answer scores only (no claim texts).</p><table><tr><th>task</th><th>id</th>"
                     "<th>claims</th><th>supported</th><th>precision</th></tr>")
        for s in scores[:DRILLDOWN_MAX_ANSWERS]:
            p = "-" if s["precision"] is None else f"{s['precision'] * 100:.1f}"
            parts.append(f"<tr><td>{e(s['task'])}</td><td>{e(s['id'])}</td><td>{s['claims']}</td>"
                         f"<td>{s['supported']}</td><td>{p}</td></tr>")
        parts.append("</table>")
    for n, (key, c) in enumerate(claims.items()):
        if n >= DRILLDOWN_MAX_ANSWERS:
            parts.append(f"<p>… {len(claims) - n} more answers in the run directory.</p>")
            break
        a, v, ev = answers.get(key), verdicts.get(key), evidence.get(key)
        parts.append(f"<details><summary>{e(c.task)} / {e(c.id)} — {len(c.claims)} claims"
                     f"{' (abstained)' if c.abstained else ''}</summary>")
        if a is not None:
            if a.prompt:
                parts.append(f"<p><b>Prompt.</b> {e(a.prompt)}</p>")
            parts.append(f"<p><b>Answer.</b> {e(a.answer)}</p>")
        parts.append("<ol>")
        for i, claim in enumerate(c.claims):
            label = v.labels[i] if v and i < len(v.labels) else None
            err = v.errors[i] if v and i < len(v.errors) else None
            cls = {"supported": "sup", "unsupported": "uns", "unverifiable": "unv"}.get(label or "", "")
            tag = label or f"no verdict ({err or 'not verified'})"
            parts.append(f"<li>{e(claim.text)} — <span class='{cls}'>{e(tag)}</span>")
            if ev and i < len(ev.per_claim) and ev.per_claim[i]:
                parts.append("<ul class='prov'>")
                for j in ev.per_claim[i][:3]:
                    p = ev.passages[j]
                    parts.append(f"<li>{e(p.title)}: {e(p.text[:300])} {e(p.source)}</li>")
                parts.append("</ul>")
            parts.append("</li>")
        parts.append("</ol></details>")
    parts.append("</body></html>")
    return "\n".join(parts)


def build(run_dirs: list[Path], out: Path) -> dict[str, Any]:
    """Write the leaderboard for these run directories into `out`."""
    rows, used = [], []
    for d in run_dirs:
        row = load_row(Path(d))
        if row is not None:
            rows.append(row)
            used.append(Path(d))
    if not rows:
        raise FileNotFoundError("no run directory with run.json and summary.json among: "
                                + ", ".join(str(d) for d in run_dirs))
    tasks = ["overall"] + sorted({t for r in rows for t in r["tasks"] if t != "overall"})
    out.mkdir(parents=True, exist_ok=True)
    (out / "runs").mkdir(exist_ok=True)
    (out / "index.html").write_text(index_html(rows, tasks), encoding="utf-8")
    (out / "leaderboard.md").write_text(markdown(rows, tasks), encoding="utf-8")
    write_csv(rows, tasks, out / "leaderboard.csv")
    (out / "pareto.svg").write_text(pareto_svg(rows, "overall"), encoding="utf-8")
    for d, row in zip(used, rows):
        (out / "runs" / f"{row['run_id']}.html").write_text(drilldown_html(d, row), encoding="utf-8")
    return {"rows": len(rows), "tasks": tasks}
