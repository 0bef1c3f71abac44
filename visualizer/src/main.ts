import ELK from 'elkjs/lib/elk.bundled.js';
import type { InspectRecord, MachineDefinition } from '../../src/inspect/records.js';
import { activePaths } from './active-states.js';
import { layOutChart, type ChartLayout } from './chart-layout.js';
import { chartScale, zoomStep, type Size, type Zoom } from './chart-zoom.js';
import { byTestId, h } from './dom.js';
import { formatTime } from './format.js';
import { connectLive, type ConnectionStatus } from './live-connection.js';
import { actorStateText, renderActorList } from './render-actors.js';
import { chartSize, highlightStates, renderChart, renderLegend, revealActive, scaleChart } from './render-chart.js';
import { logCountText, renderLog } from './render-log.js';
import { readTrace, TraceReplay } from './trace-reader.js';
import { applyRecord, emptyView, filterLog, findActor, groupActors, type ViewState } from './view-state.js';

interface Replay {
  name: string;
  replay: TraceReplay;
  step: number;
  view: ViewState;
  /** What the trace reader left out (a last line cut off). */
  note?: string;
}

// Everything the page knows lives in this one object, created once per page load.
const state = {
  live: emptyView(),
  replay: undefined as Replay | undefined,
  selectedId: null as string | null,
  filter: '',
  drawnDefinition: undefined as MachineDefinition | undefined,
  renderQueued: false,
  actorIdsKey: '',
  // Which actor and active states the chart was last scrolled to.
  revealedKey: '',
  zoom: 'fit' as Zoom,
  // A page opened from a file has no daemon to go back to.
  liveAvailable: window.location.protocol === 'http:' || window.location.protocol === 'https:',
};
const elk = new ELK();
const layouts = new WeakMap<MachineDefinition, Promise<ChartLayout>>();

const findElements = () => ({
  mode: byTestId('mode'),
  connection: byTestId('connection'),
  error: byTestId('error'),
  notes: byTestId('notes'),
  actors: byTestId('actor-list'),
  chartTitle: byTestId('chart-title'),
  chart: byTestId('chart'),
  legend: byTestId('chart-legend'),
  zoomOut: byTestId<HTMLButtonElement>('zoom-out'),
  zoomIn: byTestId<HTMLButtonElement>('zoom-in'),
  zoomFit: byTestId<HTMLButtonElement>('zoom-fit'),
  zoomActual: byTestId<HTMLButtonElement>('zoom-actual'),
  zoomLevel: byTestId('zoom-level'),
  log: byTestId('event-log'),
  logCount: byTestId('log-count'),
  filter: byTestId<HTMLInputElement>('log-filter'),
  actorIds: byTestId<HTMLDataListElement>('actor-ids'),
  traceInput: byTestId<HTMLInputElement>('trace-input'),
  back: byTestId<HTMLButtonElement>('trace-back'),
  forward: byTestId<HTMLButtonElement>('trace-forward'),
  slider: byTestId<HTMLInputElement>('trace-slider'),
  position: byTestId('trace-position'),
  toLive: byTestId<HTMLButtonElement>('trace-live'),
});
let el: ReturnType<typeof findElements>;

function currentView(): ViewState {
  return state.replay?.view ?? state.live;
}

function showError(message: string | null): void {
  el.error.hidden = message === null;
  el.error.textContent = message ?? '';
}

function scheduleRender(): void {
  if (state.renderQueued) return;
  state.renderQueued = true;
  requestAnimationFrame(() => {
    state.renderQueued = false;
    try {
      render();
    } catch (err) {
      showError(`the page could not draw this view: ${messageOf(err)}`);
    }
  });
}

function render(): void {
  const view = currentView();
  const groups = groupActors(view);
  const first = groups[0]?.actors[0];
  if (state.selectedId === null && first !== undefined) state.selectedId = first.id;
  renderActorList(el.actors, groups, state.selectedId, select);
  renderSelected(view);
  const actorIds = new Set(Object.values(view.actors).map((a) => a.id));
  const rows = filterLog(view.log, state.filter, actorIds);
  const shown = renderLog(el.log, rows);
  el.logCount.textContent = logCountText({ shown, matching: rows.length, total: view.log.length, filtered: state.filter.trim() !== '' });
  const notes: string[] = [];
  if (state.replay?.note !== undefined) notes.push(`${state.replay.name}: ${state.replay.note}`);
  if (view.notes.length > 0) notes.push(`Some records are missing: ${view.notes[view.notes.length - 1]}`);
  el.notes.hidden = notes.length === 0;
  el.notes.textContent = notes.join(' · ');
  updateActorIds(actorIds);
  renderReplayControls();
}

