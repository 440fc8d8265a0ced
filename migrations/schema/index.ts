export * from './ca.ts';
export * from './attestation.ts';
