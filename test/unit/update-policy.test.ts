/** Update and rollback policies: flags, validation, the wire, words. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Command } from 'commander';
import {
  ROLLBACK_DEFAULTS,
  UPDATE_DEFAULTS,
  ValidationError,
  describeUpdatePolicy,
  formatDuration,
} from '@warren/core';
import { specFromWire, specToWire, warrenProto } from '@warren/api';
import { serviceCommand, specFromFlags, type CreateOptions } from '@warren/cli';

async function createSpec(...flags: string[]) {
  const command: Command = serviceCommand();
  const create = command.commands.find((c) => c.name() === 'create')!;
  for (const c of [command, create]) c.exitOverride().configureOutput({ writeErr: () => {} });
  let seen: unknown[] = [];
  create.action((...a: unknown[]) => {
    seen = a;
  });
  await command.parseAsync(['create', 'web', '--image', 'nginx', ...flags], { from: 'user' });
  return specFromFlags(seen[0] as string, seen[1] as string[], seen[2] as CreateOptions);
}

test('service create takes Swarm defaults for the update and rollback policies', async () => {
  const spec = await createSpec();
  assert.deepEqual(spec.update, {
    parallelism: 1,
    delayMs: 0,
    monitorMs: 5000,
    failureAction: 'pause',
    maxFailureRatio: 0,
    order: 'stop-first',
  });
  assert.deepEqual(spec.rollback, ROLLBACK_DEFAULTS);
});

test('the --update-* and --rollback-* flags set each field', async () => {
  const spec = await createSpec(
    '--update-parallelism',
    '2',
    '--update-delay',
    '3s',
    '--update-monitor',
    '10s',
    '--update-failure-action',
    'rollback',
    '--update-max-failure-ratio',
    '0.25',
    '--update-order',
    'start-first',
    '--rollback-parallelism',
    '0',
    '--rollback-failure-action',
    'continue',
  );
  assert.deepEqual(spec.update, {
    parallelism: 2,
    delayMs: 3000,
    monitorMs: 10_000,
    failureAction: 'rollback',
    maxFailureRatio: 0.25,
    order: 'start-first',
  });
  assert.equal(spec.rollback.parallelism, 0);
  assert.equal(spec.rollback.failureAction, 'continue');
  assert.equal(spec.rollback.monitorMs, UPDATE_DEFAULTS.monitorMs);
});

test('bad policy values are refused with the flag, the value and why', async () => {
  const cases: Array<[string[], string, RegExp]> = [
    [['--update-parallelism', '-1'], '--update-parallelism', /0 \(all\) to 1000/],
    [['--update-parallelism', 'two'], '--update-parallelism', /whole number/],
    [['--update-delay', 'soon'], '--update-delay', /./],
    [['--update-failure-action', 'explode'], '--update-failure-action', /pause, continue, rollback/],
    [['--rollback-failure-action', 'rollback'], '--rollback-failure-action', /pause, continue$/],
    [['--update-max-failure-ratio', '1.5'], '--update-max-failure-ratio', /fraction from 0 to 1/],
    [['--update-max-failure-ratio', 'half'], '--update-max-failure-ratio', /fraction/],
    [['--update-order', 'sideways'], '--update-order', /stop-first, start-first/],
  ];
  for (const [flags, field, why] of cases) {
    await assert.rejects(createSpec(...flags), (err: unknown) => {
      assert.ok(err instanceof ValidationError, `${flags.join(' ')}: ${String(err)}`);
      assert.equal(err.field, field);
      assert.match(err.message, why);
      return true;
    });
  }
});

test('policies cross the wire intact, zero values included; unset ones take the defaults', async () => {
  const spec = await createSpec(
    '--update-parallelism',
    '0',
    '--update-monitor',
    '0s',
    '--rollback-order',
    'start-first',
  );
  const back = specOverTheWire(specToWire(spec));
  assert.deepEqual(back.update, spec.update);
  assert.deepEqual(back.rollback, spec.rollback);
  assert.equal(back.update.parallelism, 0);
  assert.equal(back.update.monitorMs, 0);
  const bare = specOverTheWire({ name: 'web', image: 'nginx' });
  assert.deepEqual(bare.update, UPDATE_DEFAULTS);
  assert.deepEqual(bare.rollback, ROLLBACK_DEFAULTS);
});

test('a policy in words', () => {
  assert.equal(
    describeUpdatePolicy(UPDATE_DEFAULTS, formatDuration),
    '1 slot at a time, stop-first; each new task must stay healthy and ready for 5s; when a new task fails: pause',
  );
  assert.equal(
    describeUpdatePolicy(
      {
        parallelism: 0,
        delayMs: 2000,
        monitorMs: 1000,
        failureAction: 'rollback',
        maxFailureRatio: 0.2,
        order: 'start-first',
      },
      formatDuration,
    ),
    'all slots at once, 2s between batches, start-first; each new task must stay healthy and ready for 1s; ' +
      'when more than 20% of new tasks fail: rollback',
  );
});

/** A spec encoded and decoded as the spec of a CreateService request, through real protobuf. */
function specOverTheWire(spec: ReturnType<typeof specToWire>): ReturnType<typeof specFromWire> {
  const create = warrenProto().ControlService.service.CreateService;
  const decoded = create.requestDeserialize(create.requestSerialize({ spec })) as {
    spec: Parameters<typeof specFromWire>[0];
  };
  return specFromWire(decoded.spec);
}
