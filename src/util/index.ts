export * from './errors.js';
export * from './paths.js';
