// The visualizer end to end on a real daemon process (SPEC §14): `daemon --inspect-port 0 --record`,
// a real lock client killed mid-hold, a real source write, the recorded trace replayed and cut, and
// `volwarden visualize` relaying a daemon started without --inspect-port.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActorInfo, InspectRecord } from '../../src/inspect/records.js';
import { shortTempDir } from '../adapters/socket-server.helpers.js';
import { CLI, runCli, startCli, type CliProcess } from '../cli/run-cli.js';
import { eventually, makeVolume } from '../integration/helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
  '--no-first-run', '--disable-component-update', '--disable-sync'];
const repo = fileURLToPath(new URL('../../', import.meta.url));
const hasChromium = existsSync(CHROMIUM);
const inCi = process.env.CI === 'true';
if (!hasChromium && !inCi) console.warn(`skipping the daemon visualizer browser test: ${CHROMIUM} is not installed (apt-get install chromium)`);

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

// Build the CLI and the page when missing or older than their sources, so the test never runs stale code.
function ensureBuilt(): void {
  if (!existsSync(CLI) || statSync(CLI).mtimeMs < newestMtime(join(repo, 'src'))) {
    execFileSync(process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: repo, stdio: 'inherit' });
  }
  const page = join(repo, 'visualizer/dist/app.js');
  if (!existsSync(page) || !existsSync(join(repo, 'visualizer/dist/index.html')) || statSync(page).mtimeMs < newestMtime(join(repo, 'visualizer/src'))) {
    execFileSync(process.execPath, [join(repo, 'visualizer/build.mjs')], { cwd: repo, stdio: 'inherit' });
  }
}

/** A `volwarden lock VOLUME -- sleep 60` in its own process group, so SIGKILL takes CLI and CMD at once. */
function holdLock(socket: string, volume: string): ChildProcess {
  return spawn(process.execPath, [CLI, 'lock', '--socket', socket, volume, '--', 'sleep', '60'], {
    env: { ...process.env, VOLWARDEN_SOCKET: '' },
    stdio: 'ignore',
    detached: true,
  });
}

