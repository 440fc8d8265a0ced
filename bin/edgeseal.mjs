#!/usr/bin/env node
// The edgeseal CLI. TypeScript runs through tsx's loader: no build step.
import { register } from 'tsx/esm/api';

// onnxruntime's telemetry would write model metadata to ~/.cache (lib/ort.ts)
process.env.ORT_DISABLE_TELEMETRY = '1';
register();
await import('../cli/main.ts');
