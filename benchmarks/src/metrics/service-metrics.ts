/**
 * The services' own Prometheus figures at one moment (their /metrics, minus the generic process and
 * Node.js series), kept in the report so that a reader can name the bottleneck from the run's data.
 */
export async function scrapeServiceMetrics(
  urls: Record<string, string>,
): Promise<Record<string, Record<string, number>>> {
  const out: Record<string, Record<string, number>> = {};
  await Promise.all(
    Object.entries(urls).map(async ([name, base]) => {
      try {
        const res = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(3_000) });
        out[name] = parsePrometheusText(await res.text());
      } catch {
        // a service that does not answer is reported by its absence
      }
    }),
  );
  return out;
}

const GENERIC = /^(process_|nodejs_)/;

/** `name{labels} value` lines → { 'name{labels}': value }, skipping comments and generic series. */
export function parsePrometheusText(text: string): Record<string, number> {
  const series: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#') || GENERIC.test(line)) continue;
    const cut = line.lastIndexOf(' ');
    const value = Number(line.slice(cut + 1));
    if (cut > 0 && Number.isFinite(value)) series[line.slice(0, cut)] = value;
  }
  return series;
}
