#!/usr/bin/env node
// The edgeseal CLI. TypeScript runs through tsx's loader: no build step.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
