import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifactsDir, launchChromium } from '../support/browser.js';
import { type ControllerProcess, docker, poolYaml, TestScope, waitFor } from '../support/harness.js';

// The status page at `/` in a real headless Chromium, against a real controller and real Docker: it
// shows the engines, and follows a killed engine and a new stream within two seconds (the page's
// promise, issue 15), on a desktop and a phone viewport. Screenshots and the measured page weight,
// first paint and latencies go to test-artifacts/status-page/. Host ports 24200-24299.

const POOL = 'page-e2e';
const SECRET = 'hunter2-not-for-the-page';
const STREAM_ID = 'stream-key-0123456789abcdef';
/** The page's promise: a change in Docker shows within two seconds. */
const PROMISE_MS = 2_000;

// Why: the functions below run in the page; the project's types have no DOM (it is Node code).
declare const document: any;

const scope = new TestScope();
const artifacts = artifactsDir('status-page');
const measured: Record<string, unknown> = {};
let browser: Browser;
let c: ControllerProcess;
const views: { name: string; context: BrowserContext; page: Page; problems: string[] }[] = [];

const yaml = (memoryLimit = '64m', mode = 'normal') =>
  poolYaml(POOL, {
    range: '24200-24219',
    replicas: '{ minFree: 2, max: 4 }',
    template: `    memoryLimit: "${memoryLimit}"\n    env: { FAKE_MODE: "${mode}" }\n`,
    extra: '  circuitBreaker: { failureThreshold: 1, openSeconds: 600 }\n',
  });

async function shoot(state: string): Promise<void> {
  await Promise.all(
    views.map((v) => v.page.screenshot({ path: join(artifacts, `${state}-${v.name}.png`), fullPage: true })),
  );
}

/** Waits on every viewport until `check(arg)` holds in the page; answers the slowest latency from `since`. */
async function allShow<A extends Record<string, string>>(
  what: string,
  since: number,
  check: (arg: A) => boolean,
  arg: A,
): Promise<number> {
  const latencies = await Promise.all(
    views.map(async (v) => {
      await v.page
        .waitForFunction(check as (arg: unknown) => boolean, arg, { polling: 'raf', timeout: PROMISE_MS })
        .catch((error: Error) => {
          throw new Error(
            `${v.name}: the page did not show ${what} within ${PROMISE_MS} ms: ${error.message}`,
          );
        });
      return Date.now() - since;
    }),
  );
  return Math.max(...latencies);
}

const AXE = readFileSync(join(import.meta.dirname, '../../node_modules/axe-core/axe.min.js'), 'utf8');

/** axe-core finds nothing wrong on any viewport (light on the desktop, dark on the phone). */
async function expectAccessible(): Promise<void> {
  for (const v of views) {
    // Why evaluate: the page's CSP rightly refuses injected script tags; evaluate is the debugger's.
    await v.page.evaluate(AXE);
    const violations = await v.page.evaluate(async () => {
      const result = await (globalThis as any).axe.run(document);
      return result.violations.map(
        (x: any) => `${x.id}: ${x.nodes[0]?.target} ${x.nodes[0]?.failureSummary}`,
      );
    });
    expect(violations, `${v.name} (axe-core)`).toEqual([]);
  }
}

beforeAll(async () => {
  browser = await launchChromium();
  scope.pool(POOL);
  // Why a long resync: the page must follow Docker's events, not a pass that comes every 2 s anyway.
  c = scope.controller(yaml(), [], { ENGINEPOOL_RESYNC_SECONDS: '30', PAGE_SECRET: SECRET });
  await c.start();
  await waitFor('2 ready engines', async () => (await c.pool(POOL))?.replicas?.ready === 2);
  for (const [name, options] of [
    ['desktop', { viewport: { width: 1280, height: 900 } }],
    [
      'phone',
      { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, colorScheme: 'dark' as const },
    ],
  ] as const) {
    const context = await browser.newContext(options);
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      // Why only these: a request cut short on a loaded machine is the network's, not the page's.
      if (/Content.Security.Policy|Refused to/i.test(m.text())) problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    views.push({ name, context, page, problems });
  }
}, 600_000);

afterAll(async () => {
  writeFileSync(join(artifacts, 'measurements.json'), `${JSON.stringify(measured, null, 2)}\n`);
  console.log('status page measurements', measured);
  await browser?.close();
  await scope.cleanup();
});

