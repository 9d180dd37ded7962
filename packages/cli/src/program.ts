/** The `warren` command's definitions: commands and flags, no actions' code (they load it when they run). */
import { Command } from 'commander';
import { VERSION } from '@warren/api/light';
import { certCommand, joinTokenCommand } from './commands/cluster.js';
import { eventsCommand } from './commands/events.js';
import { nodeCommand } from './commands/node.js';
import { managerCommand, upCommand, workerCommand } from './commands/daemons.js';
import { serviceCommand } from './commands/service.js';
import { stackCommand } from './commands/stack.js';
import { versionCommand } from './commands/version.js';
import { DEFAULT_CONTROL_SOCKET } from './manager-address.js';

export function warrenProgram(): Command {
  const program = new Command('warren')
    .description('Warren: a small container orchestrator with health checks that recover fast')
    .version(VERSION, '-v, --version', 'print the version of the CLI')
    .option(
      '--manager <addr>',
      'the manager: unix:PATH (its local socket) or HOST:PORT with --tls-dir ' +
        `(env WARREN_MANAGER, default ${DEFAULT_CONTROL_SOCKET})`,
    )
    .option('--tls-dir <dir>', 'client certificate for HOST:PORT: ca.pem, cert.pem, key.pem (env WARREN_TLS_DIR)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });

  const commands = [
    upCommand(),
    managerCommand(),
    workerCommand(),
    serviceCommand(),
    stackCommand(),
    nodeCommand(),
    joinTokenCommand(),
    certCommand(),
    eventsCommand(),
    versionCommand(),
  ];
  for (const command of commands) program.addCommand(command);
  // Subcommands report usage errors through the same exit path (code 2).
  const overrideAll = (cmd: Command): void => {
    cmd.exitOverride();
    cmd.commands.forEach(overrideAll);
  };
  overrideAll(program);
  return program;
}
