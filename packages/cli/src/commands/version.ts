import { Command } from 'commander';
import type { wire } from '@warren/api/client';

/**
 * `warren version`: the CLI's version at once, then the manager's. When no manager answers,
 * the client block stays printed and the usual unreachable error follows (exit 1), as with
 * `docker version`.
 */
export function versionCommand(): Command {
  return new Command('version')
    .description('show the version of the CLI and of the manager it talks to')
    .action(async (_o: unknown, cmd: Command) => {
      const { clientVersionText, serverVersionText } = await import('../views/version.js');
      process.stdout.write(clientVersionText());
      const { control, managerAddress } = await import('../context.js');
      const info = await control<wire.VersionInfoOut>(cmd, (c) => c.Version, {});
      process.stdout.write(`\n${serverVersionText(info, managerAddress(cmd))}`);
    });
}
