import { isDomainError, isNoLeader, isRejected, isServiceError, isUnavailable } from '@warren/api/client';
import { CliError, localCliError } from './errors.js';

/** Exit code 2 and the manager's words for a refused request; 1 when it cannot be reached. */
export function cliErrorFrom(err: unknown, manager: string): CliError {
  if (err instanceof CliError) return err;
  if (isServiceError(err)) {
    if (isRejected(err)) return new CliError(err.details, 2);
    // The manager answered, but no manager leads (it waited for one): its words say why.
    if (isNoLeader(err)) return new CliError(err.details, 1, { cause: err });
    if (isUnavailable(err)) {
      const hint = 'is it running? (set --manager or WARREN_MANAGER)';
      return new CliError(`cannot reach the manager at ${manager} (${err.details}); ${hint}`, 1, { cause: err });
    }
    return new CliError(`manager at ${manager} failed: ${err.details}`, 1);
  }
  // Domain errors raised in this process (flag validation, a refused worker) are bad input too.
  if (isDomainError(err)) return new CliError((err as Error).message, 2);
  return localCliError(err);
}
