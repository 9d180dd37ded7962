import * as grpc from '@grpc/grpc-js';
import { isServiceError } from '@warren/api';

/** An error the CLI prints as one line and exits with `exitCode` (2: bad input, 1: the rest). */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
  ) {
    super(message);
  }
}

const BAD_INPUT: readonly grpc.status[] = [
  grpc.status.INVALID_ARGUMENT,
  grpc.status.NOT_FOUND,
  grpc.status.ALREADY_EXISTS,
  grpc.status.FAILED_PRECONDITION,
  grpc.status.UNAUTHENTICATED,
];

/** Exit code 2 and the manager's words for a refused request; 1 when it cannot be reached. */
export function cliErrorFrom(err: unknown, manager: string): CliError {
  if (err instanceof CliError) return err;
  if (isServiceError(err)) {
    if (BAD_INPUT.includes(err.code)) return new CliError(err.details, 2);
    if (err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED) {
      return new CliError(`cannot reach the manager at ${manager} (${err.details}); is it running? (set --manager or WARREN_MANAGER)`, 1);
    }
    return new CliError(`manager at ${manager} failed: ${err.details}`, 1);
  }
  // Domain errors raised in this process (flag validation, a refused worker) are bad input too.
  if (err instanceof Error && ['ValidationError', 'UnauthenticatedError', 'NotFoundError', 'AlreadyExistsError'].includes(err.name)) {
    return new CliError(err.message, 2);
  }
  return new CliError(err instanceof Error ? err.message : String(err), 1);
}
