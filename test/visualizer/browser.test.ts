import { execFileSync } from 'node:child_process';
import { existsSync, statSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActor, createMachine, type Actor } from 'xstate';
import { InspectionHub, type TraceRecorder } from '../../src/inspect/hub.js';
import type { InspectRecord } from '../../src/inspect/records.js';
import { startInspectServer, type InspectServer } from '../../src/inspect/server.js';
import { demoLockMachine, demoVolumeMachine } from '../inspect/demo-machine.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
  '--no-first-run', '--disable-component-update', '--disable-sync'];
const repo = fileURLToPath(new URL('../../', import.meta.url));
const hasChromium = existsSync(CHROMIUM);
const inCi = process.env.CI === 'true';
if (!hasChromium && !inCi) console.warn(`skipping the visualizer browser test: ${CHROMIUM} is not installed (apt-get install chromium)`);

// Rebuild the page when it is missing or older than its sources, so the test never checks a stale bundle.
function ensurePageBuilt(): void {
  const built = join(repo, 'visualizer/dist/app.js');
  const srcDir = join(repo, 'visualizer/src');
  const newest = Math.max(...readdirSync(srcDir).map((f) => statSync(join(srcDir, f)).mtimeMs));
  if (existsSync(built) && existsSync(join(repo, 'visualizer/dist/index.html')) && statSync(built).mtimeMs >= newest) return;
  execFileSync(process.execPath, [join(repo, 'visualizer/build.mjs')], { cwd: repo, stdio: 'inherit' });
}

const clientMachine = createMachine({ id: 'client', initial: 'connected', states: { connected: { on: { LOCK: {} } } } });

