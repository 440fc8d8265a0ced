// Samples from a file or stdin (`--sensor-file FILE|-`): one number per line, or a JSON array
// of numbers per line (null, NaN or an empty value is a dropped sample, which the feature
// extractor skips). Lines starting with # are comments. Samples are cut into windows in
// order; the reader pauses while a few windows are waiting, so a large file is not read into
// memory at once. When the input ends, what is left short of a window is discarded.
import { createReadStream } from 'node:fs';
import { createInterface, type Interface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { AgentLog } from '../log.ts';
import { GeneratorSensor, type Sensor, type SensorSpec } from './sensor.ts';

/** Windows' worth of samples kept ahead before reading pauses. */
const READ_AHEAD_WINDOWS = 4;
const DEFAULT_AHEAD = 8192;

export interface FileSensorEvents {
  /** a line that is neither a number nor a JSON array of numbers (first one only, and a count) */
  onBadLine?: (lineNumber: number) => void;
}

export function parseSampleLine(line: string): number[] | undefined {
  const t = line.trim();
  if (t === '' || t.startsWith('#')) return [];
  if (t.startsWith('[')) {
    let v: unknown;
    try {
      v = JSON.parse(t);
    } catch {
      return undefined;
    }
    if (!Array.isArray(v)) return undefined;
    const out: number[] = [];
    for (const x of v) {
      if (x === null) out.push(Number.NaN);
      else if (typeof x === 'number') out.push(x);
      else return undefined;
    }
    return out;
  }
  if (/^nan$/i.test(t)) return [Number.NaN];
  const n = Number(t);
  return Number.isFinite(n) ? [n] : undefined;
}

export class FileSensor implements Sensor {
  readonly name: string;
  private readonly lines: Interface;
  private readonly input: Readable;
  private buffered: number[] = [];
  private done = false;
  private paused = false;
  private want = DEFAULT_AHEAD;
  private lineNumber = 0;
  badLines = 0;

  constructor(path: string, events: FileSensorEvents = {}, stdin: Readable = process.stdin) {
    this.name = `file:${path}`;
    this.input = path === '-' ? stdin : createReadStream(path, { encoding: 'utf8' });
    this.lines = createInterface({ input: this.input, crlfDelay: Number.POSITIVE_INFINITY });
    this.lines.on('line', (line) => {
      this.lineNumber++;
      const samples = parseSampleLine(line);
      if (samples === undefined) {
        if (this.badLines++ === 0) events.onBadLine?.(this.lineNumber);
        return;
      }
      for (const s of samples) this.buffered.push(s);
      if (!this.paused && this.buffered.length >= this.want * READ_AHEAD_WINDOWS) {
        this.paused = true;
        this.lines.pause();
      }
    });
    this.lines.on('close', () => {
      this.done = true;
    });
    this.input.on('error', () => {
      this.done = true;
    });
  }

  get ended(): boolean {
    return this.done && this.buffered.length < this.want;
  }

  next(length: number): Float32Array | undefined {
    this.want = length;
    let out: Float32Array | undefined;
    if (this.buffered.length >= length) {
      out = Float32Array.from(this.buffered.slice(0, length));
      this.buffered = this.buffered.slice(length);
    }
    if (this.paused && this.buffered.length < length * READ_AHEAD_WINDOWS) {
      this.paused = false;
      this.lines.resume();
    }
    return out;
  }

  close(): void {
    this.lines.close();
    if (this.input !== process.stdin) this.input.destroy();
  }
}

/** The sensor `spec` names: the simulated accelerometer or a file / stdin of samples. */
export function makeSensor(spec: SensorSpec, log: AgentLog): Sensor {
  if (spec.kind === 'generator') return new GeneratorSensor(spec);
  return new FileSensor(spec.path, {
    onBadLine: (line) => log.warn('sensor_bad_line', { sensor: `file:${spec.path}`, line }),
  });
}
