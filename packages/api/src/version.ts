import { readFileSync } from 'node:fs';

/** Set by the CLI's bundle (scripts/bundle-cli.mjs), which has no package.json next to it. */
declare const WARREN_BUNDLED_VERSION: string | undefined;

/** Warren's version, from the root package.json. */
export const VERSION: string =
  typeof WARREN_BUNDLED_VERSION === 'string' ? WARREN_BUNDLED_VERSION : versionOfRootPackage();

function versionOfRootPackage(): string {
  const rootPackage = new URL('../../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(rootPackage, 'utf8')) as { version: string }).version;
}