describe('the status page', () => {
  it('loads the engines a real controller runs, server-rendered, self-contained and accessible', async () => {
    for (const v of views) {
      await v.page.goto(c.url);
      expect(await v.page.locator('li[data-engine]').count()).toBe(2);
      await v.page.waitForSelector('#connection[data-state="live"]');
      const [ttfb, fcp] = await v.page.evaluate(() => [
        (performance as any).getEntriesByType('navigation')[0]?.responseStart as number | undefined,
        performance.getEntriesByName('first-contentful-paint')[0]?.startTime,
      ]);
      measured[`timeToFirstByteMs.${v.name}`] = Math.round(ttfb ?? -1);
      measured[`firstContentfulPaintMs.${v.name}`] = Math.round(fcp ?? -1);
    }
    const desktop = views[0]!;
    expect(await desktop.page.locator(`li[data-engine="${POOL}-1"] .tile__state`).innerText()).toBe('ready');
    expect(await desktop.page.locator('.overall__state').innerText()).toContain('OK');
    expect(await desktop.page.locator(`#pool-${POOL}`).innerText()).toBe(POOL);

    const response = await fetch(c.url);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    const page = await response.text();
    const assets = [...page.matchAll(/(?:href|src)="(\/ui\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets).toHaveLength(2);
    // Why: nothing on the page may come from elsewhere; every URL it names is its own.
    expect(page).not.toMatch(/(?:href|src)="(?:https?:)?\/\//);
    const bodies = [page, ...(await Promise.all(assets.map(async (a) => (await fetch(c.url + a)).text())))];
    const raw = bodies.reduce((sum, b) => sum + Buffer.byteLength(b), 0);
    const gzip = bodies.reduce((sum, b) => sum + gzipSync(b).length, 0);
    Object.assign(measured, { pageWeightBytes: raw, pageWeightGzipBytes: gzip });
    expect(gzip).toBeLessThan(20_000);

    // Keyboard: the first Tab reaches the skip link, which leads to the status.
    await desktop.page.keyboard.press('Tab');
    expect(await desktop.page.evaluate(() => document.activeElement?.textContent)).toContain('Skip');
    await desktop.page.locator('.skip').blur();

    await expectAccessible();
    await shoot('1-loaded');
  });

  it('shows a killed engine within two seconds', async () => {
    const name = `${POOL}-1`;
    const created =
      (await views[0]!.page.locator(`li[data-engine="${name}"] time`).getAttribute('datetime')) ?? '';
    const container = docker.getContainer(name);
    await container.kill();
    const since = Date.now();
    measured.killToPageMs = await allShow(
      'the killed engine gone or replaced',
      since,
      ({ name, created }) => {
        const tile = document.querySelector(`li[data-engine="${name}"]`);
        return (
          !tile || tile.querySelector('time')?.dateTime !== created || !tile.classList.contains('tile--ready')
        );
      },
      { name, created },
    );
    await shoot('2-engine-killed');
    await waitFor('the replacement ready', async () => (await c.pool(POOL))?.replicas?.ready === 2);
  });

  it('highlights the engine of a new stream within two seconds', async () => {
    const acquired = await c.api(`/api/v1/pools/${POOL}/acquire`, {
      method: 'POST',
      token: c.token,
      body: { id: STREAM_ID },
    });
    expect(acquired.status).toBe(200);
    const since = Date.now();
    const engine = acquired.body.engine.name as string;
    measured.streamToPageMs = await allShow(
      'the stream on its engine',
      since,
      ({ engine }) =>
        document.querySelector(`li[data-engine="${engine}"]`)?.classList.contains('tile--streaming') === true,
      { engine },
    );
    await shoot('3-stream-started');
    for (const v of views) {
      const text = await v.page.content();
      expect(text).not.toContain(STREAM_ID);
      expect(text).not.toContain(c.token);
    }
    expect((await c.api('/api/v1/status')).text).not.toContain(STREAM_ID);
  });

  it('says the file is invalid, without the values it quotes', async () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the file's own ${VAR} syntax.
    c.edit(yaml('${PAGE_SECRET}'));
    await Promise.all(views.map((v) => v.page.waitForSelector('.config--invalid', { timeout: 10_000 })));
    expect(await views[0]!.page.locator('.config--invalid').innerText()).toContain('memoryLimit');
    await shoot('4-file-invalid');
    await expectAccessible();
    for (const v of views) {
      expect(await v.page.content()).not.toContain(SECRET);
      expect(v.problems.join('\n'), `${v.name}: CSP violations and script errors`).toBe('');
    }
    expect((await c.api('/api/v1/status')).text).not.toContain(SECRET);
  });

  it('shows a degraded pool from across the room, with the breaker transition and its reason', async () => {
    // A template whose engines crash at start: the rollout's first new engine opens the breaker.
    c.edit(yaml('64m', 'crash'));
    await Promise.all(views.map((v) => v.page.waitForSelector('.overall--degraded', { timeout: 30_000 })));
    const pool = await views[0]!.page.locator(`article.pool--degraded`).innerText();
    expect(pool).toContain('ExitedBeforeReady');
    expect(pool).toMatch(/closed → open .* ago: 1 provisioning failure; last: ExitedBeforeReady/);
    expect(await views[0]!.page.title()).toMatch(/^✕ Degraded/);
    await shoot('5-degraded');
    await expectAccessible();
  });

  it('shows the same picture in the terminal with status --watch', async () => {
    const watch = spawn(join(import.meta.dirname, '../../bin/enginepool'), [
      'status',
      '--watch',
      '--url',
      c.url,
    ]);
    let out = '';
    watch.stdout.on('data', (chunk) => {
      out += chunk;
    });
    try {
      await waitFor(
        'the watch to show the engines',
        () => out.includes(`${POOL}-2`) && out.includes('CONDITION'),
        {
          timeoutMs: 10_000,
        },
      );
      expect(out).toContain(`POOL ${POOL}`);
    } finally {
      watch.kill();
    }
  });
});
