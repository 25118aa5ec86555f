import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { main } from '../src/cli.js';

/** Runs one bench mode with tiny numbers into a temporary folder and checks the report files exist. */
export async function smokeRun(args: string[]) {
  const out = mkdtempSync(path.join(tmpdir(), 'pulse-bench-'));
  try {
    const result = await main([...args, '--out', out, '--name', 'smoke', '--no-progress']);
    for (const ext of ['json', 'html', 'md'])
      expect(statSync(path.join(out, `smoke.${ext}`)).size, ext).to.be.greaterThan(100);
    return result.report!;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** The checks of a report by name, for assertions that show every failing check at once. */
export const checksOf = (report: { checks: Array<{ name: string; ok: boolean; detail: string }> }) =>
  report.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