function killGroup(child: ChildProcess | undefined): void {
  if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

async function launchBrowser(): Promise<Browser> {
  if (!hasChromium) throw new Error(`the visualizer browser test needs ${CHROMIUM} in CI: install the chromium package`);
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

const actorState = (page: Page, id: string) => page.locator(`[data-actor-id="${id}"] [data-state]`);
const stateText = (page: Page, id: string) => actorState(page, id).textContent({ timeout: 1000 }).catch(() => null);

/** Which ends of an actor row's label can be seen: ids differ at the end, so a long one is cut at its start. */
const labelEnds = (page: Page, id: string) => page.locator(`[data-actor-id="${id}"] [data-testid="actor-label"]`).evaluate((label) => {
  const text = label.querySelector('bdi')?.firstChild ?? label.firstChild!;
  const box = label.getBoundingClientRect();
  const charBox = (index: number) => {
    const range = document.createRange();
    range.setStart(text, index);
    range.setEnd(text, index + 1);
    return range.getBoundingClientRect();
  };
  const length = text.textContent!.length;
  const [first, last] = [charBox(0), charBox(length - 1)];
  return {
    overflows: label.scrollWidth > label.clientWidth,
    startVisible: first.left >= box.left - 0.5,
    endVisible: last.right <= box.right + 0.5 && last.left >= box.left,
  };
});

/** Whether the innermost active state's box is inside the chart pane's visible area. */
const activeInView = (page: Page) => page.evaluate(() => {
  const chart = document.querySelector('[data-testid="chart"]')!.getBoundingClientRect();
  const active = [...document.querySelectorAll('[data-testid="chart"] g[data-active="true"] .box')].at(-1)?.getBoundingClientRect();
  return active !== undefined && active.left >= chart.left && active.right <= chart.right && active.top >= chart.top && active.bottom <= chart.bottom;
});

/** The drawn chart: its size against the pane's, and where its states sit. */
const chartGeometry = (page: Page) => page.evaluate(() => {
  const pane = document.querySelector<HTMLElement>('[data-testid="chart"]')!;
  const svg = pane.querySelector('svg[data-testid="statechart"]')!;
  const states = [...svg.querySelectorAll('g[data-state-path]')]
    .filter((g) => !g.getAttribute('data-state-path')!.includes('.'))
    .map((g) => {
      const box = g.querySelector('.box')!.getBoundingClientRect();
      return { path: g.getAttribute('data-state-path')!, left: box.left, top: box.top };
    });
  return {
    drawnWidth: svg.getBoundingClientRect().width,
    naturalWidth: Number(svg.getAttribute('data-width')),
    paneWidth: pane.clientWidth,
    direction: svg.getAttribute('data-direction'),
    states,
  };
});

describe.skipIf(!hasChromium && !inCi)('visualizer page on a real daemon (--inspect-port 0 --record)', () => {
  // A rebuild that lasts long enough to be drawn: the page renders once per animation frame, and a
  // 10 ms helper can come and go between two frames (the daemon rebuilt; the page showed idle).
  const vol = makeVolume({ script: '#!/bin/sh\nsleep 0.3\ncat src/*.txt > cache/out.txt\n' });
  const tmp = shortTempDir();
  const socket = join(tmp.dir, 'c.sock');
  const tracePath = join(tmp.dir, 'trace.jsonl');
  const volumeActor = `volume:path:${vol.root}`;
  const lockActor = `lock:path:${vol.root}`;
  let daemon: CliProcess;
  let url: string;
  let holder: ChildProcess | undefined;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    ensureBuilt();
    browser = await launchBrowser();
    daemon = startCli([
      'daemon', '--watch', vol.root, '--socket', socket, '--status-socket', join(tmp.dir, 's.sock'),
      '--state-dir', join(tmp.dir, 'state'), '--settle-ms', '300', '--inspect-port', '0', '--record', tracePath, '--log-level', 'warn',
    ]);
    const banner = await eventually(() => daemon.stderr, (text) => text.includes('\n') || daemon.child.exitCode !== null);
    const found = /visualizer (http:\/\/127\.0\.0\.1:(\d+)\/)$/m.exec(banner);
    if (found === null) throw new Error(`no visualizer URL in the daemon's banner: ${banner}`);
    expect(Number(found[2])).toBeGreaterThan(0);
    url = found[1]!;
    page = await browser.newPage({ viewport: { width: 1000, height: 650 } });
    await page.goto(url);
  }, 60_000);

  afterAll(async () => {
    killGroup(holder);
    await browser?.close();
    if (daemon !== undefined && daemon.child.exitCode === null) daemon.child.kill('SIGKILL');
    vol.cleanup();
    tmp.cleanup();
  });

  it('lists the volume actor idle under its id and root, and its lock unlocked', async () => {
    await expect.poll(() => stateText(page, volumeActor), { timeout: 20_000 }).toBe('idle');
    const row = page.locator(`[data-testid="group-volume"] [data-actor-id="${volumeActor}"]`);
    expect(await row.locator('[data-testid="actor-label"]').textContent()).toBe(`path:${vol.root}`);
    expect(await row.locator('[data-testid="actor-root"]').textContent()).toBe(vol.root);
    expect(await page.locator(`[data-testid="group-lock"] [data-actor-id="${lockActor}"] [data-state]`).textContent()).toBe('unlocked');
    expect(await page.locator('[data-testid="connection"]').getAttribute('data-status')).toBe('connected');
  });

  it('shows the end of a long actor id, where ids differ, with the whole id as the tooltip', async () => {
    await expect.poll(() => stateText(page, lockActor)).toBe('unlocked');
    const ends = await labelEnds(page, lockActor);
    expect(ends.endVisible).toBe(true);
    if (ends.overflows) expect(ends.startVisible).toBe(false);
    expect(await page.locator(`[data-actor-id="${lockActor}"] button`).getAttribute('title')).toContain(lockActor);
  });

  it('shows the lock locked while a client process holds it, and unlocked once that client is killed', async () => {
    holder = holdLock(socket, vol.root);
    await expect.poll(() => stateText(page, lockActor), { timeout: 15_000 }).toBe('locked');
    expect(await page.locator('[data-testid="group-client"] [data-testid="actor"]').count()).toBeGreaterThanOrEqual(1);
    const clientId = await page.locator('[data-testid="group-client"] [data-testid="actor"]').last().getAttribute('data-actor-id');
    expect(clientId).toMatch(/^client:\d+$/);
    expect(await page.locator(`[data-actor-id="${lockActor}"] [data-testid="actor-detail"]`).textContent()).toMatch(new RegExp(`^held by ${clientId}\\b`));
    // The runtime sends the request from outside any actor: the log names the client from the request itself.
    await expect.poll(() => page.locator(`[data-testid="log-row"][data-type="LOCK_REQUESTED"][data-target="${lockActor}"]`).last().getAttribute('data-source')).toBe(clientId);

    await page.locator(`[data-actor-id="${volumeActor}"] button`).click();
    await expect.poll(() => page.locator('[data-testid="chart"] g[data-state-path="loading"]').count()).toBe(1);
    await expect.poll(() => page.locator('[data-testid="chart"] g[data-active="true"]').count()).toBeGreaterThan(0);
    // The volume's chart is bigger than the pane: the page scrolls its active state into view.
    await expect.poll(() => activeInView(page)).toBe(true);
    if (process.env.UPDATE_SCREENSHOT === '1') {
      // The README's picture: the held lock's statechart, which fits the pane at 1000x650.
      await page.locator(`[data-actor-id="${lockActor}"] button`).click();
      await expect.poll(() => page.locator('[data-testid="chart"] g[data-active="true"]').evaluateAll(
        (nodes) => nodes.map((n) => n.getAttribute('data-state-path')))).toEqual(['locked']);
      await mkdir(join(repo, 'docs'), { recursive: true });
      await page.screenshot({ path: join(repo, 'docs/visualizer.png') });
    }
    killGroup(holder);
    await expect.poll(() => stateText(page, lockActor), { timeout: 15_000 }).toBe('unlocked');
    // The holder's death counts as a failure and starts a check: let it finish before the next test.
    await expect.poll(() => stateText(page, volumeActor), { timeout: 20_000 }).toBe('idle');
  });

  it('shows a source write pass through settling into rebuilding, then idle again', async () => {
    await page.evaluate((id) => {
      const seen: string[] = [];
      (window as unknown as { seenStates: string[] }).seenStates = seen;
      const read = () => {
        const text = document.querySelector(`[data-actor-id="${id}"] [data-state]`)?.textContent ?? null;
        if (text !== null && seen[seen.length - 1] !== text) seen.push(text);
      };
      new MutationObserver(read).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
      read();
    }, volumeActor);
    appendFileSync(join(vol.root, 'src', 'a.txt'), 'changed\n');
    // Rebuilding is a compound state: the page shows `rebuilding.running`.
    const isRebuilding = (state: string) => state.split('.')[0] === 'rebuilding';
    const seenStates = () => page.evaluate(() => (window as unknown as { seenStates: string[] }).seenStates.slice());
    await expect.poll(async () => {
      const seen = await seenStates();
      return seen.some(isRebuilding) && seen[seen.length - 1] === 'idle';
    }, { timeout: 20_000 }).toBe(true).catch(async (err: unknown) => {
      throw new Error(`states seen: ${(await seenStates()).join(' → ')}`, { cause: err });
    });
    const seen = await seenStates();
    expect(seen[0]).toBe('idle');
    expect(seen.indexOf('settling')).toBeGreaterThan(0);
    expect(seen.findIndex(isRebuilding)).toBeGreaterThan(seen.indexOf('settling'));
  });

  it('fits the volume\'s statechart to the pane, reading from its initial state, with 100 % a click away', async () => {
    await page.locator(`[data-actor-id="${volumeActor}"] button`).click();
    await expect.poll(() => page.locator('[data-testid="chart-actor"]').textContent()).toBe(volumeActor);
    await expect.poll(() => page.locator('[data-testid="chart"] g[data-state-path="loading"]').count()).toBe(1);
    // The volume's chart is bigger than the pane: it is fitted to the pane's width, and reads from its initial state on.
    const fitted = await chartGeometry(page);
    expect(fitted.drawnWidth).toBeLessThanOrEqual(fitted.paneWidth);
    expect(fitted.drawnWidth).toBeLessThan(fitted.naturalWidth);
    expect(Number((await page.locator('[data-testid="zoom-level"]').textContent())!.replace(' %', ''))).toBeLessThan(100);
    const loading = fitted.states.find((st) => st.path === 'loading')!;
    const along = fitted.direction === 'DOWN' ? 'top' : 'left';
    for (const other of fitted.states.filter((st) => st.path !== 'loading')) expect(loading[along], other.path).toBeLessThan(other[along]);
    // Transitions the volume takes from any state are listed, not drawn across the chart.
    expect(await page.locator('[data-testid="machine-transition"]').evaluateAll((items) => items.map((i) => i.textContent))).toEqual(
      expect.arrayContaining(['MANIFEST_CHANGED → loading', 'ROOT_REMOVED → gone', 'VOLUME_REMOVED → gone']));
    expect(await page.locator('[data-testid="chart"] g.transition[data-event~="ROOT_REMOVED"]').count()).toBe(0);
    // The active state stays in view, fitted or at 100 %.
    await expect.poll(() => activeInView(page)).toBe(true);
    await page.locator('[data-testid="zoom-actual"]').click();
    await expect.poll(async () => (await chartGeometry(page)).drawnWidth).toBe(fitted.naturalWidth);
    expect(await page.locator('[data-testid="zoom-level"]').textContent()).toBe('100 %');
    await expect.poll(() => activeInView(page)).toBe(true);
    await page.locator('[data-testid="zoom-in"]').click();
    await expect.poll(() => page.locator('[data-testid="zoom-level"]').textContent()).toBe('125 %');
    await page.locator('[data-testid="zoom-fit"]').click();
    await expect.poll(async () => (await chartGeometry(page)).drawnWidth).toBe(fitted.drawnWidth);
  });

  it('stops on SIGTERM with exit 0 and its recorded trace replays step by step in the page', async () => {
    daemon.child.kill('SIGTERM');
    expect((await daemon.done).code).toBe(0);
    await expect.poll(() => page.locator('[data-testid="connection"]').getAttribute('data-status')).not.toBe('connected');

    const records = (await readFile(tracePath, 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l) as InspectRecord);
    const isVolumeIn = (state: string) => (r: InspectRecord) => r.kind === 'actor' && r.actor.id === volumeActor && r.actor.state === state;
    const settlingStep = records.findIndex(isVolumeIn('settling'));
    expect(settlingStep).toBeGreaterThan(1);
    expect(records.some((r) => r.kind === 'actor' && r.actor.id === lockActor && r.actor.state === 'locked')).toBe(true);
    const before = records.slice(0, settlingStep).filter((r): r is InspectRecord & { kind: 'actor'; actor: ActorInfo } => r.kind === 'actor' && r.actor.id === volumeActor).at(-1);
    expect(before?.actor.state).toBe('idle');

    // Step 0 holds only the definitions: the page opens where the daemon's actors first appear.
    const firstActorStep = records.findIndex((r) => (r.kind === 'actors' && r.actors.length > 0) || r.kind === 'actor');
    await page.locator('[data-testid="trace-input"]').setInputFiles(tracePath);
    await expect.poll(() => page.locator('[data-testid="mode"]').textContent()).toBe('replay: trace.jsonl');
    await expect.poll(() => page.locator('[data-testid="trace-position"]').textContent()).toMatch(new RegExp(`^step ${firstActorStep} / ${records.length - 1} `));
    expect(await page.locator('[data-testid="actor"]').count()).toBeGreaterThan(0);
    expect(await page.locator('[data-testid="chart-title"]').textContent()).not.toContain('is gone');

    await page.locator('[data-testid="trace-slider"]').fill(String(settlingStep - 1));
    await expect.poll(() => stateText(page, volumeActor)).toBe('idle');
    await page.locator('[data-testid="trace-forward"]').click();
    await expect.poll(() => stateText(page, volumeActor)).toBe('settling');
    expect(await page.locator('[data-testid="trace-position"]').textContent()).toContain(`step ${settlingStep} / ${records.length - 1}`);
    await page.locator('[data-testid="trace-back"]').click();
    await expect.poll(() => stateText(page, volumeActor)).toBe('idle');

    await page.locator('[data-testid="trace-slider"]').fill(String(records.length - 1));
    await expect.poll(() => page.locator('[data-testid="trace-position"]').textContent()).toContain(`step ${records.length - 1} / ${records.length - 1}`);
    expect(await page.locator('[data-testid="trace-forward"]').isDisabled()).toBe(true);
  });

  it('replays the recording cut mid-line up to the cut with a note, rejects it corrupted, and keeps the replay it had', async () => {
    const text = await readFile(tracePath, 'utf8');
    const lines = text.split('\n');
    const cutAt = Math.floor(lines.length / 2);
    const cutPath = join(tmp.dir, 'cut.jsonl');
    await writeFile(cutPath, `${lines.slice(0, cutAt).join('\n')}\n${lines[cutAt]!.slice(0, Math.floor(lines[cutAt]!.length / 2))}`);
    await page.locator('[data-testid="trace-input"]').setInputFiles(cutPath);
    await expect.poll(() => page.locator('[data-testid="mode"]').textContent()).toBe('replay: cut.jsonl');
    const notes = page.locator('[data-testid="notes"]');
    await expect.poll(() => notes.textContent()).toBe(`cut.jsonl: the last line (${cutAt + 1}) is cut off, as when the daemon is killed or the file is copied while it is written: showing the ${cutAt - 1} record(s) before it`);
    await page.locator('[data-testid="trace-slider"]').fill(String(cutAt));
    await expect.poll(() => page.locator('[data-testid="trace-position"]').textContent()).toMatch(new RegExp(`^step ${cutAt - 1} / ${cutAt - 1} `));
    const error = page.locator('[data-testid="error"]');
    expect(await error.isVisible()).toBe(false);

    const corruptPath = join(tmp.dir, 'corrupt.jsonl');
    await writeFile(corruptPath, [...lines.slice(0, 3), lines[3]!.slice(0, 20), ...lines.slice(4)].join('\n'));
    await page.locator('[data-testid="trace-input"]').setInputFiles(corruptPath);
    await expect.poll(() => error.textContent()).toMatch(/^corrupt\.jsonl is not a usable trace: line 4 is not valid JSON/);
    expect(await page.locator('[data-testid="mode"]').textContent()).toBe('replay: cut.jsonl');
  });
});

