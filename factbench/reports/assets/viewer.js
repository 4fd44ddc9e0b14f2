// Run viewer: sort, filter, search and page through a run's answers; open one for its details.
// Every text from the run goes into the page with textContent, never as markup.
(function () {
  const INDEX = JSON.parse(document.getElementById('viewer-index').textContent);
  const ROWS = INDEX.answers, PAGE = 50, chunks = {};
  const $ = id => document.getElementById(id);
  const el = (tag, cls, text) => { const n = document.createElement(tag); if (cls) n.className = cls;
    if (text !== undefined && text !== null) n.textContent = String(text); return n; };
  const LABEL = {S: ['supported', 'sup'], U: ['unsupported', 'uns'], V: ['unverifiable', 'unv'], N: ['no verdict', 'nol']};
  let page = 0, open = null;
  ROWS.forEach((r, i) => { r.i = i; r.lc = (r.id + '\n' + r.q).toLowerCase(); r.cl = r.c.map(c => c[0].toLowerCase()); });
  INDEX.tasks.forEach((t, i) => { const o = el('option', '', t); o.value = String(i); $('task').appendChild(o); });

  function chunk(k) {
    if (!(k in chunks)) { const node = $('viewer-chunk-' + k); chunks[k] = node ? JSON.parse(node.textContent) : []; }
    return chunks[k];
  }
  const num = v => (v === null || v === undefined) ? null : v;
  const SORTS = {
    'unsupported': (a, b) => b.u - a.u || (num(a.p) ?? 2) - (num(b.p) ?? 2),
    'precision-asc': (a, b) => (num(a.p) ?? 2) - (num(b.p) ?? 2),
    'precision-desc': (a, b) => (num(b.p) ?? -1) - (num(a.p) ?? -1),
    'noverdict': (a, b) => b.e - a.e,
    'claims': (a, b) => b.n - a.n,
    'reward-asc': (a, b) => (num(a.r) ?? 1e9) - (num(b.r) ?? 1e9),
    'order': (a, b) => a.i - b.i,
  };
  function matches(r, f, q) {
    if (f === 'abstained' && !r.a) return false;
    if (f === 'failed' && !r.f) return false;
    if (f === 'S' && !(r.n > 0 && r.s === r.n)) return false;
    if ((f === 'U' && !r.u) || (f === 'V' && !r.v) || (f === 'N' && !r.e)) return false;
    if (!q) return true;
    return r.lc.includes(q) || r.cl.some(c => c.includes(q));
  }
  function current() {
    const t = $('task').value, f = $('filter').value, q = $('search').value.trim().toLowerCase();
    const list = ROWS.filter(r => (t === '' || String(r.t) === t) && matches(r, f, q));
    list.sort((a, b) => SORTS[$('sort').value](a, b) || a.i - b.i);
    return {list, q};
  }
  function highlighted(text, q) {
    const span = el('span'); if (!q) { span.textContent = text; return span; }
    const low = text.toLowerCase(); let at = 0, hit;
    while ((hit = low.indexOf(q, at)) >= 0) {
      span.appendChild(document.createTextNode(text.slice(at, hit)));
      span.appendChild(el('mark', 'match', text.slice(hit, hit + q.length))); at = hit + q.length; }
    span.appendChild(document.createTextNode(text.slice(at))); return span;
  }
  function bar(r) {
    const td = el('td'); const total = Math.max(1, r.n);
    [['s', '#1a7f37'], ['u', '#cf222e'], ['v', '#d4a72c'], ['e', '#8250df']].forEach(([k, colour]) => {
      if (!r[k]) return; const b = el('span', 'bar'); b.style.width = Math.max(2, 80 * r[k] / total) + 'px';
      b.style.background = colour; b.title = r[k] + ' ' + {s: 'supported', u: 'unsupported', v: 'unverifiable', e: 'no verdict'}[k];
      td.appendChild(b); });
    td.appendChild(el('span', 'counts', ' ' + r.s + '/' + r.u + '/' + r.v + (r.e ? '/' + r.e : ''))); return td;
  }
  function pager(node, total) {
    node.replaceChildren(); const pages = Math.max(1, Math.ceil(total / PAGE));
    const prev = el('button', 'prev', '‹ previous'), next = el('button', 'next', 'next ›');
    prev.disabled = page === 0; next.disabled = page >= pages - 1;
    prev.onclick = () => { page--; render(); }; next.onclick = () => { page++; render(); };
    const from = total ? page * PAGE + 1 : 0, to = Math.min(total, (page + 1) * PAGE);
    node.append(prev, el('span', 'range', from + '–' + to + ' of ' + total + ' answers (' + ROWS.length + ' in the run)'), next);
  }
  function render() {
    const {list, q} = current(); const pages = Math.max(1, Math.ceil(list.length / PAGE));
    if (page >= pages) page = pages - 1;
    const body = $('rows'); body.replaceChildren();
    list.slice(page * PAGE, (page + 1) * PAGE).forEach(r => {
      const tr = el('tr', 'answer-row'); tr.dataset.i = r.i;
      tr.append(el('td', '', INDEX.tasks[r.t]), el('td', 'aid', r.id));
      const qtd = el('td'); qtd.appendChild(highlighted(r.q.length > 90 ? r.q.slice(0, 90) + '…' : r.q, q));
      if (q) { const hits = r.c.filter(c => c[0].toLowerCase().includes(q)).slice(0, 3);
        hits.forEach(c => { const d = el('div', 'hits'); d.appendChild(highlighted(c[0], q));
          d.appendChild(el('span', LABEL[c[1]][1], ' — ' + LABEL[c[1]][0])); qtd.appendChild(d); }); }
      tr.append(qtd, el('td', 'num', r.a ? 'abstained' : r.n), bar(r),
        el('td', 'num prec', r.p === null || r.p === undefined ? '-' : (100 * r.p).toFixed(1)),
        el('td', 'num', r.r === null || r.r === undefined ? '-' : r.r.toFixed(3)), el('td', 'uns', r.f));
      tr.onclick = () => { open = open === r.i ? null : r.i; render(); };
      body.appendChild(tr);
      if (open === r.i) { tr.classList.add('open'); const d = el('tr', 'detail'); const td = el('td'); td.colSpan = 8;
        td.appendChild(detail(r, q)); d.appendChild(td); body.appendChild(d); }
    });
    pager($('pager-top'), list.length); pager($('pager-bottom'), list.length);
  }
  function detail(r, q) {
    const box = el('div', 'answer-detail');
    if (!INDEX.details) { box.appendChild(el('p', 'note', 'This run stores per-answer scores only (no answer or claim texts).')); return box; }
    const d = chunk(r.k)[r.i - r.k * INDEX.chunk];
    if (d.prompt) { const p = el('p'); p.append(el('b', '', 'Prompt. '), document.createTextNode(d.prompt)); box.appendChild(p); }
    const sents = el('p', 'sentences'); sents.appendChild(el('b', '', 'Answer. '));
    const sentNodes = d.sentences.map((s, i) => { const n = el('span', 'sent', s); n.dataset.s = i; sents.append(n, document.createTextNode(' ')); return n; });
    if (!d.sentences.length) sents.appendChild(document.createTextNode(d.answer));
    box.appendChild(sents);
    if (d.finish === 'length') box.appendChild(el('p', 'unv', 'The answer was cut at the model\'s max tokens.'));
    const ol = el('ol', 'claims'); const items = [];
    r.c.forEach((c, i) => {
      const li = el('li'); li.dataset.s = d.cs[i]; li.appendChild(highlighted(c[0], q));
      li.appendChild(el('span', 'tag ' + LABEL[c[1]][1], c[1] === 'N' ? 'no verdict (' + (d.err[i] || 'not verified') + ')' : LABEL[c[1]][0]));
      if (d.wc && d.wc.length) li.appendChild(d.wc[i] ? el('span', 'tag wcls wcls-' + d.wc[i], d.wc[i].replace('_', ' '))
        : el('span', 'tag wcls nol', 'no class (' + ((d.werr && d.werr[i]) || 'not weighed') + ')'));
      const ids = d.ev[i] || [];
      if (ids.length) { const det = el('details', 'evidence'); det.appendChild(el('summary', '', 'evidence (' + ids.length + ')'));
        ids.forEach(j => { const p = d.passages[j]; const div = el('div'); div.append(el('b', '', p[0] + ': '), document.createTextNode(p[1] + ' '), el('span', 'src', p[2])); det.appendChild(div); });
        li.appendChild(det); }
      const on = v => () => { sentNodes.forEach(n => n.classList.toggle('hl', v && n.dataset.s === String(d.cs[i]))); li.classList.toggle('hl', v); };
      li.onmouseenter = on(true); li.onmouseleave = on(false);
      ol.appendChild(li); items.push(li);
    });
    sentNodes.forEach(n => { n.onclick = ev => { ev.stopPropagation(); const on = !n.classList.contains('hl');
      sentNodes.forEach(m => m.classList.remove('hl')); items.forEach(li => li.classList.remove('hl'));
      if (on) { n.classList.add('hl'); items.forEach(li => { if (li.dataset.s === n.dataset.s) li.classList.add('hl'); }); } }; });
    box.appendChild(el('p', 'prov-line', r.c.length + ' claims · evidence ' + (d.backend || '-') + ' · verifier template ' + (d.verifier || '-') + ' · extractor template ' + (d.extractor || '-') +
      (d.cerr.length ? ' · extraction problems: ' + d.cerr.join(', ') : '') + (d.rel ? ' · relevance ' + (d.rel.score === null ? 'unjudged' : d.rel.score) + ' against ' + d.rel.ref : '')));
    box.appendChild(ol);
    if (d.ungrounded && d.ungrounded.length) {
      const det = el('details', 'ungrounded'); det.appendChild(el('summary', '', d.ungrounded.length + ' extracted claim(s) not in the answer, dropped before verification'));
      const ul = el('ul'); d.ungrounded.forEach(t => ul.appendChild(el('li', '', t))); det.appendChild(ul); box.appendChild(det);
    }
    const btn = el('button', 'show-raw', 'show the judges\' raw outputs'); const raw = el('div', 'raw-box'); raw.hidden = true;
    btn.onclick = ev => { ev.stopPropagation(); if (!raw.childNodes.length) {
      d.raw_c.forEach((t, i) => { raw.append(el('div', 'prov-line', 'extractor call ' + (i + 1)), el('pre', 'raw', t)); });
      d.raw_v.forEach((t, i) => { raw.append(el('div', 'prov-line', 'verifier call ' + (i + 1)), el('pre', 'raw', t)); });
      if (!raw.childNodes.length) raw.appendChild(el('p', 'note', 'no judge outputs stored')); }
      raw.hidden = !raw.hidden; btn.textContent = raw.hidden ? 'show the judges\' raw outputs' : 'hide the judges\' raw outputs'; };
    box.append(btn, raw);
    box.onclick = ev => ev.stopPropagation();
    return box;
  }
  ['sort', 'task', 'filter'].forEach(id => $(id).addEventListener('change', () => { page = 0; render(); }));
  $('search').addEventListener('input', () => { page = 0; render(); });
  render();
})();
