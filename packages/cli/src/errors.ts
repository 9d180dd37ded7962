/** An error the CLI prints as one line and exits with `exitCode` (2: bad input, 1: the rest). */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The domain errors of @warren/core (by their stable names): bad input, exit code 2. */
const DOMAIN_ERRORS: ReadonlySet<string> = new Set([
  'ValidationError',
  'NotFoundError',
  'AlreadyExistsError',
  'FailedPreconditionError',
  'UnauthenticatedError',
]);

/**
 * A CliError for what a command threw in this process without calling the manager (flag
 * validation, a refused worker): domain errors are bad input (2), anything else 1. Errors of
 * calls to the manager are converted where they are made (rpc-errors.ts).
 */
export function localCliError(err: unknown): CliError {
  if (err instanceof CliError) return err;
  // A CliError of the daemons' code, which the bundled CLI loads as a module of its own (another class).
  const code = (err as { exitCode?: unknown } | undefined)?.exitCode;
  if (err instanceof Error && err.name === 'CliError' && (code === 1 || code === 2))
    return new CliError(err.message, code);
  if (err instanceof Error && DOMAIN_ERRORS.has(err.name)) return new CliError(err.message, 2);
  return new CliError(err instanceof Error ? err.message : String(err), 1);
}
