#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { VERSION } from '@warren/api';
import { certCommand, joinTokenCommand } from './commands/cluster.js';
import { eventsCommand } from './commands/events.js';
import { nodeCommand } from './commands/node.js';
import { managerCommand, upCommand, workerCommand } from './commands/daemons.js';
import { serviceCommand } from './commands/service.js';
import { versionCommand } from './commands/version.js';
import { DEFAULT_CONTROL_SOCKET, managerAddress } from './context.js';
import { CliError, cliErrorFrom } from './errors.js';

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

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and version exit 0; usage errors were already printed by commander.
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else {
    const cliError = err instanceof CliError ? err : cliErrorFrom(err, managerAddress(program));
    process.stderr.write(`error: ${cliError.message}\n`);
    process.exitCode = cliError.exitCode;
  }
}
