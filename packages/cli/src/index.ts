/** The CLI's flag parsing, for tests and embedders; the `warren` command itself is main.ts. */
export { KeyValues, parseKeyValues, type KeyValueSyntax } from './key-values.js';
export { healthFromFlags, parseHandler } from './health-flags.js';
export { parseMount, parseScaleTargets, specFromFlags, type CreateOptions } from './service-flags.js';
