// The Consumers page: refreshes the table and the lag chart from /consumers.json every 5 s (uPlot).
(() => {
  const el = document.getElementById('lag-chart');
  let chart;
  const cell = (text, cls) => {
    const td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  };
  const draw = (snap) => {
    document.getElementById('status').textContent = snap.status;
    document.getElementById('at').textContent = snap.at;
    const rows = document.getElementById('consumer-rows');
    rows.replaceChildren(
      ...snap.consumers.map((c) => {
        const tr = document.createElement('tr');
        const lag = Object.entries(c.lag)
          .filter(([, n]) => n > 0)
          .map(([t, n]) => `${t} ${n}`);
        tr.append(
          cell(c.name),
          cell(c.groupId),
          cell(c.state, `state-${c.state}`),
          cell(lag.length ? lag.join(', ') : '0'),
          cell(String(c.stalled.length)),
          cell(String(c.restarts ?? '')),
        );
        return tr;
      }),
    );
    const names = [...new Set(snap.history.flatMap((s) => Object.keys(s.lag)))].sort();
    const data = [
      snap.history.map((s) => s.at / 1000),
      ...names.map((n) => snap.history.map((s) => s.lag[n] ?? null)),
    ];
    const colors = ['#1d3557', '#e63946', '#2a9d8f', '#f4a261', '#6a4c93'];
    if (!chart || chart.series.length !== names.length + 1) {
      chart?.destroy();
      chart = new uPlot(
        {
          width: Math.min(900, el.clientWidth || 900),
          height: 220,
          series: [{}, ...names.map((n, i) => ({ label: n, stroke: colors[i % colors.length], width: 2 }))],
          axes: [{}, { label: 'records behind' }],
          scales: { y: { range: (_u, _min, max) => [0, Math.max(5, max)] } },
        },
        data,
        el,
      );
    } else chart.setData(data);
  };
  const refresh = () =>
    fetch('/consumers.json', { cache: 'no-store' })
      .then((r) => r.json())
      .then(draw)
      .catch(() => undefined);
  refresh();
  setInterval(refresh, 5000);
})();
