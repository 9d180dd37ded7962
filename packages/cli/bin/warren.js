#!/usr/bin/env node
// The `warren` command. This file is committed (not built) so that `npm install` links
// node_modules/.bin/warren on a fresh clone whatever the order of install and build; it runs
// the built CLI, or says how to build it.
try {
  await import('../dist/main.js');
} catch (err) {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes('dist/main.js')) throw err;
  process.stderr.write('warren: the CLI is not built yet: run `npm run setup` (or `npm start`) in the repository first\n');
  process.exit(1);
}
