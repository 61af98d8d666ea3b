/*
 * /console/reports: draws each report's chart with Chart.js (window.Chart, from
 * /console/vendor/chart.umd.min.js, pinned in frontdesk/console/package.json) from the JSON block
 * next to its canvas. The server builds that block from the same rows as the table under the
 * chart and the report's CSV, so the three always show the same numbers.
 *
 * Also: the filter form shows the two date fields only for the custom period.
 */

const COLORS = ['#2456d6', '#1f8a4c', '#b76e00', '#8a3ffc', '#b3261e', '#00838f', '#6d4c41',
  '#c2185b', '#5d6675', '#7cb342', '#f9a825', '#3949ab'];

/** A Chart.js configuration from the server's chart spec (see frontdesk/reports/figures.py). */
function config(spec) {
  const horizontal = Boolean(spec.horizontal);
  const stacked = Boolean(spec.stacked);
  const datasets = (spec.datasets || []).map((set, i) => ({
    label: String(set.label),
    data: (set.data || []).map((v) => (typeof v === 'number' ? v : null)),
    backgroundColor: COLORS[i % COLORS.length],
    borderColor: COLORS[i % COLORS.length],
    borderWidth: spec.type === 'line' ? 2 : 0,
    spanGaps: true,
    maxBarThickness: 48,
    pointRadius: 2,
  }));
  return {
    type: spec.type === 'line' ? 'line' : 'bar',
    data: { labels: (spec.labels || []).map(String), datasets },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      indexAxis: horizontal ? 'y' : 'x',
      plugins: { legend: { display: datasets.length > 1, position: 'bottom' } },
      scales: {
        // Every figure charted is a count or whole seconds: no 0.5 ticks on the value axis.
        x: { stacked, beginAtZero: true, ticks: horizontal ? { precision: 0 } : {} },
        y: { stacked, beginAtZero: true, ticks: horizontal ? {} : { precision: 0 } },
      },
    },
  };
}

function drawCharts() {
  const Chart = window.Chart;
  if (typeof Chart !== 'function') {
    console.warn('Chart.js did not load: the tables still hold every figure');
    return;
  }
  for (const section of document.querySelectorAll('.fc-report')) {
    const canvas = section.querySelector('canvas.fc-chart');
    const block = section.querySelector('script.fc-chart-data');
    if (!canvas || !block) continue;
    let spec;
    try {
      spec = JSON.parse(block.textContent || '{}');
    } catch (err) {
      console.warn('unreadable chart data', err);
      continue;
    }
    new Chart(canvas, config(spec));
    canvas.dataset.drawn = 'yes';
  }
}

function periodFields() {
  const select = document.querySelector('.fc-report-filters .fc-period');
  if (!select) return;
  const sync = () => {
    for (const field of document.querySelectorAll('.fc-custom-date')) {
      field.hidden = select.value !== 'custom';
    }
  };
  select.addEventListener('change', sync);
  sync();
}

periodFields();
drawCharts();
