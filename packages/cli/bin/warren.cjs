#!/usr/bin/env node
// The `warren` command. This file is committed (not built) so that `npm install` links
// node_modules/.bin/warren on a fresh clone whatever the order of install and build. It runs the
// bundled CLI (dist/warren.cjs, made by scripts/bundle-cli.mjs) with a V8 code cache kept next to
// it: compiling the bundle's ~1 MB took most of a command's time (issue 19). The cache is written
// when there is none (or V8 refused it), and once more by the first run that talked to a manager,
// so that it holds the gRPC code too. The daemons (up, manager, worker) run the CLI as tsc built it
// (dist/main.js, ES modules: they load the manager's and worker's packages, and a daemon's start
// time does not matter), and so does `cert` (the certificate library stays out of the bundle);
// so does everything with WARREN_CLI_UNBUNDLED=1 (coverage).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');

const dist = path.join(__dirname, '..', 'dist');
const bundle = path.join(dist, 'warren.cjs');

function notBuilt() {
  process.stderr.write('warren: the CLI is not built yet: run `npm run setup` (or `npm start`) in the repository first\n');
  process.exit(1);
}

/** The command: the first word that is not an option or the value of a global one, and the word after it. */
function command(args) {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--manager' || args[i] === '--tls-dir') i++;
    else if (!args[i].startsWith('-')) return `${args[i]} ${args[i + 1] ?? ''}`.trim();
  }
  return '';
}

const unbundled = new Set(['up', 'manager', 'worker', 'cert']);
const [first, second] = command(process.argv.slice(2)).split(' ');
const daemonOrCert = unbundled.has(first) && !(first === 'manager' && second === 'ls');
if (process.env.WARREN_CLI_UNBUNDLED === '1' || daemonOrCert) {
  import(path.join(dist, 'main.js')).catch(notBuilt);
} else {
  let source;
  try {
    source = fs.readFileSync(bundle, 'utf8').replace(/^#!.*/, '');
  } catch {
    notBuilt();
  }
  const cacheDir = path.join(dist, '.code-cache');
  const cacheFile = (kind) => path.join(cacheDir, `warren.cjs.${kind}`);
  let kind;
  let cachedData;
  for (const k of ['full', 'basic']) {
    try {
      cachedData = fs.readFileSync(cacheFile(k));
      kind = k;
      break;
    } catch {}
  }
  const script = new vm.Script(Module.wrap(source), { filename: bundle, cachedData });
  const refused = cachedData !== undefined && script.cachedDataRejected;
  process.once('exit', () => {
    // A run that talked to a manager compiled the gRPC code: worth keeping.
    const full = process.moduleLoadList?.includes('NativeModule http2') === true;
    if (kind === undefined || refused || (kind === 'basic' && full)) {
      try {
        fs.mkdirSync(cacheDir, { recursive: true });
        const tmp = `${cacheFile(full ? 'full' : 'basic')}.${process.pid}`;
        fs.writeFileSync(tmp, script.createCachedData());
        fs.renameSync(tmp, cacheFile(full ? 'full' : 'basic'));
        if (refused) fs.rmSync(cacheFile(kind), { force: true });
      } catch {
        // A read-only checkout runs without a cache.
      }
    }
  });
  const cli = new Module(bundle, module);
  cli.filename = bundle;
  cli.paths = Module._nodeModulePaths(dist);
  script.runInThisContext()(cli.exports, (id) => cli.require(id), cli, bundle, dist);
}
