// A closed-loop runner of multi-step rounds: `concurrency` workers each run one round at a
// time for `seconds` after a warm-up. A round reports how long its measured step took (the
// appraisal) besides its own end-to-end time; both become p50/p99. CPU is read over the
// measured window only: this process (all threads) and, optionally, another one by pid.
import { readFileSync } from 'node:fs';

export interface RoundOutcome {
  readonly ok: boolean;
  /** milliseconds of the step being measured (submitting the evidence) */
  readonly stepMs: number;
  readonly error?: string;
}

export interface RoundsResult {
  readonly ok: number;
  readonly errors: number;
  readonly seconds: number;
  /** completed rounds per second: one appraisal each */
  readonly per_second: number;
  readonly step_p50_ms: number;
  readonly step_p99_ms: number;
  readonly round_p50_ms: number;
  readonly round_p99_ms: number;
  /** CPU seconds per wall second of this process (1 = one core busy) */
  readonly bench_process_cores: number;
  /** the same for the process `serverPid` names */
  readonly server_process_cores?: number;
  /** CPU microseconds per completed round, this process and the server process */
  readonly bench_cpu_us_per_round: number;
  readonly server_cpu_us_per_round?: number;
  readonly first_error?: string;
}

/** utime + stime of a process in seconds (Linux /proc, USER_HZ = 100). */
function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

const ownCpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

const quantile = (sorted: readonly number[], p: number) =>
  sorted.length
    ? Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! * 100) / 100
    : 0;

export async function runRounds(opts: {
  concurrency: number;
  seconds: number;
  warmupSeconds: number;
  round: (worker: number, n: number) => Promise<RoundOutcome>;
  serverPid?: number;
}): Promise<RoundsResult> {
  const step: number[] = [];
  const whole: number[] = [];
  let ok = 0;
  let errors = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  const warmEnd = t0 + opts.warmupSeconds * 1000;
  const end = warmEnd + opts.seconds * 1000;
  let cpuAt: { wall: number; own: number; server: number } | undefined;
  const cpuNow = () => ({
    wall: performance.now(),
    own: ownCpuSeconds(),
    server: opts.serverPid ? cpuSecondsOf(opts.serverPid) : 0,
  });
  const mark = setTimeout(() => {
    cpuAt = cpuNow();
  }, opts.warmupSeconds * 1000);
  let cpuEnd: ReturnType<typeof cpuNow> | undefined;
  const last = setTimeout(
    () => {
      cpuEnd = cpuNow();
    },
    (opts.warmupSeconds + opts.seconds) * 1000,
  );
  const worker = async (w: number) => {
    for (let n = 0; ; n++) {
      const s = performance.now();
      if (s >= end) return;
      let r: RoundOutcome;
      try {
        r = await opts.round(w, n);
      } catch (e) {
        r = { ok: false, stepMs: 0, error: String(e) };
      }
      const f = performance.now();
      if (!r.ok && !firstError) firstError = r.error?.slice(0, 300);
      // completions inside the window count (throughput), whenever the round started
      if (f >= warmEnd && f <= end) {
        if (r.ok) {
          ok++;
          step.push(r.stepMs);
          whole.push(f - s);
        } else errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, (_, w) => worker(w)));
  clearTimeout(mark);
  clearTimeout(last);
  const a = cpuAt ?? { wall: warmEnd, own: 0, server: 0 };
  const b = cpuEnd ?? cpuNow();
  const wall = (b.wall - a.wall) / 1000;
  const cores = (x: number) => Math.round((x / wall) * 100) / 100;
  // rounds completed per CPU second, scaled to the window the CPU was read over
  const perRound = (cpu: number) => (ok ? Math.round((cpu * 1e6 * (opts.seconds / wall)) / ok) : 0);
  step.sort((x, y) => x - y);
  whole.sort((x, y) => x - y);
  return {
    ok,
    errors,
    seconds: opts.seconds,
    per_second: Math.round(ok / opts.seconds),
    step_p50_ms: quantile(step, 0.5),
    step_p99_ms: quantile(step, 0.99),
    round_p50_ms: quantile(whole, 0.5),
    round_p99_ms: quantile(whole, 0.99),
    bench_process_cores: cores(b.own - a.own),
    ...(opts.serverPid ? { server_process_cores: cores(b.server - a.server) } : {}),
    bench_cpu_us_per_round: perRound(b.own - a.own),
    ...(opts.serverPid ? { server_cpu_us_per_round: perRound(b.server - a.server) } : {}),
    ...(firstError ? { first_error: firstError } : {}),
  };
}
