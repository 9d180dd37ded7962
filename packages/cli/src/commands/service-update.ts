/** `warren service update` and `service rollback`: a new spec (or the previous one), then the rollout followed. */
import type { Command } from 'commander';
import type { wire } from '@warren/api/client';
import { addFollowOptions, waitTimeoutMs, type FollowFlags } from '../follow-flags.js';
import { addServiceUpdateOptions, updatedSpec, type UpdateOptions } from '../update-spec.js';

/** What following a rollout needs, loaded when a command runs (not for --help). */
async function rolloutParts() {
  const [convert, { registryAuthFor }, { control }, { follow }, { rolloutWatch }] = await Promise.all([
    import('@warren/api/convert'),
    import('../registry-auth.js'),
    import('../context.js'),
    import('../follow.js'),
    import('../views/rollout.js'),
  ]);
  return { ...convert, registryAuthFor, control, follow, rolloutWatch };
}

export function addUpdateCommands(service: Command): void {
  const update = service
    .command('update')
    .description(
      'change a service: its tasks roll over to the new spec slot by slot, gated by their health; ' +
        'waits and shows the progress unless --detach, exits 1 when the update pauses or rolls back',
    )
    .argument('<name>', 'service name or id');
  addFollowOptions(addServiceUpdateOptions(update), 'the rollout to end').action(
    async (ref: string, o: UpdateOptions & FollowFlags, cmd: Command) => {
      const timeoutMs = waitTimeoutMs(o);
      const { control, follow, registryAuthFor, registryAuthToWire, rolloutWatch, specFromWire, specToWire } =
        await rolloutParts();
      // As the docker CLI: the current spec with the flags applied, sent whole.
      const current = await control<wire.ServiceDetailOut>(cmd, (c) => c.InspectService, { name: ref });
      const spec = updatedSpec(specFromWire(current.service!.spec), o);
      const auth = o.withRegistryAuth ? registryAuthToWire(await registryAuthFor(spec.image)) : undefined;
      const request = { name: ref, spec: specToWire(spec), ...(auth ? { registryAuth: auth } : {}) };
      await control<wire.ServiceOut>(cmd, (c) => c.UpdateService, request);
      process.stdout.write(`${spec.name}\n`);
      if (!o.detach) await follow(cmd, spec.name, { watch: rolloutWatch('update'), timeoutMs });
    },
  );

  const rollback = service
    .command('rollback')
    .description(
      'return a service to its spec before the last update, rolling its tasks back with its rollback policy; ' +
        'waits and shows the progress unless --detach',
    )
    .argument('<name>', 'service name or id');
  addFollowOptions(rollback, 'the rollback to end').action(async (ref: string, o: FollowFlags, cmd: Command) => {
    const timeoutMs = waitTimeoutMs(o);
    const { control, follow, rolloutWatch } = await rolloutParts();
    const service = await control<wire.ServiceOut>(cmd, (c) => c.RollbackService, { name: ref });
    const name = service.spec?.name ?? ref;
    process.stdout.write(`${name}\n`);
    if (!o.detach) await follow(cmd, name, { watch: rolloutWatch('rollback'), timeoutMs });
  });
}
