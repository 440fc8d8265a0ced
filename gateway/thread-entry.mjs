// Entry of the gateway thread (gateway/thread.ts): TypeScript through tsx's loader, as in
// bin/edgeseal.mjs; a worker does not inherit the main thread's loader.
import { register } from 'tsx/esm/api';

register();
const { runInWorker } = await import('./thread.ts');
await runInWorker();
