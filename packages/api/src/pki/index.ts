export * from './ca.js';
export * from './identity.js';
export * from './pin.js';
export * from './secret-files.js';
export * from './token.js';
export * from './credentials.js';
export * from './guard.js';
