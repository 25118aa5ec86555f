// Compares two V8 heap snapshots of one process (node --heapsnapshot-signal=SIGUSR2, or Chrome DevTools) and
// prints what grew between them: objects and retained self size per constructor (issue 12, the soak's heap
// comparison). Usage: node benchmarks/scripts/heap-diff.mjs <earlier.heapsnapshot> <later.heapsnapshot> [top]
import { readFileSync } from 'node:fs';

function summarize(file) {
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  const meta = snap.snapshot.meta;
  const fields = meta.node_fields;
  const width = fields.length;
  const typeNames = meta.node_types[0];
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const byName = new Map();
  const nodes = snap.nodes;
  for (let i = 0; i < nodes.length; i += width) {
    const type = typeNames[nodes[i + typeAt]];
    if (type === 'hidden' || type === 'synthetic') continue;
    const name = `${type}:${snap.strings[nodes[i + nameAt]]}`.slice(0, 120);
    const entry = byName.get(name) ?? { count: 0, bytes: 0 };
    entry.count += 1;
    entry.bytes += nodes[i + sizeAt];
    byName.set(name, entry);
  }
  return byName;
}

const [earlierFile, laterFile, topArg] = process.argv.slice(2);
if (!earlierFile || !laterFile) {
  console.error('usage: heap-diff.mjs <earlier.heapsnapshot> <later.heapsnapshot> [top]');
  process.exit(2);
}
const earlier = summarize(earlierFile);
const later = summarize(laterFile);
const rows = [];
for (const [name, after] of later) {
  const before = earlier.get(name) ?? { count: 0, bytes: 0 };
  rows.push({ name, count: after.count - before.count, bytes: after.bytes - before.bytes });
}
const total = (m) => [...m.values()].reduce((s, e) => s + e.bytes, 0);
console.log(
  `self size: ${(total(earlier) / 1048576).toFixed(1)} MB → ${(total(later) / 1048576).toFixed(1)} MB`,
);
console.log('| grew by (KB) | objects | constructor |\n|---|---|---|');
for (const r of rows.sort((a, b) => b.bytes - a.bytes).slice(0, Number(topArg ?? 25))) {
  console.log(`| ${(r.bytes / 1024).toFixed(1)} | ${r.count} | ${r.name.replace(/\|/g, '\\|')} |`);
}