describe.skipIf(!hasChromium && !inCi)('visualizer page in Chromium', () => {
  let hub: InspectionHub;
  let server: InspectServer;
  let browser: Browser;
  let page: Page;
  let dir: string;
  let tracePath: string;
  let recorder: TraceRecorder;
  let volume: Actor<typeof demoVolumeMachine>;
  let lock: Actor<typeof demoLockMachine>;
  let clients: Actor<typeof clientMachine>[] = [];
  const failedRequests: string[] = [];

  const actorState = (id: string) => page.locator(`[data-actor-id="${id}"] [data-state]`);
  const activePaths = () => page.locator('[data-testid="chart"] g[data-active="true"]').evaluateAll(
    (nodes) => nodes.map((n) => n.getAttribute('data-state-path')).sort());

  beforeAll(async () => {
    if (!hasChromium) throw new Error(`the visualizer browser test needs ${CHROMIUM} in CI: install the chromium package`);
    ensurePageBuilt();
    dir = await mkdtemp(join(tmpdir(), 'volwarden-browser-'));
    tracePath = join(dir, 'trace.jsonl');
    hub = new InspectionHub();
    hub.registerMachine(demoVolumeMachine);
    hub.registerMachine(demoLockMachine);
    recorder = await hub.record(tracePath);
    volume = createActor(demoVolumeMachine, { id: 'volume:path:/demo', inspect: hub.observer, input: { id: 'path:/demo', root: '/demo' } }).start();
    lock = createActor(demoLockMachine, { id: 'lock:path:/demo', inspect: hub.observer }).start();
    // Ids that a plain string sort and a substring filter both get wrong.
    clients = ['client:10', 'client:2', 'client:1'].map((id) => createActor(clientMachine, { id, inspect: hub.observer }).start());
    server = await startInspectServer(hub, { port: 0 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1000, height: 650 } });
    page.on('response', (response) => {
      if (response.status() >= 400) failedRequests.push(`${response.status()} ${response.url()}`);
    });
    await page.goto(server.url);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await hub?.close();
    volume?.stop();
    lock?.stop();
    for (const client of clients) client.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('lists each actor under its kind with its id, root and state', async () => {
    await expect.poll(() => actorState('volume:path:/demo').textContent()).toBe('idle');
    const row = page.locator('[data-actor-id="volume:path:/demo"]');
    expect(await row.locator('[data-testid="actor-label"]').textContent()).toBe('path:/demo');
    expect(await row.locator('[data-testid="actor-root"]').textContent()).toBe('/demo');
    expect(await page.locator('[data-testid="group-volume"] [data-actor-id="volume:path:/demo"]').count()).toBe(1);
    expect(await page.locator('[data-testid="group-lock"] [data-actor-id="lock:path:/demo"] [data-state]').textContent()).toBe('unlocked');
    expect(await page.locator('[data-testid="connection"]').getAttribute('data-status')).toBe('connected');
  });

  it('loads without a failed request (no favicon 404)', async () => {
    await expect.poll(() => actorState('client:1').textContent()).toBe('connected');
    expect(failedRequests).toEqual([]);
  });

  it('lists ids with their numbers in numeric order', async () => {
    await expect.poll(() => page.locator('[data-testid="group-client"] [data-testid="actor"]').evaluateAll(
      (rows) => rows.map((r) => r.getAttribute('data-actor-id')))).toEqual(['client:1', 'client:2', 'client:10']);
  });

  it('draws the selected actor\'s statechart with the active state highlighted and descriptions as tooltips', async () => {
    await page.locator('[data-actor-id="volume:path:/demo"] button').click();
    await expect.poll(activePaths).toEqual(['idle']);
    const idle = page.locator('[data-testid="chart"] g[data-state-path="idle"]');
    expect(await idle.locator('title').textContent()).toContain('Caches are fresh; waiting for changes');
    const busy = page.locator('[data-testid="chart"] g[data-state-path="busy"]');
    expect(await busy.getAttribute('data-state-type')).toBe('compound');
    const change = page.locator('[data-testid="chart"] g.transition[data-event="CHANGE"][data-source="idle"]');
    expect(await change.locator('text').textContent()).toBe('CHANGE');
    expect(await change.locator('title').textContent()).toBe('CHANGE — A file under the root changed');
    expect(await page.locator('[data-testid="chart"] g.transition[data-source="busy.settling"][data-target="busy.checking"] text').textContent()).toBe('after 60s');
  });

  it('lists the machine\'s own transitions beside the chart instead of drawing them as edges', async () => {
    const legend = page.locator('[data-testid="chart-legend"]');
    await expect.poll(() => legend.isVisible()).toBe(true);
    expect(await legend.locator('[data-testid="machine-transition"]').evaluateAll((items) => items.map((i) => i.textContent))).toEqual(['REMOVE → gone']);
    expect(await legend.locator('[data-testid="machine-transition"]').getAttribute('title')).toBe('REMOVE → gone — The volume disappeared');
    expect(await page.locator('[data-testid="chart"] g.transition[data-event~="REMOVE"]').count()).toBe(0);
  });

  it('updates the state text and the highlighted node live when an event arrives', async () => {
    volume.send({ type: 'CHANGE' });
    await expect.poll(() => actorState('volume:path:/demo').textContent()).toBe('busy.settling');
    await expect.poll(activePaths).toEqual(['busy', 'busy.settling']);
    expect(await page.locator('[data-testid="chart-state"]').textContent()).toBe('busy.settling');
  });

  it('logs events with type, source, target and time, filterable by actor', async () => {
    lock.send({ type: 'LOCK' });
    for (const client of clients) client.send({ type: 'LOCK' });
    await expect.poll(() => page.locator('[data-testid="log-row"][data-type="LOCK"][data-target="lock:path:/demo"]').count()).toBe(1);
    const row = page.locator('[data-testid="log-row"][data-type="CHANGE"]');
    expect(await row.locator('.target').textContent()).toBe('volume:path:/demo');
    expect(await row.locator('.source').textContent()).toBe('—');
    expect(await row.locator('.time').textContent()).toMatch(/^\d\d:\d\d:\d\d\.\d{3}$/);
    await page.locator('[data-testid="log-filter"]').fill('lock:path:/demo');
    await expect.poll(() => page.locator('[data-testid="log-row"]').evaluateAll(
      (rows) => rows.every((r) => r.getAttribute('data-target') === 'lock:path:/demo' || r.getAttribute('data-source') === 'lock:path:/demo'))).toBe(true);
    expect(await page.locator('[data-testid="log-row"][data-type="CHANGE"]').count()).toBe(0);
    // A whole id matches that actor only: client:1 is not client:10.
    await page.locator('[data-testid="log-filter"]').fill('client:1');
    await expect.poll(() => page.locator('[data-testid="log-row"]').evaluateAll(
      (rows) => [...new Set(rows.map((r) => r.getAttribute('data-target')))])).toEqual(['client:1']);
    await page.locator('[data-testid="log-filter"]').fill('client:');
    await expect.poll(() => page.locator('[data-testid="log-row"]').evaluateAll(
      (rows) => [...new Set(rows.map((r) => r.getAttribute('data-target')))].sort())).toEqual(['client:1', 'client:10', 'client:2']);
    await page.locator('[data-testid="log-filter"]').fill('');
    await expect.poll(() => page.locator('[data-testid="log-row"][data-type="CHANGE"]').count()).toBe(1);
  });

  it('says when the log shows only its newest rows', async () => {
    for (let i = 0; i < 600; i += 1) volume.send({ type: 'PING' });
    await expect.poll(() => page.locator('[data-testid="log-count"]').textContent()).toMatch(/^last 500 of \d+ events$/);
    expect(await page.locator('[data-testid="log-row"]').count()).toBe(500);
  });

  it('replays a recorded trace step by step with the same views', async () => {
    await recorder.close();
    const lines = (await readFile(tracePath, 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l) as InspectRecord);
    const steps = lines.length - 1;
    const settlingStep = lines.findIndex((r) => r.kind === 'actor' && r.actor.id === 'volume:path:/demo' && typeof r.actor.state === 'object');
    expect(settlingStep).toBeGreaterThan(1);

    // The page opens the trace where its first actor appears, not at the empty step 0.
    const firstActorStep = lines.findIndex((r) => r.kind === 'actor' || (r.kind === 'actors' && r.actors.length > 0));
    expect(firstActorStep).toBeGreaterThan(0);
    await page.locator('[data-testid="trace-input"]').setInputFiles(tracePath);
    await expect.poll(() => page.locator('[data-testid="mode"]').textContent()).toBe('replay: trace.jsonl');
    await expect.poll(() => page.locator('[data-testid="trace-position"]').textContent()).toMatch(new RegExp(`^step ${firstActorStep} / ${steps} `));
    expect(await page.locator('[data-testid="actor"]').count()).toBeGreaterThan(0);
    expect(await page.locator('[data-testid="chart-title"]').textContent()).not.toContain('is gone');

    await page.locator('[data-testid="trace-slider"]').fill(String(settlingStep - 1));
    await expect.poll(() => actorState('volume:path:/demo').textContent()).toBe('idle');
    await page.locator('[data-actor-id="volume:path:/demo"] button').click();
    await expect.poll(activePaths).toEqual(['idle']);

    await page.locator('[data-testid="trace-forward"]').click();
    await expect.poll(() => actorState('volume:path:/demo').textContent()).toBe('busy.settling');
    await expect.poll(activePaths).toEqual(['busy', 'busy.settling']);
    expect(await page.locator('[data-testid="trace-position"]').textContent()).toContain(`step ${settlingStep} / ${steps}`);

    // The event is logged one step before the state it causes.
    await page.locator('[data-testid="trace-back"]').click();
    await expect.poll(() => actorState('volume:path:/demo').textContent()).toBe('idle');
    expect(await page.locator('[data-testid="log-row"][data-type="CHANGE"]').count()).toBe(1);
    await page.locator('[data-testid="trace-back"]').click();
    await expect.poll(() => page.locator('[data-testid="log-row"][data-type="CHANGE"]').count()).toBe(0);

    await page.locator('[data-testid="trace-live"]').click();
    await expect.poll(() => page.locator('[data-testid="mode"]').textContent()).toBe('live view');
    await expect.poll(() => actorState('volume:path:/demo').textContent()).toBe('busy.settling');
  });

  it('shows a clear message for a malformed or truncated trace and keeps the page usable', async () => {
    await page.locator('[data-testid="trace-input"]').setInputFiles({ name: 'junk.jsonl', mimeType: 'application/json', buffer: Buffer.from('this is not json\n') });
    const error = page.locator('[data-testid="error"]');
    await expect.poll(() => error.isVisible()).toBe(true);
    expect(await error.textContent()).toMatch(/^junk\.jsonl is not a usable trace: line 1 is not valid JSON/);

    const header = (await readFile(tracePath, 'utf8')).split('\n')[0];
    await page.locator('[data-testid="trace-input"]').setInputFiles({ name: 'cut.jsonl', mimeType: 'application/json', buffer: Buffer.from(`${header.slice(0, 50)}`) });
    await expect.poll(() => error.textContent()).toBe('cut.jsonl is not a usable trace: line 1 is cut off: the trace looks truncated (was the daemon still writing it?)');
    expect(await page.locator('[data-testid="mode"]').textContent()).toBe('live view');
    expect(await actorState('volume:path:/demo').textContent()).toBe('busy.settling');
  });

  it('loads a trace whose last line was cut off, with a note saying what was left out', async () => {
    const lines = (await readFile(tracePath, 'utf8')).trimEnd().split('\n');
    const cut = `${lines.slice(0, -1).join('\n')}\n${lines.at(-1)!.slice(0, 25)}`;
    await page.locator('[data-testid="trace-input"]').setInputFiles({ name: 'killed.jsonl', mimeType: 'application/json', buffer: Buffer.from(cut) });
    await expect.poll(() => page.locator('[data-testid="mode"]').textContent()).toBe('replay: killed.jsonl');
    expect(await page.locator('[data-testid="error"]').isVisible()).toBe(false);
    const notes = page.locator('[data-testid="notes"]');
    await expect.poll(() => notes.isVisible()).toBe(true);
    expect(await notes.textContent()).toBe(`killed.jsonl: the last line (${lines.length}) is cut off, as when the daemon is killed or the file is copied while it is written: showing the ${lines.length - 2} record(s) before it`);
    await page.locator('[data-testid="trace-slider"]').fill(String(lines.length - 2));
    await expect.poll(() => page.locator('[data-testid="trace-position"]').textContent()).toMatch(new RegExp(`^step ${lines.length - 2} / ${lines.length - 2} `));
    await page.locator('[data-testid="trace-live"]').click();
    await expect.poll(() => notes.isVisible()).toBe(false);
  });

  it('offers no way back to live when opened from a file, and opens a trace at its first actor', async () => {
    const local = await browser.newPage({ viewport: { width: 1000, height: 650 } });
    try {
      await local.goto(pathToFileURL(join(repo, 'visualizer/dist/index.html')).href);
      await expect.poll(() => local.locator('[data-testid="connection"]').getAttribute('data-status')).toBe('unavailable');
      await local.locator('[data-testid="trace-input"]').setInputFiles(tracePath);
      await expect.poll(() => local.locator('[data-testid="actor"]').count()).toBeGreaterThan(0);
      expect(await local.locator('[data-testid="mode"]').textContent()).toBe('replay: trace.jsonl');
      expect(await local.locator('[data-testid="trace-live"]').isVisible()).toBe(false);
      expect(await local.locator('[data-testid="trace-live"]').isHidden()).toBe(true);
    } finally {
      await local.close();
    }
  });
});