function renderSelected(view: ViewState): void {
  const actor = state.selectedId === null ? undefined : findActor(view, state.selectedId);
  if (actor === undefined) {
    el.chartTitle.replaceChildren(state.selectedId === null ? 'Select an actor' : `${state.selectedId} is gone`);
    if (state.selectedId === null) {
      el.chart.replaceChildren();
      renderLegend(el.legend, []);
      state.drawnDefinition = undefined;
      renderZoomControls();
    }
    return;
  }
  const stateText = actorStateText(actor);
  el.chartTitle.replaceChildren(
    h('span', { class: 'chart-actor', 'data-testid': 'chart-actor' }, actor.id),
    ' ',
    h('span', { class: 'chart-state', 'data-testid': 'chart-state', 'data-state': stateText }, stateText),
    actor.status === 'active' ? '' : h('span', { class: 'chart-status' }, ` (${actor.status})`),
  );
  const definition = actor.machineId === null ? undefined : view.machines[actor.machineId];
  if (definition === undefined) {
    state.drawnDefinition = undefined;
    renderLegend(el.legend, []);
    renderZoomControls();
    el.chart.replaceChildren(h('p', { class: 'empty' }, actor.machineId === null
      ? 'This actor is not a state machine (callback or promise logic): only its status is shown.'
      : `No definition for machine "${actor.machineId}" yet.`));
    return;
  }
  const active = activePaths(actor.state);
  if (state.drawnDefinition === definition) {
    highlightStates(el.chart, active);
    const revealKey = `${actor.sessionId} ${[...active].sort().join(' ')}`;
    if (revealKey !== state.revealedKey) {
      state.revealedKey = revealKey;
      revealActive(el.chart);
    }
    return;
  }
  state.drawnDefinition = definition;
  state.revealedKey = '';
  el.chart.replaceChildren(h('p', { class: 'empty' }, 'Laying out the statechart…'));
  renderLegend(el.legend, []);
  renderZoomControls();
  layoutOf(definition).then((layout) => {
    if (state.drawnDefinition !== definition) return;
    renderChart(el.chart, layout.laidOut, layout.input);
    renderLegend(el.legend, layout.input.machineTransitions);
    applyZoom();
    state.revealedKey = '';
    scheduleRender();
  }, (err: unknown) => {
    el.chart.replaceChildren(h('p', { class: 'empty' }, `The statechart could not be laid out: ${messageOf(err)}`));
  });
}

function layoutOf(definition: MachineDefinition): Promise<ChartLayout> {
  let layout = layouts.get(definition);
  if (layout === undefined) {
    layout = layOutChart(elk, definition, paneSize());
    layouts.set(definition, layout);
  }
  return layout;
}

// The room the chart has, inside the pane's padding and scrollbar gutter.
function paneSize(): Size {
  const style = getComputedStyle(el.chart);
  const padX = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
  const padY = parseFloat(style.paddingTop) + parseFloat(style.paddingBottom);
  return { width: Math.max(0, el.chart.clientWidth - padX), height: Math.max(0, el.chart.clientHeight - padY) };
}

// Draws the chart at the chosen zoom; in `fit` it follows the pane's width as the window resizes.
function applyZoom(): void {
  const size = chartSize(el.chart);
  if (size !== undefined) scaleChart(el.chart, chartScale(state.zoom, size, paneSize()));
  renderZoomControls();
}

function currentScale(): number | undefined {
  const size = chartSize(el.chart);
  return size === undefined ? undefined : chartScale(state.zoom, size, paneSize());
}

function setZoom(zoom: Zoom): void {
  state.zoom = zoom;
  applyZoom();
  revealActive(el.chart);
}

function renderZoomControls(): void {
  const scale = currentScale();
  const drawn = scale !== undefined;
  for (const button of [el.zoomOut, el.zoomIn, el.zoomFit, el.zoomActual]) button.disabled = !drawn;
  el.zoomFit.setAttribute('aria-pressed', String(state.zoom === 'fit'));
  el.zoomActual.setAttribute('aria-pressed', String(state.zoom === 1));
  el.zoomLevel.textContent = drawn ? `${Math.round(scale * 100)} %` : '';
}

function updateActorIds(actorIds: ReadonlySet<string>): void {
  const ids = [...actorIds].sort();
  const key = ids.join('\n');
  if (key === state.actorIdsKey) return;
  state.actorIdsKey = key;
  el.actorIds.replaceChildren(...ids.map((id) => h('option', { value: id })));
}

function select(actorId: string): void {
  state.selectedId = actorId;
  scheduleRender();
}

function setConnection(status: ConnectionStatus, detail?: string): void {
  el.connection.textContent = detail === undefined ? status : `${status}: ${detail}`;
  el.connection.setAttribute('data-status', status);
}

function onLiveRecords(records: InspectRecord[]): void {
  for (const record of records) applyRecord(state.live, record);
  if (state.replay === undefined) scheduleRender();
}

