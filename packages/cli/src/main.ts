#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { eventsCommand } from './commands/events.js';
import { nodeCommand } from './commands/node.js';
import { managerCommand, upCommand, workerCommand } from './commands/daemons.js';
import { serviceCommand } from './commands/service.js';
import { CliError, cliErrorFrom } from './errors.js';

const program = new Command('warren')
  .description('Warren: a small container orchestrator with health checks that recover fast')
  .option('--manager <addr>', 'manager address (env WARREN_MANAGER, default 127.0.0.1:7420)')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride()
  .configureOutput({ writeErr: (text) => process.stderr.write(text) });

for (const command of [upCommand(), managerCommand(), workerCommand(), serviceCommand(), nodeCommand(), eventsCommand()]) {
  program.addCommand(command);
}
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
    const cliError = err instanceof CliError ? err : cliErrorFrom(err, program.opts<{ manager?: string }>().manager ?? process.env.WARREN_MANAGER ?? '127.0.0.1:7420');
    process.stderr.write(`error: ${cliError.message}\n`);
    process.exitCode = cliError.exitCode;
  }
}
