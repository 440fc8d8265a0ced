// `agent run` as a process of its own: `node --import tsx device-agent/run-main.ts --state DIR …`
// takes every flag of run-args.ts. runAgentUntilSignal is what `edgeseal agent run` runs too:
// start, wait for SIGINT/SIGTERM, stop, exit 0 (a second signal exits 1 at once).
import { pathToFileURL } from 'node:url';
import { AgentError } from './errors.ts';
import { type RunOptions, startAgent } from './main.ts';
import { parseRunArgs, RUN_USAGE } from './run-args.ts';

export async function runAgentUntilSignal(options: RunOptions): Promise<void> {
  const agent = await startAgent(options);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) process.exit(1);
      stopping = true;
      agent.stop(signal).then(resolve, resolve);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  // everything is closed; if a socket still lingers, it does not hold the exit back for long
  setTimeout(() => process.exit(0), 5000).unref();
}

async function main(argv: string[]): Promise<void> {
  try {
    await runAgentUntilSignal(parseRunArgs(argv));
  } catch (e) {
    if (!(e instanceof AgentError)) throw e;
    process.stderr.write(`edgeseal: ${e.detail}\n`);
    if (e.code === 'ERR_BAD_VALUE') process.stderr.write(`usage: ${RUN_USAGE}\n`);
    process.exitCode = e.code === 'ERR_BAD_VALUE' ? 2 : 1;
  }
}

// run as a program (not imported): `node --import tsx device-agent/run-main.ts …` or a bundle of it
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href)
  await main(process.argv.slice(2));
