/** How the chart is scaled: fitted to the pane, or a fixed factor (1 is 100 %). */
export type Zoom = 'fit' | number;

/** A width and height in px. */
export interface Size {
  width: number;
  height: number;
}

const STEPS = [0.25, 0.33, 0.5, 0.67, 0.8, 1, 1.25, 1.5, 2];
// Lay out top to bottom only when that shows the chart this much larger than left to right does.
const DOWN_ADVANTAGE = 1.25;
// Fitted to the pane's width, a chart may run this far below the pane: scrolling down a little beats tiny text.
const TALLER_THAN_PANE = 1.5;

/**
 * The factor the chart is drawn at. `fit` makes it as wide as the pane (taller charts scroll
 * down) and never enlarges it past 100 %, so a small chart keeps its natural size.
 *
 * @example
 * chartScale('fit', { width: 2200, height: 600 }, { width: 1100, height: 600 }); // 0.5
 */
export function chartScale(zoom: Zoom, chart: Size, pane: Size): number {
  if (zoom !== 'fit') return zoom;
  if (chart.width <= 0 || pane.width <= 0) return 1;
  return Math.min(1, pane.width / chart.width);
}

/**
 * The next zoom factor in or out from `scale`, on fixed steps from 25 % to 200 %.
 *
 * @example
 * zoomStep(0.42, 1);  // 0.5
 * zoomStep(0.42, -1); // 0.33
 */
export function zoomStep(scale: number, direction: 1 | -1): number {
  if (direction > 0) return STEPS.find((step) => step > scale + 0.001) ?? STEPS[STEPS.length - 1]!;
  return [...STEPS].reverse().find((step) => step < scale - 0.001) ?? STEPS[0]!;
}

/**
 * How large a chart of this size can be drawn whole in the pane (at most 1).
 *
 * @example
 * containScale({ width: 2200, height: 300 }, { width: 1100, height: 600 }); // 0.5
 */
export function containScale(chart: Size, pane: Size): number {
  if (chart.width <= 0 || chart.height <= 0) return 1;
  return Math.min(1, pane.width / chart.width, pane.height / chart.height);
}

/**
 * Whether a chart laid out top to bottom suits the pane better than left to right: only when
 * it can be drawn clearly larger (fitted to the width, running at most half a pane below it),
 * as a long chain of states in a narrow pane can.
 *
 * @example
 * prefersDown({ width: 1100, height: 150 }, { width: 370, height: 460 }, { width: 700, height: 320 }); // true
 */
export function prefersDown(right: Size, down: Size, pane: Size): boolean {
  return legibleScale(down, pane) > legibleScale(right, pane) * DOWN_ADVANTAGE;
}

function legibleScale(chart: Size, pane: Size): number {
  if (chart.width <= 0 || chart.height <= 0) return 1;
  return Math.min(1, pane.width / chart.width, (TALLER_THAN_PANE * pane.height) / chart.height);
}
