// Leaderboard: show the chosen task's section; sort a table's rows by a column (click its header).
(function () {
  const select = document.getElementById('task');
  function show() {
    document.querySelectorAll('section.task').forEach(s => { s.hidden = s.dataset.task !== select.value; });
  }
  select.addEventListener('change', show);
  document.querySelectorAll('table.lb th[data-key]').forEach(th => th.addEventListener('click', () => {
    const table = th.closest('table'), body = table.tBodies[0], key = th.dataset.key;
    const dir = th.classList.contains('sorted-desc') ? 1 : -1;  // first click: highest first (rank: lowest)
    table.querySelectorAll('th').forEach(h => h.classList.remove('sorted-asc', 'sorted-desc'));
    th.classList.add(dir > 0 ? 'sorted-asc' : 'sorted-desc');
    const value = tr => { const v = tr.dataset[key.replace(/-([a-z])/g, (_, c) => c.toUpperCase())];
      return v === '' || v === undefined ? null : Number(v); };
    const rows = Array.from(body.rows);
    const sign = key === 'rank' ? -dir : dir;
    rows.sort((a, b) => { const x = value(a), y = value(b);
      if (x === null) return 1; if (y === null) return -1; return (x - y) * sign; });
    rows.forEach(r => body.appendChild(r));
  }));
  show();
})();
