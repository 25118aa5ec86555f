import { existsSync, mkdirSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import axe from 'axe-core';
import puppeteer from 'puppeteer-core';
import type { Browser, Page } from 'puppeteer-core';
import { LocalStack, REPO_ROOT, waitFor } from '@pulse/benchmarks';
import { PulseClient } from '@pulse/sdk';

/** Debian's chromium (installed by .ci/run); CHROMIUM_PATH overrides. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const PASSWORD = 'correct horse battery';
/** Where screenshots go; `PULSE_SCREENSHOTS=docs/screenshots` refreshes the README's. */
const SHOTS = process.env.PULSE_SCREENSHOTS
  ? path.resolve(REPO_ROOT, process.env.PULSE_SCREENSHOTS)
  : path.join(tmpdir(), 'pulse-web-screenshots');
const SERIOUS = new Set(['serious', 'critical']);

interface Person {
  page: Page;
  email: string;
  name: string;
}

describe('the web app in Debian’s chromium (issue 15)', function () {
  this.timeout(180_000);
  let stack: LocalStack;
  let browser: Browser;
  const violations: Record<string, string[]> = {};

  before(async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} (apt-get install -y chromium)`).to.equal(true);
    expect(existsSync(path.join(REPO_ROOT, 'web/dist/app/index.html')), 'npm run build builds web/').to.equal(
      true,
    );
    mkdirSync(SHOTS, { recursive: true });
    stack = await LocalStack.start({
      gateways: 1,
      engines: 1,
      env: { 'live-engine': { MINUTE_MS: '2000', RESULTS_FLUSH_MS: '500' }, gateway: { MINUTE_MS: '2000' } },
    });
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    });
  });
  after(async () => {
    await browser?.close();
    await stack?.close();
  });

  /** Runs axe-core on the page as it is and records serious or critical violations under `screen`. */
  async function audit(page: Page, screen: string): Promise<void> {
    if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ content: axe.source });
    const found = await page.evaluate(async () => {
      const run = (window as unknown as { axe: typeof axe }).axe.run;
      const result = await run(document, { resultTypes: ['violations'] });
      return result.violations.map((v) => ({ id: v.id, impact: v.impact ?? '', nodes: v.nodes.length }));
    });
    if (process.env.PULSE_AXE_VERBOSE) console.log(screen, found);
    violations[screen] = found.filter((v) => SERIOUS.has(v.impact)).map((v) => `${v.id} (${v.nodes})`);
  }

  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
  const text = (page: Page, testId: string) =>
    page.$eval(`[data-testid="${testId}"]`, (e) => e.textContent ?? '');
  const waitText = (page: Page, testId: string, expected: string) =>
    page.waitForFunction(
      (id, want) => document.querySelector(`[data-testid="${id}"]`)?.textContent === want,
      { timeout: 30_000 },
      testId,
      expected,
    );
  /** Waits until a chart's text alternative (its canvas' aria-label) contains every one of `parts`. */
  const waitChart = (page: Page, testId: string, parts: string[]) =>
    page.waitForFunction(
      (id, want) => {
        const label = document.querySelector(`[data-testid="${id}"]`)?.getAttribute('aria-label') ?? '';
        return want.every((w) => label.includes(w));
      },
      { timeout: 30_000 },
      testId,
      parts,
    );
  const click = async (page: Page, label: string) =>
    (await page.waitForSelector(`::-p-text(${label})`))!.click();

  async function person(role: 'trainer' | 'trainee', name: string): Promise<Person> {
    const context = await browser.createBrowserContext();
    const page = await context.newPage();
    await page.setViewport({ width: 1100, height: 800 });
    await page.goto(`${stack.apiUrl}/app/`);
    await page.waitForSelector('[data-testid="auth-form"]');
    if (role === 'trainer') await audit(page, 'sign up');
    const email = `${name.toLowerCase().replace(/\W/g, '')}-${randomUUID()}@web.pulse.test`;
    await page.type('input[name="name"]', name);
    await page.click(`input[name="role"][value="${role}"]`);
    await page.type('input[name="email"]', email);
    await page.type('input[name="password"]', PASSWORD);
    await click(page, 'Sign up');
    await waitText(page, 'who', `${name} (${role})`);
    return { page, email, name };
  }

  async function setEnergy(page: Page, energy: number): Promise<void> {
    await page.$eval(
      '[data-testid="energy"]',
      (input, value) => {
        (input as HTMLInputElement).value = String(value);
        input.dispatchEvent(new Event('input', { bubbles: true }));
      },
      energy,
    );
  }

  it('runs a whole class with a trainer and two trainees; each trainee’s rank on screen matches the results', async () => {
    const trainer = await person('trainer', 'Coach Web');
    await trainer.page.waitForSelector('[data-testid="create-form"]');
    await audit(trainer.page, 'trainer console');
    await shot(trainer.page, 'trainer-console');
    await click(trainer.page, 'Create session');
    await trainer.page.waitForFunction(() => location.hash.startsWith('#/session/'));
    const sessionId = (await trainer.page.evaluate(() => location.hash)).split('/')[2];
    await waitText(trainer.page, 'session-status', 'scheduled');
    await audit(trainer.page, 'trainer session (scheduled)');

    const riders = [await person('trainee', 'Ada Web'), await person('trainee', 'Bo Web')];
    // Personal boards (issue 16): both opt in to the 35-44 board on their profile screen.
    for (const [i, rider] of riders.entries()) {
      await rider.page.click('a[href="#/profile"]');
      await rider.page.waitForSelector('[data-testid="profile-form"]');
      await rider.page.type('input[name="birthYear"]', String(new Date().getUTCFullYear() - 40));
      await rider.page.click('input[name="showOnBoards"]');
      await click(rider.page, 'Save profile');
      await waitText(rider.page, 'profile-status', 'Saved.');
      if (i === 0) {
        await audit(rider.page, 'profile');
        await shot(rider.page, 'trainee-profile');
      }
      await rider.page.click('a.brand');
    }
    for (const [i, rider] of riders.entries()) {
      await rider.page.waitForSelector(`a[href="#/session/${sessionId}"]`);
      if (i === 0) await audit(rider.page, 'trainee upcoming');
      await rider.page.click(`a[href="#/session/${sessionId}"]`);
      await click(rider.page, 'Register');
      await click(rider.page, 'Join the waiting room');
      await rider.page.waitForSelector('[data-testid="live-state"][data-state="waiting"]');
      await rider.page.waitForSelector('[data-testid="waiting-room"]');
    }
    await waitText(riders[1].page, 'waiting-count', '2');
    await audit(riders[1].page, 'waiting room');
    await shot(riders[1].page, 'trainee-waiting-room');

    await click(trainer.page, 'Start now');
    const energies = [80, 40];
    const readings = 6;
    for (const [i, rider] of riders.entries()) {
      await rider.page.waitForSelector('[data-testid="live-state"][data-state="live"]');
      await setEnergy(rider.page, energies[i]);
      for (let n = 0; n < readings; n++) await click(rider.page, 'Send reading');
    }
    await waitText(riders[0].page, 'my-score', String(80 * readings));
    await waitText(riders[1].page, 'my-score', String(40 * readings));
    await waitText(riders[0].page, 'my-rank', '1 / 2');
    await waitText(riders[1].page, 'my-rank', '2 / 2');
    await waitText(riders[0].page, 'band-rank', '1 / 2');
    await waitText(riders[1].page, 'band-rank', '2 / 2');
    // Bo follows Ada from the class's top 10; the gateways hear of it and Bo's frames gain the following board.
    const followAda = 'button[aria-label="Follow Ada Web"]';
    await (await riders[1].page.waitForSelector(followAda))!.click();
    await riders[1].page.waitForSelector(`${followAda}[aria-pressed="true"]`);
    await waitText(riders[1].page, 'following-rank', '2 / 2');
    expect(await riders[0].page.$('[data-testid="following-rank"]')).to.equal(null);
    await audit(riders[0].page, 'trainee live');
    await shot(riders[0].page, 'trainee-live');
    await waitText(trainer.page, 'participants', '2');
    // The class's energy (issue 15): minute 1's average of all twelve readings is (6 x 80 + 6 x 40) / 12 = 60;
    // one trainee in 40–50, one in 80–90.
    await waitChart(trainer.page, 'class-minutes-chart', ['min 1: 60']);
    await waitChart(trainer.page, 'energy-distribution-chart', [
      '30–40: 0',
      '40–50: 1',
      '70–80: 0',
      '80–90: 1',
    ]);
    await audit(trainer.page, 'trainer live');
    await shot(trainer.page, 'trainer-live');

    await click(trainer.page, 'End session');
    for (const [i, rider] of riders.entries()) {
      const client = new PulseClient({ baseUrl: stack.apiUrl });
      await client.login(rider.email, PASSWORD);
      const results = await waitFor(
        'final results',
        async () => {
          const answer = await client.results(sessionId);
          return answer.final ? answer : undefined;
        },
        30_000,
        250,
      );
      expect(results.me).to.deep.include({ rank: i + 1, score: energies[i] * readings });
      await waitText(rider.page, 'result-rank', String(results.me!.rank));
      await waitText(rider.page, 'result-score', String(results.me!.score));
      expect(Number(await text(rider.page, 'result-calories'))).to.equal(Math.round(results.me!.calories));
      // A first class of its type is a personal best.
      expect(results.me!.personalBest).to.equal(true);
      await waitText(rider.page, 'personal-best', 'New personal best');
    }
    // The results' board keeps Bo's follow of Ada (pressed), and no button beside one's own name.
    await riders[1].page.waitForSelector('button[aria-label="Follow Ada Web"][aria-pressed="true"]');
    expect(await riders[1].page.$('button[aria-label="Follow Bo Web"]')).to.equal(null);
    await riders[0].page.waitForSelector('[data-testid="minutes-chart"]');
    await audit(riders[0].page, 'trainee results');
    await shot(riders[0].page, 'trainee-results');

    await click(riders[0].page, 'Send feedback');
    await waitText(riders[0].page, 'feedback-done', 'Thank you for your feedback.');
    await trainer.page.waitForFunction(
      () =>
        document.querySelector('[data-testid="feedback-average"]')?.textContent?.includes('from 1 trainees'),
      { timeout: 30_000 },
    );
    await audit(trainer.page, 'trainer results and feedback');
    await shot(trainer.page, 'trainer-results');

    await riders[1].page.goto(`${stack.apiUrl}/app/#/history`);
    await riders[1].page.waitForFunction(
      () => document.querySelectorAll('[data-testid="history"] tbody tr').length === 1,
      { timeout: 30_000 },
    );
    expect(await riders[1].page.$eval('[data-testid="history"] tbody tr', (tr) => tr.textContent)).to.contain(
      '2 / 2',
    );
    await audit(riders[1].page, 'history');

    // Bo's profile lists whom Bo follows, Ada's whom she is followed by; Bo stops following Ada there.
    await riders[1].page.click('a[href="#/profile"]');
    await riders[1].page.waitForFunction(
      () => document.querySelector('[data-testid="following-list"]')?.textContent?.includes('Ada Web'),
      { timeout: 30_000 },
    );
    await riders[0].page.click('a[href="#/profile"]');
    await riders[0].page.waitForFunction(
      () => document.querySelector('[data-testid="followers-list"]')?.textContent?.includes('Bo Web'),
      { timeout: 30_000 },
    );
    await shot(riders[1].page, 'trainee-people');
    await riders[1].page.click('button[aria-label="Unfollow Ada Web"]');
    await riders[1].page.waitForFunction(
      () => document.querySelectorAll('[data-testid="following-list"] li').length === 0,
      { timeout: 30_000 },
    );
  });

  it('has no serious or critical accessibility violations on any screen (axe-core)', () => {
    expect(Object.keys(violations)).to.have.length(11);
    const serious = Object.entries(violations).filter(([, found]) => found.length > 0);
    expect(Object.fromEntries(serious)).to.deep.equal({});
  });
});
