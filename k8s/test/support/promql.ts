/** A metric a query reads, with the `service` label it filters on (if any). */
export interface MetricUse {
  name: string;
  service?: string;
}

const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'inf',
  'nan',
]);

/**
 * The metric names a PromQL expression reads (Grafana variables and prometheus-adapter `<<...>>`
 * templates allowed). Function names, keywords, label names and label values are not metric names.
 */
export function metricsInPromQL(expr: string): MetricUse[] {
  const uses: MetricUse[] = [];
  let text = expr.replace(/<<[^>]*>>/g, ' ');
  // label_values(metric, label): Grafana's variable query.
  text = text.replace(/label_values\(\s*([a-zA-Z_:][\w:]*)\s*,[^)]*\)/g, '$1');
  // name{matchers}: remember the service matcher, then drop the matchers.
  text = text.replace(
    /([a-zA-Z_:][\w:]*)?\s*\{([^}]*)\}/g,
    (_m, name: string | undefined, matchers: string) => {
      const service = /(?:^|,)\s*service\s*=\s*"([^"]*)"/.exec(matchers)?.[1];
      if (name && !KEYWORDS.has(name)) uses.push(service ? { name, service } : { name });
      return ' ';
    },
  );
  text = text
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ');
  for (const m of text.matchAll(/([a-zA-Z_:][\w:]*)(\s*\()?/g)) {
    const [, name, call] = m;
    if (call || KEYWORDS.has(name.toLowerCase()) || /^\d/.test(name)) continue;
    uses.push({ name });
  }
  return uses;
}

/** The series names a registered metric exposes (histograms and summaries add their suffixes). */
export function seriesNames(metric: { name: string; type: string }): string[] {
  if (metric.type === 'histogram') return ['_bucket', '_sum', '_count'].map((s) => metric.name + s);
  if (metric.type === 'summary') return [metric.name, `${metric.name}_sum`, `${metric.name}_count`];
  return [metric.name];
}
