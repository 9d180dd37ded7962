#!/usr/bin/env node
/**
 * The `warren` command. It loads only commander, the flag definitions and what they need to
 * parse; each action imports what it runs on (gRPC, views, the daemons) when it runs, so
 * `--version`, `--help` and a bad flag come back at once.
 */
import { CommanderError } from 'commander';
import { managerAddress } from './manager-address.js';
import { CliError, localCliError } from './errors.js';
import { warrenProgram } from './program.js';
import { unknownCommand } from './unknown-command.js';

const program = warrenProgram();

// `warren service ps web | head`: once the reader is gone there is nothing left to say (as `ls | head`).
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(process.exitCode ?? 0);
});

async function main(): Promise<void> {
  try {
    const unknown = unknownCommand(program, process.argv.slice(2));
    if (unknown) throw new CliError(unknown, 2);
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; usage errors were already printed by commander.
      process.exitCode = err.exitCode === 0 ? 0 : 2;
    } else {
      // A call to the manager that failed outside the helpers that convert its errors: gRPC is loaded already.
      const rpc = err instanceof Error && typeof (err as { code?: unknown }).code === 'number' && 'metadata' in err;
      const cliError = rpc
        ? (await import('./rpc-errors.js')).cliErrorFrom(err, managerAddress(program))
        : localCliError(err);
      process.stderr.write(`error: ${cliError.message}\n`);
      process.exitCode = cliError.exitCode;
    }
  }
}

void main();