describe.skipIf(!hasChromium && !inCi)('volwarden visualize on a daemon started without --inspect-port', () => {
  const vol = makeVolume();
  const tmp = shortTempDir();
  const socket = join(tmp.dir, 'c.sock');
  const statusSocket = join(tmp.dir, 's.sock');
  const volumeActor = `volume:path:${vol.root}`;
  const lockActor = `lock:path:${vol.root}`;
  let daemon: CliProcess;
  let visualize: CliProcess;
  let url: string;
  let holder: ChildProcess | undefined;
  let browser: Browser;

  beforeAll(async () => {
    ensureBuilt();
    browser = await launchBrowser();
    daemon = startCli([
      'daemon', '--watch', vol.root, '--socket', socket, '--status-socket', statusSocket,
      '--state-dir', join(tmp.dir, 'state'), '--settle-ms', '300', '--log-level', 'warn',
    ]);
    const banner = await eventually(() => daemon.stderr, (text) => text.includes('\n') || daemon.child.exitCode !== null);
    expect(banner).not.toContain('visualizer');
    visualize = startCli(['visualize', '--port', '0', '--socket', socket]);
    const out = await eventually(() => visualize.stdout, (text) => text.includes('\n') || visualize.child.exitCode !== null);
    const found = /^visualizer (http:\/\/127\.0\.0\.1:(\d+)\/)\n$/.exec(out);
    if (found === null) throw new Error(`visualize printed no URL: ${out} ${visualize.stderr}`);
    expect(Number(found[2])).toBeGreaterThan(0);
    url = found[1]!;
  }, 60_000);

  afterAll(async () => {
    killGroup(holder);
    await browser?.close();
    if (visualize !== undefined && visualize.child.exitCode === null) visualize.child.kill('SIGKILL');
    if (daemon !== undefined && daemon.child.exitCode === null) daemon.child.kill('SIGKILL');
    vol.cleanup();
    tmp.cleanup();
  });

  it('serves the daemon\'s actors at /api/actors', async () => {
    const actors = await eventually(
      async () => ((await (await fetch(`${url}api/actors`)).json()) as { actors: ActorInfo[] }).actors,
      (list) => list.some((a) => a.id === volumeActor && a.state === 'idle'),
      20_000,
    );
    expect(actors.find((a) => a.id === volumeActor)).toMatchObject({ kind: 'volume', context: { id: `path:${vol.root}`, root: vol.root } });
    const { machines } = (await (await fetch(`${url}api/machines`)).json()) as { machines: { id: string }[] };
    expect(machines.map((m) => m.id)).toEqual(expect.arrayContaining(['warden', 'volume', 'lock']));
  });

  it('lists the volume in the page and follows the lock live through the relay', async () => {
    const page = await browser.newPage({ viewport: { width: 1000, height: 650 } });
    try {
      await page.goto(url);
      await expect.poll(() => stateText(page, volumeActor), { timeout: 20_000 }).toBe('idle');
      expect(await page.locator('[data-testid="connection"]').getAttribute('data-status')).toBe('connected');
      holder = holdLock(socket, vol.root);
      await expect.poll(() => stateText(page, lockActor), { timeout: 15_000 }).toBe('locked');
      killGroup(holder);
      await expect.poll(() => stateText(page, lockActor), { timeout: 15_000 }).toBe('unlocked');
    } finally {
      await page.close();
    }
  });

  it('exits 77 with one line on the status socket, which has no inspection stream (SPEC §9)', async () => {
    const refused = await runCli(['visualize', '--socket', statusSocket]);
    expect(refused.code).toBe(77);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toContain('the inspection stream needs the control socket');
  });

  it('exits 64 with one line when the port is taken, and 69 when no daemon answers', async () => {
    const port = new URL(url).port;
    const [taken, nobody] = await Promise.all([
      runCli(['visualize', '--port', port, '--socket', socket]),
      runCli(['visualize', '--socket', join(tmp.dir, 'nobody.sock')]),
    ]);
    expect(taken.code).toBe(64);
    expect(taken.stderr.trim().split('\n')).toHaveLength(1);
    expect(taken.stderr).toContain(`port ${port} is already in use: choose another with --port`);
    expect(taken.stdout).toBe('');
    expect(nobody.code).toBe(69);
    expect(nobody.stderr.trim().split('\n')).toHaveLength(1);
    expect(nobody.stderr).toMatch(/daemon not reachable/);
  });

  it('exits 69 with one line once the daemon stops, and 0 on Ctrl-C', async () => {
    const second = startCli(['visualize', '--socket', socket]);
    await eventually(() => second.stdout, (text) => text.includes('\n'));
    second.child.kill('SIGINT');
    expect((await second.done).code).toBe(0);

    daemon.child.kill('SIGTERM');
    expect((await daemon.done).code).toBe(0);
    const result = await visualize.done;
    expect(result.code).toBe(69);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/closed the connection/);
  });
});
