export * from './ca.ts';
export * from './attestation.ts';
export * from './models.ts';
