import { describe, expect, it } from 'vitest';
import { chartScale, containScale, prefersDown, zoomStep } from '../../visualizer/src/chart-zoom.js';

const pane = { width: 1100, height: 600 };

describe('chart zoom', () => {
  it('fits a wide chart to the pane\'s width and never enlarges a small one', () => {
    expect(chartScale('fit', { width: 2200, height: 500 }, pane)).toBe(0.5);
    expect(chartScale('fit', { width: 400, height: 100 }, pane)).toBe(1);
    // Taller than the pane: fitted to the width, the rest scrolls.
    expect(chartScale('fit', { width: 550, height: 3000 }, pane)).toBe(1);
    expect(chartScale(1, { width: 2200, height: 500 }, pane)).toBe(1);
    expect(chartScale(0.67, { width: 2200, height: 500 }, pane)).toBe(0.67);
  });

  it('zooms in and out on fixed steps from any scale, within 25 % and 200 %', () => {
    expect(zoomStep(0.42, 1)).toBe(0.5);
    expect(zoomStep(0.42, -1)).toBe(0.33);
    expect(zoomStep(1, 1)).toBe(1.25);
    expect(zoomStep(1, -1)).toBe(0.8);
    expect(zoomStep(2, 1)).toBe(2);
    expect(zoomStep(0.25, -1)).toBe(0.25);
  });

  it('says how large a chart can be drawn whole', () => {
    expect(containScale({ width: 2200, height: 300 }, pane)).toBe(0.5);
    expect(containScale({ width: 500, height: 1200 }, pane)).toBe(0.5);
    expect(containScale({ width: 10, height: 10 }, pane)).toBe(1);
  });

  it('lays a long chain out top to bottom only in a pane where that draws it clearly larger', () => {
    const right = { width: 1100, height: 150 };
    const down = { width: 370, height: 460 };
    expect(prefersDown(right, down, { width: 700, height: 320 })).toBe(true);
    expect(prefersDown(right, down, { width: 1100, height: 600 })).toBe(false);
    // A big chart that is wide either way stays left to right.
    expect(prefersDown({ width: 1674, height: 530 }, { width: 1476, height: 821 }, { width: 1080, height: 530 })).toBe(false);
  });
});
