// Diff page: filter the per-prompt rows by task and by kind of change.
(function () {
  const task = document.getElementById('task'), show = document.getElementById('show');
  const rows = Array.from(document.querySelectorAll('#prompts tr.prompt'));
  function apply() {
    let n = 0;
    rows.forEach(r => {
      const c = Number(r.dataset.change), f = Number(r.dataset.flipped);
      const ok = (!task.value || r.dataset.task === task.value) &&
        (!show.value || (show.value === 'worse' && c < 0) || (show.value === 'better' && c > 0) || (show.value === 'flipped' && f > 0));
      r.hidden = !ok; if (ok) n++;
    });
    document.getElementById('count').textContent = n + ' of ' + rows.length + ' prompts';
  }
  task.addEventListener('change', apply); show.addEventListener('change', apply); apply();
})();
