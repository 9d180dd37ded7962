#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { DEFAULT_MANAGER_ADDRESS, VERSION } from '@warren/api';
import { eventsCommand } from './commands/events.js';
import { nodeCommand } from './commands/node.js';
import { managerCommand, upCommand, workerCommand } from './commands/daemons.js';
import { serviceCommand } from './commands/service.js';
import { versionCommand } from './commands/version.js';
import { managerAddress } from './context.js';
import { CliError, cliErrorFrom } from './errors.js';

const program = new Command('warren')
  .description('Warren: a small container orchestrator with health checks that recover fast')
  .version(VERSION, '-v, --version', 'print the version of the CLI')
  .option('--manager <addr>', `manager address (env WARREN_MANAGER, default ${DEFAULT_MANAGER_ADDRESS})`)
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride()
  .configureOutput({ writeErr: (text) => process.stderr.write(text) });

const commands = [
  upCommand(),
  managerCommand(),
  workerCommand(),
  serviceCommand(),
  nodeCommand(),
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
