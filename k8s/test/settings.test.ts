import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { K8S_DIR, OVERLAYS } from './support/paths.js';
import { find, findGenerated, render } from './support/render.js';
import {
  LIBRARY_SETTINGS,
  PENDING_SETTINGS,
  SERVICES,
  configLiterals,
  literalProblems,
  readKustomization,
  serviceDefaults,
  type Service,
} from './support/settings.js';

describe('one place for each setting (ConfigMap values against the services’ defaults)', () => {
  let defaults: Awaited<ReturnType<typeof serviceDefaults>>;
  before(async () => {
    defaults = await serviceDefaults();
  });

  for (const dir of OVERLAYS) {
    it(`${dir}: every literal is read by a service and equals its default unless a comment says why`, () => {
      const literals = configLiterals(readKustomization(dir));
      if (dir === 'base') expect(literals.length).to.be.greaterThan(5);
      expect(literalProblems(dir, literals, defaults)).to.deep.equal([]);
    });
  }

  it('no longer repeats the drifted knobs (RATING_BURST, RANK_TICK_MS) anywhere', () => {
    for (const dir of OVERLAYS) {
      const config = findGenerated(render(dir), 'ConfigMap', 'pulse-config').data ?? {};
      for (const key of ['RATING_BURST', 'RANK_TICK_MS']) {
        if (key in config) {
          const reader = SERVICES.find((s) => key in defaults[s])!;
          expect(config[key], `${dir} ${key}`).to.equal(String(defaults[reader][key]));
        }
      }
    }
  });

  it('gives each container only settings its service reads (or a documented pending one)', () => {
    for (const dir of OVERLAYS) {
      const objects = render(dir);
      const config = findGenerated(objects, 'ConfigMap', 'pulse-config').data ?? {};
      for (const service of SERVICES) {
        const c = find(objects, 'Deployment', service).spec.template.spec.containers[0];
        const names = (c.env as { name: string }[]).map((e) => e.name);
        const unknown = names.filter(
          (n) => !(n in defaults[service]) && !PENDING_SETTINGS[n]?.includes(service),
        );
        expect(unknown, `${dir} ${service}`).to.deep.equal([]);
        const fromConfig = Object.keys(config).filter(
          (k) => !SERVICES.some((s: Service) => k in defaults[s]) && !PENDING_SETTINGS[k],
        );
        expect(fromConfig, `${dir} ConfigMap`).to.deep.equal([]);
      }
      for (const env of find(objects, 'Job', 'pulse-migrate').spec.template.spec.containers[0].env) {
        const known = env.name in defaults.api || LIBRARY_SETTINGS.includes(env.name);
        expect(known, `${dir} pulse-migrate ${env.name}`).to.equal(true);
      }
    }
  });

  it('documents every pending setting in k8s/README.md', () => {
    const readme = readFileSync(path.join(K8S_DIR, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## What production assumes from the services'));
    for (const key of Object.keys(PENDING_SETTINGS)) expect(section, key).to.contain(`\`${key}\``);
  });

  it('reports an undocumented difference, an unread key and a wrong "not the default" comment', () => {
    const text = [
      'configMapGenerator:',
      '  - name: pulse-config',
      '    literals:',
      '      - RATING_BURST=10',
      '      # not the default: a reason',
      '      - RANK_TICK_MS=100',
      '      - NO_SUCH_SETTING=1',
      '      # not the default: production',
      '      - NODE_ENV=production',
    ].join('\n');
    expect(literalProblems('x', configLiterals(text), defaults)).to.deep.equal([
      'x: RATING_BURST=10 differs from the default (gateway 120) without a reason',
      'x: RANK_TICK_MS=100 is the default but its comment says it is not',
      'x: NO_SUCH_SETTING is read by no service',
    ]);
  });
});
