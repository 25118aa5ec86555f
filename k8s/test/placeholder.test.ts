import { expect } from 'chai';
import { existsSync } from 'node:fs';

describe('k8s folder', () => {
  it('holds its package manifest', () => {
    expect(existsSync(new URL('../../package.json', import.meta.url))).to.equal(true);
  });
});
