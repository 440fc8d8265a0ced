export * from './ca.ts';
