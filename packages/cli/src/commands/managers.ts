/** `warren manager ls`: the managers (which one leads) and, with etcd, how its members are. */
import { Command } from 'commander';
import type { wire } from '@warren/api/client';
import { formatOption } from '../options.js';

export function managerListCommand(): Command {
  return new Command('ls')
    .description('list the managers (which one leads) and, with etcd, its members')
    .addOption(formatOption())
    .action(async (o: { format?: string }, cmd: Command) => {
      const [{ control }, { printJson }, { managersText }] = await Promise.all([
        import('../context.js'),
        import('../output.js'),
        import('../views/managers.js'),
      ]);
      const info = await control<wire.ManagersInfoOut>(cmd, (c) => c.ListManagers, {});
      if (o.format === 'json') return printJson(info);
      process.stdout.write(managersText(info));
    });
}
