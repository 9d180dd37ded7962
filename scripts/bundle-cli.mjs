// Bundles the `warren` command into one CommonJS file, packages/cli/dist/warren.cjs, from the
// CLI that tsc -b built (packages/cli/dist/main.js). One file instead of ~300 modules, and one
// V8 code cache for it (packages/cli/bin/warren.cjs): measured in issue 19, a command that calls
// the manager went from ~0.38 s to ~0.11 s. The daemons (`warren up/manager/worker`) are not in
// it: their code is loaded as it is, by package name (@warren/cli/daemon, @warren/manager,
// @warren/worker), so that they share one @warren/api and one grpc-js.
import { readFileSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

const root = new URL('../', import.meta.url);
const { version } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
await build({
  entryPoints: [new URL('packages/cli/dist/main.js', root).pathname],
  outfile: new URL('packages/cli/dist/warren.cjs', root).pathname,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  minify: true,
  legalComments: 'none',
  // The daemons and `cert issue` (the certificate library) run unbundled: bin/warren.cjs sends them there;
  // yaml is loaded from node_modules by `stack deploy` alone.
  external: ['@warren/cli/daemon', '@warren/manager', '@warren/worker', '@warren/api/pki', 'pino', 'yaml'],
  define: { WARREN_BUNDLED_VERSION: JSON.stringify(version) },
  // version.ts reads package.json through import.meta.url only when WARREN_BUNDLED_VERSION is unset.
  logOverride: { 'empty-import-meta': 'silent' },
  logLevel: 'warning',
});
// The code cache of the previous bundle would only be refused.
rmSync(new URL('packages/cli/dist/.code-cache', root), { recursive: true, force: true });
