// Worker threads start without the parent's loader: register tsx, then run the TypeScript.
import { register } from 'tsx/esm/api';

register();
await import('./ocsp-flood-worker.ts');
