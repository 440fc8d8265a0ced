import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { FileSensor, parseSampleLine } from './file-sensor.ts';
import { driftAt, DRIFT_FULL } from './sensor.ts';
import { binOf, WindowSummary } from './window-summary.ts';

const EDGES = [1, 2, 3, 4, 5, 6, 7, 8, 9];

describe('window summary', () => {
  it.each([
    [0.5, 0],
    [1, 1], // an edge belongs to the bin above it
    [4.5, 4],
    [9, 9],
    [100, 9],
    [-1e9, 0],
  ])('value %s falls in decile bin %s', (x, bin) => {
    expect(binOf(x, EDGES)).toBe(bin);
  });

  it('label = most frequent, probabilities = mean, anomaly = any non-normal window; stats per feature', () => {
    const s = new WindowSummary(['normal', 'imbalance'], ['a', 'b'], [EDGES, EDGES]);
    expect(s.inference()).toBeNull();
    expect(s.inputStats()).toBeNull();
    s.add(1, [0.2, 0.8], [2, 10]);
    s.add(1, [0.4, 0.6], [4, 10]);
    s.add(0, [0.9, 0.1], [6, 10]);
    expect(s.inference()).toEqual({
      label: 'imbalance',
      counts: { normal: 1, imbalance: 2 },
      probabilities: { normal: 0.5, imbalance: 0.5 },
      anomaly: true,
    });
    const st = s.inputStats()!;
    expect(st).toMatchObject({ features: ['a', 'b'], n: 3, mean: [4, 10] });
    expect(st.std[0]).toBeCloseTo(Math.sqrt(8 / 3), 5);
    expect(st.std[1]).toBe(0);
    expect(st.histograms[0]).toEqual([0, 0, 1, 0, 1, 0, 1, 0, 0, 0]);
    expect(st.histograms[1]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 3]);
  });

  it('only normal windows: no anomaly', () => {
    const s = new WindowSummary(['normal', 'imbalance'], ['a'], [EDGES]);
    s.add(0, [1, 0], [1]);
    expect(s.inference()).toMatchObject({ label: 'normal', anomaly: false });
  });
});

describe('sensor input', () => {
  it.each([
    ['0.25', [0.25]],
    ['  -1e-3 ', [-0.001]],
    ['NaN', [Number.NaN]],
    ['[1, 2.5, null]', [1, 2.5, Number.NaN]],
    ['', []],
    ['# a comment', []],
    ['abc', undefined],
    ['[1, "x"]', undefined],
    ['{"a":1}', undefined],
  ])('%j → %j', (line, out) => {
    expect(parseSampleLine(line)).toEqual(out);
  });

  it('drift ramps up to its full size and holds', () => {
    expect(driftAt(0)).toEqual({ gain: 0, offset: 0, spectralShift: 0 });
    expect(driftAt(30).gain).toBeCloseTo(DRIFT_FULL.gain / 2);
    expect(driftAt(10_000)).toEqual(DRIFT_FULL);
  });
});

describe('file sensor', () => {
  it('cuts the samples of stdin into windows in order; what is short of a window at the end is dropped', async () => {
    const input = new PassThrough();
    const bad: number[] = [];
    const sensor = new FileSensor('-', { onBadLine: (n) => bad.push(n) }, input);
    expect(sensor.name).toBe('file:-');
    input.write('1\n2\n# comment\n[3, 4, null]\nnot a number\n5\n');
    input.end('6\n7\n');
    await new Promise((r) => setTimeout(r, 20));
    expect(Array.from(sensor.next(4)!)).toEqual([1, 2, 3, 4]);
    expect(Array.from(sensor.next(4)!)).toEqual([Number.NaN, 5, 6, 7]);
    expect(sensor.next(4)).toBeUndefined();
    expect(sensor.ended).toBe(true);
    expect(bad).toEqual([5]);
    sensor.close();
  });
});
