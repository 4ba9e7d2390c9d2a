export * from './errors.js';
export * from './paths.js';
export * from './files.js';
