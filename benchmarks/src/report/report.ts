import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export interface ChartSpec {
  title: string;
  type: 'line' | 'bar';
  /** x values (seconds for time series, names for bars). */
  labels: Array<string | number>;
  datasets: Array<{ label: string; data: Array<number | null> }>;
  yLabel?: string;
}

export interface Table {
  title: string;
  columns: string[];
  rows: Array<Array<string | number>>;
}

/** What every mode hands to the writer: figures for people (tables, charts) and all data for machines. */
export interface Report {
  name: string;
  mode: string;
  command: string;
  startedAt: string;
  finishedAt: string;
  /** Verdicts such as "0 lost, 0 doubled"; `ok: false` makes the CLI exit non-zero. */
  checks: Array<{ name: string; ok: boolean; detail: string }>;
  tables: Table[];
  charts: ChartSpec[];
  data: unknown;
}

export interface WrittenReport {
  json: string;
  html: string;
  md: string;
}

/** Writes `<dir>/<name>.json`, `.html` (self-contained, chart.js inlined) and `.md`. */
export function writeReport(report: Report, dir: string): WrittenReport {
  mkdirSync(dir, { recursive: true });
  const base = path.join(dir, report.name);
  const files = { json: `${base}.json`, html: `${base}.html`, md: `${base}.md` };
  writeFileSync(files.json, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(files.md, markdown(report, path.basename(files.html)));
  writeFileSync(files.html, html(report));
  return files;
}

const cell = (v: string | number) => (typeof v === 'number' ? formatNumber(v) : v);
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  return v.toLocaleString('en-US', { maximumFractionDigits: Math.abs(v) < 10 ? 2 : 1 });
}

function markdownTable(t: Table): string {
  const head = `| ${t.columns.join(' | ')} |\n|${t.columns.map(() => '---').join('|')}|\n`;
  return `### ${t.title}\n\n${head}${t.rows.map((r) => `| ${r.map(cell).join(' | ')} |`).join('\n')}\n`;
}

export function markdown(report: Report, htmlFile: string): string {
  const checks = report.checks
    .map((c) => `- ${c.ok ? 'PASS' : 'FAIL'} **${c.name}**: ${c.detail}`)
    .join('\n');
  return [
    `# ${report.mode} benchmark: ${report.name}`,
    '',
    `Command: \`${report.command}\`  `,
    `Run: ${report.startedAt} → ${report.finishedAt}. Charts: [${htmlFile}](${htmlFile}).`,
    '',
    '## Checks',
    '',
    checks || '(none)',
    '',
    ...report.tables.map(markdownTable),
  ].join('\n');
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

function chartJsSource(): string {
  const require = createRequire(import.meta.url);
  return readFileSync(path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.js'), 'utf8');
}

export function html(report: Report): string {
  const tables = report.tables
    .map(
      (t) =>
        `<h3>${escapeHtml(t.title)}</h3><table><tr>${t.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr>${t.rows
          .map((r) => `<tr>${r.map((v) => `<td>${escapeHtml(String(cell(v)))}</td>`).join('')}</tr>`)
          .join('')}</table>`,
    )
    .join('\n');
  const checks = report.checks
    .map(
      (c) =>
        `<li class="${c.ok ? 'ok' : 'fail'}">${c.ok ? 'PASS' : 'FAIL'} <b>${escapeHtml(c.name)}</b>: ${escapeHtml(c.detail)}</li>`,
    )
    .join('');
  const canvases = report.charts
    .map((_, i) => `<div class="chart"><canvas id="c${i}"></canvas></div>`)
    .join('\n');
  // JSON inside <script>: escape "<" so that no string can close the tag.
  const specs = JSON.stringify(report.charts).replace(/</g, '\\u003c');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${escapeHtml(`${report.mode}: ${report.name}`)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;margin-bottom:1em}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3}.ok{color:#070}.fail{color:#b00}
.chart{height:320px;margin:1.5em 0}</style>
<script>${chartJsSource()}</script></head><body>
<h1>${escapeHtml(report.mode)} benchmark: ${escapeHtml(report.name)}</h1>
<p><code>${escapeHtml(report.command)}</code><br>${escapeHtml(report.startedAt)} → ${escapeHtml(report.finishedAt)}</p>
<h2>Checks</h2><ul>${checks}</ul>
${tables}
<h2>Charts</h2>
${canvases}
<script>
const specs = ${specs};
specs.forEach((s, i) => new Chart(document.getElementById('c' + i), {
  type: s.type,
  data: { labels: s.labels, datasets: s.datasets.map((d) => ({ ...d, pointRadius: 0, borderWidth: 1.5 })) },
  options: { maintainAspectRatio: false, animation: false, plugins: { title: { display: true, text: s.title } },
    scales: { y: { beginAtZero: true, title: { display: !!s.yLabel, text: s.yLabel || '' } } } },
}));
</script></body></html>
`;
}
