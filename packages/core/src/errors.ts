/**
 * Domain errors. Each has a stable `name`; packages/api maps names to gRPC status codes
 * (one mapping, in one place), and the CLI maps status codes to exit codes.
 */

export class WarrenError extends Error {
  override readonly name: string = 'WarrenError';
}

/** A field of a request or a flag has a bad value. `field` names it as the user wrote it. */
export class ValidationError extends WarrenError {
  override readonly name = 'ValidationError';
  constructor(
    readonly field: string,
    readonly value: unknown,
    readonly reason: string,
  ) {
    super(`${field} ${formatValue(value)}: ${reason}`);
  }
}

export class NotFoundError extends WarrenError {
  override readonly name = 'NotFoundError';
  constructor(
    readonly kind: string,
    readonly ref: string,
  ) {
    super(`${kind} "${ref}" not found`);
  }
}

export class AlreadyExistsError extends WarrenError {
  override readonly name = 'AlreadyExistsError';
  constructor(
    readonly kind: string,
    readonly ref: string,
  ) {
    super(`${kind} "${ref}" already exists`);
  }
}

/** The request is well formed but the system is not in a state to carry it out. */
export class FailedPreconditionError extends WarrenError {
  override readonly name = 'FailedPreconditionError';
}

export class UnauthenticatedError extends WarrenError {
  override readonly name = 'UnauthenticatedError';
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined) return '(missing)';
  return String(value);
}
