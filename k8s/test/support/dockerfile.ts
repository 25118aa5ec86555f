import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface Instruction {
  op: string;
  args: string;
  line: number;
}

export interface Stage {
  name: string;
  base: string;
  instructions: Instruction[];
}

/** Splits a Dockerfile into stages of instructions (comments dropped, `\` continuations joined). */
export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    let line = lines[i].trim();
    if (line === '' || line.startsWith('#')) continue;
    while (line.endsWith('\\') && i + 1 < lines.length)
      line = `${line.slice(0, -1).trim()} ${lines[++i].trim()}`;
    const [op, ...rest] = line.split(/\s+/);
    const ins = { op: op.toUpperCase(), args: rest.join(' '), line: start };
    if (ins.op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      stages.push({ name: m?.[2] ?? String(stages.length), base: m?.[1] ?? '', instructions: [] });
    } else if (stages.length > 0) {
      stages[stages.length - 1].instructions.push(ins);
    }
  }
  return stages;
}

/** .dockerignore semantics for the patterns we use: `**`, `*`, exact paths and `!` exceptions. */
export function isIgnored(file: string, patterns: string[]): boolean {
  const toRegExp = (p: string) =>
    new RegExp(
      '^' +
        p
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*\*\//g, '\u0001')
          .replace(/\*/g, '[^/]*')
          .replaceAll('\u0001', '(?:.*/)?') +
        '(?:/.*)?$',
    );
  let ignored = false;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const p = negate ? raw.slice(1) : raw;
    if (toRegExp(p).test(file)) ignored = !negate;
  }
  return ignored;
}

export function readDockerignore(root: string): string[] {
  const file = path.join(root, '.dockerignore');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

interface RootPackage {
  scripts?: Record<string, string>;
  workspaces?: string[];
}

/** The source a built file comes from: services/x/dist/src/main.js -> services/x/src/main.ts. */
export function sourceOf(builtPath: string): string | undefined {
  const m = /^(.*)\/dist\/(src(?:\/.*)?)$/.exec(builtPath.replace(/^\/app\//, ''));
  if (!m) return undefined;
  return `${m[1]}/${m[2].replace(/\.js$/, '.ts')}`;
}

/**
 * Everything in the Dockerfile that points at the repository: COPY sources (present in the repo and not
 * excluded from the build context, or produced by an earlier stage), `npm run` scripts, `npm ci -w`
 * workspaces, `tsc -b` projects and the files `node` runs. One sentence per problem.
 */
export function dockerfileProblems(text: string, root: string): string[] {
  const problems: string[] = [...baseImageProblems(text)];
  const stages = parseDockerfile(text);
  const ignore = readDockerignore(root);
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as RootPackage;
  const inRepo = (p: string) => existsSync(path.join(root, p));
  const ran = (stage: Stage, re: RegExp): boolean => {
    const own = stage.instructions.some((i) => i.op === 'RUN' && re.test(i.args));
    const parent = stages.find((s) => s.name === stage.base);
    return own || (parent !== undefined && ran(parent, re));
  };

  for (const [index, stage] of stages.entries()) {
    const earlier = stages.slice(0, index);
    if (stage.base !== '${NODE_IMAGE}' && !earlier.some((s) => s.name === stage.base)) {
      problems.push(`stage ${stage.name} starts from ${stage.base}, not \${NODE_IMAGE} or an earlier stage`);
    }
    for (const ins of stage.instructions) {
      const at = `line ${ins.line}`;
      if (ins.op === 'COPY' || ins.op === 'ADD') {
        const words = ins.args.split(/\s+/);
        const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
        const sources = words.filter((w) => !w.startsWith('--')).slice(0, -1);
        for (const src of sources) {
          if (from === undefined) {
            if (!inRepo(src)) problems.push(`${at}: COPY ${src} does not exist in the repository`);
            else if (isIgnored(src, ignore)) problems.push(`${at}: COPY ${src} is excluded by .dockerignore`);
            continue;
          }
          const source = earlier.find((s) => s.name === from);
          if (!source) {
            problems.push(`${at}: COPY --from=${from} names no earlier stage`);
            continue;
          }
          const rel = src.replace(/^\/app\//, '');
          const built = sourceOf(src);
          if (built !== undefined) {
            if (!inRepo(built))
              problems.push(`${at}: ${src} would be built from ${built}, which does not exist`);
            if (!ran(source, /npm run build/)) problems.push(`${at}: stage ${from} never builds ${src}`);
          } else if (rel.endsWith('node_modules')) {
            if (!ran(source, /npm ci/)) problems.push(`${at}: stage ${from} never installs ${src}`);
          } else if (!inRepo(rel)) {
            problems.push(`${at}: ${src} does not exist in the repository`);
          }
        }
      }
      if (ins.op === 'RUN') {
        for (const m of ins.args.matchAll(/npm run (\S+)(?: -- ((?:[^&|;]+)))?/g)) {
          if (!pkg.scripts?.[m[1]]) problems.push(`${at}: npm run ${m[1]}: no such script in package.json`);
          if (pkg.scripts?.[m[1]]?.startsWith('tsc -b')) {
            for (const project of (m[2] ?? '').trim().split(/\s+/).filter(Boolean)) {
              if (!inRepo(path.join(project, 'tsconfig.json')))
                problems.push(`${at}: ${project} has no tsconfig.json`);
            }
          }
        }
        for (const m of ins.args.matchAll(/(?:-w|--workspace)[ =](\S+)/g)) {
          if (!pkg.workspaces?.includes(m[1])) problems.push(`${at}: ${m[1]} is not an npm workspace`);
        }
      }
      if (ins.op === 'CMD' || ins.op === 'ENTRYPOINT') {
        problems.push(
          ...nodeCommandProblems(JSON.parse(ins.args) as string[], root).map((p) => `${at}: ${p}`),
        );
      }
    }
  }
  return problems;
}

/** `node <file>` must run a file the build produces from an existing source. */
export function nodeCommandProblems(command: string[], root: string): string[] {
  if (command[0] !== 'node') return [];
  const file = command.find((w, i) => i > 0 && !w.startsWith('-'));
  if (!file) return ['node is run without a file'];
  const src = sourceOf(file);
  if (src === undefined) return existsSync(path.join(root, file)) ? [] : [`node ${file}: no such file`];
  return existsSync(path.join(root, src)) ? [] : [`node ${file}: its source ${src} does not exist`];
}

/** Node release lines with upstream support in 2026-11 (22 maintenance until 2027-04, 24 LTS until 2028-04). */
export const SUPPORTED_NODE_LINES = [22, 24];

/** The base image: a supported Node line, an exact x.y.z tag and a sha256 digest. */
export function baseImageProblems(text: string): string[] {
  const arg = /^ARG NODE_IMAGE=(\S+)$/m.exec(text)?.[1];
  if (!arg) return ['no ARG NODE_IMAGE'];
  const m = /^node:(\d+)\.(\d+)\.(\d+)-[\w-]+@sha256:([0-9a-f]+)$/.exec(arg);
  if (!m) return [`NODE_IMAGE ${arg} is not node:<x.y.z>-<variant>@sha256:<digest>`];
  const problems: string[] = [];
  if (!SUPPORTED_NODE_LINES.includes(Number(m[1])))
    problems.push(`NODE_IMAGE ${arg}: Node ${m[1]} is unsupported`);
  if (m[4].length !== 64) problems.push(`NODE_IMAGE ${arg}: the digest is not 64 hex digits`);
  return problems;
}
