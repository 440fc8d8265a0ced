// How a device's picture follows its messages: counters, the latest by the device's clock
// (capped at arrival), and drift fed by every message, late ones included, weighed by the
// labels the message carries when the release has a per-class baseline.
import { describe, expect, it } from 'vitest';
import type { TelemetryRecord } from './message.ts';
import { type DevicePicture, fold } from './picture.ts';

const at = (s: number) => new Date(Date.UTC(2026, 2, 1, 12, 0, s));
const rec = (id: string, sent: number, o: Partial<TelemetryRecord> = {}): TelemetryRecord => ({
  deviceId: 'd',
  messageId: id,
  sentAt: at(sent),
  receivedAt: at(100),
  shape: 'v1',
  releaseId: 'r1',
  modelId: 'vibration',
  modelVersion: '1.0.0',
  window: null,
  inference: { label: 'normal', counts: { normal: 10 }, probabilities: {}, anomaly: false },
  inputStats: { features: ['f'], n: 10, mean: [0], std: [1], histograms: [[1, 1, 1, 1, 1, 1, 1, 1, 1, 1]] },
  ...o,
});
const opts = { threshold: 0.25, windowMessages: 30 };
const run = (...rs: TelemetryRecord[]) =>
  rs.reduce<DevicePicture | undefined>((p, r) => fold(p, r, opts), undefined)!;

describe('fold', () => {
  it('counts messages and anomalies, and keeps the newest inference and model', () => {
    const p = run(
      rec('a', 1),
      rec('b', 2, {
        inference: { label: 'imbalance', counts: {}, probabilities: {}, anomaly: true },
        modelVersion: '1.1.0',
      }),
    );
    expect(p).toMatchObject({ messages: 2, anomalies: 1, modelVersion: '1.1.0', lastSeenAt: at(2) });
    expect(p.latestInference).toMatchObject({ label: 'imbalance', message_id: 'b' });
  });

  it('lets a late message count and feed drift without replacing the latest', () => {
    const p = run(
      rec('new', 50),
      rec('old', 10, {
        inference: { label: 'looseness', counts: {}, probabilities: {}, anomaly: true },
        modelVersion: '0.9.0',
      }),
    );
    expect(p).toMatchObject({ messages: 2, anomalies: 1, modelVersion: '1.0.0', lastSeenAt: at(50) });
    expect(p.latestInference!.message_id).toBe('new');
    expect(p.latestInputStats!.message_id).toBe('new');
    expect(p.latestInputStats!.drift!.state.messages).toBe(2);
  });

  it("caps a device clock that runs ahead at the message's arrival", () => {
    const p = run(rec('future', 10_000));
    expect(p.lastSeenAt).toEqual(at(100));
    // a message sent (truly) later still replaces it
    expect(
      run(rec('future', 10_000), rec('next', 101, { receivedAt: at(102) })).latestInference!.message_id,
    ).toBe('next');
  });

  it('leaves inference and drift alone for a heartbeat', () => {
    const first = run(rec('a', 1));
    const p = fold(
      first,
      rec('hb', 5, {
        shape: 'heartbeat',
        inference: null,
        inputStats: null,
        releaseId: null,
        modelVersion: null,
      }),
      opts,
    );
    expect(p).toMatchObject({ messages: 2, releaseId: 'r1', modelVersion: '1.0.0', lastSeenAt: at(5) });
    expect(p.latestInputStats).toEqual(first.latestInputStats);
  });

  it('sums the labels with the histograms and judges against the labelled classes when the release has them', () => {
    // feature f: class normal fills the low half of the bins, bearing_wear the high half
    const baseline = {
      features: ['f'],
      classes: [
        { name: 'normal', proportions: [[0.2, 0.2, 0.2, 0.2, 0.2, 0, 0, 0, 0, 0]] },
        { name: 'bearing_wear', proportions: [[0, 0, 0, 0, 0, 0.2, 0.2, 0.2, 0.2, 0.2]] },
      ],
    };
    const healthy = (i: number) =>
      rec(`m${i}`, i, {
        inputStats: {
          features: ['f'],
          n: 10,
          mean: [0],
          std: [1],
          histograms: [[2, 2, 2, 2, 2, 0, 0, 0, 0, 0]],
        },
      });
    const msgs = Array.from({ length: 25 }, (_, i) => healthy(i));
    const labelled = msgs.reduce<DevicePicture | undefined>(
      (p, r) => fold(p, r, { ...opts, baseline }),
      undefined,
    )!;
    const state = labelled.latestInputStats!.drift!.state;
    expect(state.windows).toBeGreaterThan(150);
    expect(state.labels).toEqual({ normal: state.windows }); // the same decayed windows
    expect(labelled.latestInputStats!.drift!.verdict).toMatchObject({
      expected: 'labelled_classes',
      classShares: { normal: 1, bearing_wear: 0 },
      warmingUp: false,
      drifting: false,
    });
    expect(labelled).toMatchObject({ drifting: false, driftScore: 0 });
    // the same device against a release without per-class proportions: the training mix
    const older = run(...msgs);
    expect(older.latestInputStats!.drift!.verdict).toMatchObject({
      expected: 'training_mix',
      classShares: null,
    });
    expect(older.drifting).toBe(true);
  });
});
