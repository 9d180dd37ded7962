import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Command } from 'commander';
import { ValidationError } from '@warren/core';
import {
  ingressOptions,
  managerCommand,
  parseDrainTimeout,
  serviceCommand,
  specFromFlags,
  upCommand,
  workerCommand,
  type CreateOptions,
  type IngressFlags,
} from '@warren/cli';
import { CLI, runToEnd } from '../helpers/cluster.js';

/**
 * Parses `args` with the real flag definitions of `command` (or of its subcommand `sub`), in
 * process: the action is swapped for one that hands back what commander parsed, so nothing runs.
 */
async function parsed<Opts>(command: Command, args: string[], sub?: string): Promise<{ args: unknown[]; opts: Opts }> {
  const target = sub ? command.commands.find((c) => c.name() === sub)! : command;
  for (const c of [command, ...command.commands]) c.exitOverride().configureOutput({ writeErr: () => {} });
  let seen: unknown[] = [];
  target.action((...a: unknown[]) => {
    seen = a;
  });
  await command.parseAsync(sub ? [sub, ...args] : args, { from: 'user' });
  const argCount = target.registeredArguments.length;
  return { args: seen.slice(0, argCount), opts: seen[argCount] as Opts };
}

async function createSpec(...flags: string[]) {
  const { args, opts } = await parsed<CreateOptions>(
    serviceCommand(),
    ['web', '--image', 'nginx', ...flags],
    'create',
  );
  return specFromFlags(args[0] as string, args[1] as string[], opts);
}

/** Asserts that `run` throws (or rejects with) a ValidationError naming `field`, `value` and `reason`. */
async function refuses(run: () => unknown, field: string, value: unknown, reason: RegExp): Promise<void> {
  await assert.rejects(
    async () => run(),
    (err: unknown) => {
      assert.ok(err instanceof ValidationError, `a ValidationError, not ${String(err)}`);
      assert.equal(err.field, field);
      assert.equal(err.value, value);
      assert.match(err.reason, reason);
      assert.ok(err.message.startsWith(`${field} ${JSON.stringify(value)}: `), err.message);
      return true;
    },
  );
}

test('-p 8080:80 and --publish published=8080,target=80 both publish 8080 to target 80 over tcp', async () => {
  const expected = [{ published: 8080, target: 80, protocol: 'tcp' }];
  assert.deepEqual((await createSpec('-p', '8080:80')).ports, expected);
  assert.deepEqual((await createSpec('--publish', 'published=8080,target=80')).ports, expected);
  assert.deepEqual((await createSpec('--publish', 'published=8080,target=80,protocol=tcp')).ports, expected);
  const two = await createSpec('-p', '8080:80', '--publish', 'published=8443,target=443');
  assert.deepEqual(
    two.ports.map((p) => [p.published, p.target]),
    [
      [8080, 80],
      [8443, 443],
    ],
    'repeatable, in order',
  );
  assert.deepEqual((await createSpec()).ports, [], 'nothing published by default');
});

test('a bad --publish is one ValidationError naming the flag and the value', async () => {
  await refuses(() => createSpec('-p', '8080'), '--publish', '8080', /published=PORT,target=PORT \(or PORT:PORT\)/);
  await refuses(() => createSpec('-p', '70000:80'), '--publish', '70000:80', /published must be a port number/);
  await refuses(() => createSpec('-p', '8080:0'), '--publish', '8080:0', /target must be a port number/);
  await refuses(
    () => createSpec('--publish', 'published=8080,target=80,protocol=udp'),
    '--publish',
    'published=8080,target=80,protocol=udp',
    /only tcp is published \(not udp\)/,
  );
  await refuses(
    () => createSpec('--publish', 'published=8080'),
    '--publish',
    'published=8080',
    /needs both published= and target=/,
  );
  await refuses(
    () => createSpec('-p', '8080:80', '-p', '8080:81'),
    '--publish',
    'published=8080,target=81',
    /port 8080 is published twice/,
  );
  await refuses(
    () => createSpec('-p', '8080:80', '--network', 'host'),
    '--publish',
    'published=8080,target=80',
    /host network.*use a bridge network/,
  );
});

test('worker and up: --ingress-addr defaults to 0.0.0.0, --advertise-addr is left to the worker', async () => {
  for (const command of [workerCommand(), upCommand()]) {
    const { opts } = await parsed<IngressFlags>(command, []);
    assert.deepEqual(ingressOptions(opts), { ingressAddr: '0.0.0.0' }, command.name());
    const given = await parsed<IngressFlags>(command, ['--ingress-addr', '127.0.0.2', '--advertise-addr', '10.0.0.7']);
    assert.deepEqual(ingressOptions(given.opts), { ingressAddr: '127.0.0.2', advertiseAddr: '10.0.0.7' });
  }
  assert.deepEqual(ingressOptions({ ingressAddr: '::', advertiseAddr: '[fd00::7]' }), {
    ingressAddr: '::',
    advertiseAddr: 'fd00::7',
  });
});

test('an --ingress-addr or --advertise-addr that is not an IP literal is refused, naming flag and value', async () => {
  const notIp = /must be an IP address without a port/;
  await refuses(() => ingressOptions({ ingressAddr: 'nonsense' }), '--ingress-addr', 'nonsense', notIp);
  await refuses(() => ingressOptions({ ingressAddr: '0.0.0.0:80' }), '--ingress-addr', '0.0.0.0:80', notIp);
  await refuses(() => ingressOptions({ ingressAddr: '256.1.1.1' }), '--ingress-addr', '256.1.1.1', notIp);
  const advertise = (advertiseAddr: string) => ingressOptions({ ingressAddr: '0.0.0.0', advertiseAddr });
  await refuses(() => advertise('localhost'), '--advertise-addr', 'localhost', notIp);
  await refuses(() => advertise('0.0.0.0'), '--advertise-addr', '0.0.0.0', /other nodes cannot reach it/);
  await refuses(() => advertise('::'), '--advertise-addr', '::', /other nodes cannot reach it/);
});

test('manager and up: --drain-timeout defaults to 2s and takes 0s to 60s', async () => {
  for (const command of [managerCommand(), upCommand()]) {
    const { opts } = await parsed<{ drainTimeout: string }>(command, []);
    assert.equal(parseDrainTimeout(opts.drainTimeout), 2000, command.name());
  }
  assert.equal(parseDrainTimeout('0s'), 0);
  assert.equal(parseDrainTimeout('500ms'), 500);
  assert.equal(parseDrainTimeout('1m'), 60_000);
  await refuses(() => parseDrainTimeout('61s'), '--drain-timeout', '61s', /must be from 0s to 60s/);
  await refuses(() => parseDrainTimeout('soon'), '--drain-timeout', 'soon', /not a duration/);
  await refuses(() => parseDrainTimeout('-1s'), '--drain-timeout', '-1s', /not a duration/);
});

test('warren worker --ingress-addr nonsense exits 2 with one line, before starting anything', async () => {
  const args = ['worker', '--manager', '127.0.0.1:1', '--token', 't', '--ingress-addr', 'nonsense'];
  const res = await runToEnd(process.execPath, [CLI, ...args], {}, 15_000);
  assert.equal(res.code, 2, res.stderr);
  assert.equal(
    res.stderr,
    'error: --ingress-addr "nonsense": must be an IP address without a port, like 0.0.0.0, ' + '127.0.0.2 or ::\n',
  );
  assert.equal(res.stdout, '', 'no daemon log: nothing started');
});
