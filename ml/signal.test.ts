import { describe, expect, it } from 'vitest';
import { powerSpectrum } from './features.ts';
import { createRng } from './prng.ts';
import { CLASSES, type FaultClass, generateWindow, type SignalOptions } from './signal.ts';

// A fixed shaft (25 Hz, no speed variation) puts every shaft line on a 1 Hz bin.
const steady: SignalOptions = { speedVariation: 0 };

/** Mean one-sided power spectrum of `count` windows (bins are 1 Hz at 2048 samples / 2048 Hz). */
function meanSpectrum(
  cls: FaultClass,
  count: number,
  options: SignalOptions = steady,
  seed = 3,
): Float64Array {
  const rng = createRng(seed);
  const acc = new Float64Array(1025);
  for (let i = 0; i < count; i++) {
    const w = Float64Array.from(generateWindow(cls, rng, options));
    const mean = w.reduce((a, b) => a + b, 0) / w.length;
    const p = powerSpectrum(w.map((v) => v - mean));
    for (let k = 0; k < p.length; k++) acc[k]! += p[k]! / count;
  }
  return acc;
}

const sum = (p: Float64Array, lo: number, hi: number) => p.slice(lo, hi + 1).reduce((a, b) => a + b, 0);
/** Power in a ±2 Hz line at f Hz, over the median bin power between 1 Hz and 1024 Hz. */
const lineOverFloor = (p: Float64Array, f: number) => {
  const sorted = Array.from(p.slice(1)).sort((a, b) => a - b);
  return sum(p, Math.round(f) - 2, Math.round(f) + 2) / sorted[Math.floor(sorted.length / 2)]!;
};

describe('generateWindow', () => {
  it('is a pure function of the seed', () => {
    for (const cls of CLASSES) {
      const options: SignalOptions = {
        drift: { gain: 0.1, spectralShift: 0.02 },
        dropout: { fraction: 0.05 },
      };
      const a = generateWindow(cls, createRng(42), options);
      const b = generateWindow(cls, createRng(42), options);
      expect(Buffer.from(a.buffer)).toEqual(Buffer.from(b.buffer));
      expect(Buffer.from(generateWindow(cls, createRng(43), options).buffer)).not.toEqual(
        Buffer.from(a.buffer),
      );
    }
  });

  it('makes windows of the configured length, finite unless dropped', () => {
    const w = generateWindow('looseness', createRng(1), { length: 1024 });
    expect(w).toHaveLength(1024);
    expect(w.every(Number.isFinite)).toBe(true);
  });

  it("imbalance: a dominant 1× line, many times a healthy machine's", () => {
    const p = meanSpectrum('imbalance', 20);
    expect(sum(p, 23, 27) / sum(p, 1, 1024)).toBeGreaterThan(0.9);
    expect(sum(p, 23, 27)).toBeGreaterThan(8 * sum(meanSpectrum('normal', 20), 23, 27));
    let peak = 1;
    for (let k = 1; k < p.length; k++) if (p[k]! > p[peak]!) peak = k;
    expect(peak).toBe(25);
  });

  it('looseness: harmonics 2×–5× and a 0.5× sub-harmonic stand out of the floor; normal has none at 3×–5×', () => {
    const loose = meanSpectrum('looseness', 20);
    const normal = meanSpectrum('normal', 20);
    for (const f of [50, 75, 100, 125, 12.5]) expect(lineOverFloor(loose, f)).toBeGreaterThan(100);
    for (const f of [75, 100, 125])
      expect(lineOverFloor(loose, f)).toBeGreaterThan(10 * lineOverFloor(normal, f));
  });

  it('bearing wear: the high band (512–1024 Hz) carries several times the power it has in a healthy machine', () => {
    const high = (cls: FaultClass) => {
      const p = meanSpectrum(cls, 20);
      return sum(p, 512, 1024);
    };
    expect(high('bearing_wear')).toBeGreaterThan(4 * high('normal'));
  });

  it('drift: gain scales, offset shifts the mean, spectral shift moves every line', () => {
    const base = generateWindow('imbalance', createRng(5), steady);
    const gained = generateWindow('imbalance', createRng(5), { ...steady, drift: { gain: 1 } });
    for (let i = 0; i < base.length; i += 97) expect(gained[i]).toBeCloseTo(2 * base[i]!, 5);
    const offset = generateWindow('normal', createRng(5), { drift: { offset: 0.5 } });
    expect(offset.reduce((a, b) => a + b, 0) / offset.length).toBeCloseTo(0.5, 1);
    const shifted = meanSpectrum('imbalance', 5, { ...steady, drift: { spectralShift: 0.2 } });
    let peak = 1;
    for (let k = 1; k < shifted.length; k++) if (shifted[k]! > shifted[peak]!) peak = k;
    expect(peak).toBe(30);
  });

  it('dropout: the requested fraction of samples, as NaN or zero runs', () => {
    const nan = generateWindow('normal', createRng(8), { dropout: { fraction: 0.1, meanRun: 16 } });
    const dropped = nan.filter(Number.isNaN).length;
    expect(dropped).toBeGreaterThanOrEqual(205);
    expect(dropped).toBeLessThan(205 + 24);
    const zero = generateWindow('normal', createRng(8), {
      dropout: { fraction: 0.1, meanRun: 16, fill: 'zero' },
    });
    expect(zero.filter((v) => v === 0).length).toBe(dropped);
  });

  it('speed variation moves the shaft rate between windows', () => {
    const rng = createRng(9);
    const peaks = new Set<number>();
    for (let i = 0; i < 12; i++) {
      const w = Float64Array.from(generateWindow('imbalance', rng, { speedVariation: 0.2 }));
      const p = powerSpectrum(w);
      let peak = 1;
      for (let k = 1; k < p.length; k++) if (p[k]! > p[peak]!) peak = k;
      expect(peak).toBeGreaterThanOrEqual(19);
      expect(peak).toBeLessThanOrEqual(31);
      peaks.add(peak);
    }
    expect(peaks.size).toBeGreaterThan(4);
  });
});