async function loadTrace(file: File): Promise<void> {
  let text: string;
  try {
    text = await file.text();
  } catch (err) {
    showError(`could not read ${file.name}: ${messageOf(err)}`);
    return;
  }
  const result = readTrace(text);
  if (!result.ok) {
    showError(`${file.name} is not a usable trace: ${result.error}`);
    return;
  }
  showError(null);
  const replay = new TraceReplay(result.trace);
  // Step 0 holds only the definitions: open where the trace's actors first appear.
  const step = replay.firstActorStep;
  state.replay = { name: file.name, replay, step, view: replay.viewAt(step), ...(result.note === undefined ? {} : { note: result.note }) };
  state.drawnDefinition = undefined;
  keepSelectionIn(state.replay.view);
  el.mode.textContent = `replay: ${file.name}`;
  el.mode.setAttribute('data-mode', 'replay');
  scheduleRender();
}

function goTo(step: number): void {
  const current = state.replay;
  if (current === undefined) return;
  const clamped = Math.max(0, Math.min(current.replay.lastStep, step));
  current.step = clamped;
  current.view = current.replay.viewAt(clamped);
  scheduleRender();
}

// A selection the new view does not have would only say "gone": start from its first actor instead.
function keepSelectionIn(view: ViewState): void {
  if (state.selectedId !== null && findActor(view, state.selectedId) === undefined) state.selectedId = null;
}

function backToLive(): void {
  state.replay = undefined;
  state.drawnDefinition = undefined;
  keepSelectionIn(state.live);
  el.mode.textContent = 'live view';
  el.mode.setAttribute('data-mode', 'live');
  el.traceInput.value = '';
  scheduleRender();
}

function renderReplayControls(): void {
  const current = state.replay;
  const inReplay = current !== undefined;
  el.back.disabled = !inReplay || current.step <= 0;
  el.forward.disabled = !inReplay || current.step >= current.replay.lastStep;
  el.slider.disabled = !inReplay;
  el.toLive.hidden = !inReplay || !state.liveAvailable;
  if (!inReplay) {
    el.position.textContent = '';
    el.slider.max = '0';
    el.slider.value = '0';
    return;
  }
  el.slider.max = String(current.replay.lastStep);
  el.slider.value = String(current.step);
  const record = current.replay.recordAt(current.step);
  el.position.textContent = `step ${current.step} / ${current.replay.lastStep}${record === undefined ? '' : ` · ${formatTime(record.t)} · ${describeRecord(record)}`}`;
}

function describeRecord(record: InspectRecord): string {
  switch (record.kind) {
    case 'event': return `${record.type} → ${record.target}`;
    case 'actor': return `${record.actor.id} is ${actorStateText(record.actor)}`;
    case 'removed': return `${record.id} removed`;
    case 'actors': return `${record.actors.length} actors`;
    case 'machine': return `machine ${record.machine.id}`;
    case 'machines': return `${record.machines.length} machines`;
    case 'dropped': return `${record.count} records missing`;
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function start(): void {
  el = findElements();
  window.addEventListener('error', (event) => showError(`unexpected error: ${event.message}`));
  window.addEventListener('unhandledrejection', (event) => showError(`unexpected error: ${messageOf(event.reason)}`));
  el.filter.addEventListener('input', () => {
    state.filter = el.filter.value;
    scheduleRender();
  });
  el.traceInput.addEventListener('change', () => {
    const file = el.traceInput.files?.[0];
    if (file !== undefined) void loadTrace(file);
  });
  el.back.addEventListener('click', () => goTo((state.replay?.step ?? 0) - 1));
  el.forward.addEventListener('click', () => goTo((state.replay?.step ?? 0) + 1));
  el.slider.addEventListener('input', () => goTo(Number(el.slider.value)));
  el.toLive.addEventListener('click', backToLive);
  el.zoomIn.addEventListener('click', () => setZoom(zoomStep(currentScale() ?? 1, 1)));
  el.zoomOut.addEventListener('click', () => setZoom(zoomStep(currentScale() ?? 1, -1)));
  el.zoomFit.addEventListener('click', () => setZoom('fit'));
  el.zoomActual.addEventListener('click', () => setZoom(1));
  new ResizeObserver(() => {
    if (state.zoom === 'fit') applyZoom();
  }).observe(el.chart);
  el.error.addEventListener('click', () => showError(null));
  document.addEventListener('keydown', (event) => {
    if (state.replay === undefined || event.target instanceof HTMLInputElement && event.target.type === 'text') return;
    if (event.key === 'ArrowLeft') goTo(state.replay.step - 1);
    if (event.key === 'ArrowRight') goTo(state.replay.step + 1);
  });
  connectLive(window.location, onLiveRecords, setConnection);
  scheduleRender();
}

try {
  start();
} catch (err) {
  document.body.prepend(h('div', { class: 'banner error', 'data-testid': 'fatal' }, `The visualizer could not start: ${messageOf(err)}`));
}
