import { readFileSync } from 'node:fs';

/** Warren's version, from the root package.json. */
const rootPackage = new URL('../../../package.json', import.meta.url);
export const VERSION: string = (JSON.parse(readFileSync(rootPackage, 'utf8')) as { version: string }).version;
