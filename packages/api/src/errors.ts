import * as grpc from '@grpc/grpc-js';

/**
 * The one mapping of errors to gRPC status codes. Domain errors (packages/core/src/errors.ts)
 * are recognised by their stable `name`; anything else is INTERNAL.
 */
const STATUS_BY_ERROR_NAME: Record<string, grpc.status> = {
  ValidationError: grpc.status.INVALID_ARGUMENT,
  NotFoundError: grpc.status.NOT_FOUND,
  AlreadyExistsError: grpc.status.ALREADY_EXISTS,
  FailedPreconditionError: grpc.status.FAILED_PRECONDITION,
  UnauthenticatedError: grpc.status.UNAUTHENTICATED,
};

export function toServiceError(err: unknown): Partial<grpc.StatusObject> {
  const e = err instanceof Error ? err : new Error(String(err));
  const code = STATUS_BY_ERROR_NAME[e.name];
  return { code: code ?? grpc.status.INTERNAL, details: code === undefined ? `internal error: ${e.message}` : e.message };
}

/** True when the error is one the server chose to answer (a domain error), not a crash. */
export function isDomainError(err: unknown): boolean {
  return err instanceof Error && err.name in STATUS_BY_ERROR_NAME;
}

export function isServiceError(err: unknown): err is grpc.ServiceError {
  return err instanceof Error && typeof (err as Partial<grpc.ServiceError>).code === 'number' && 'metadata' in err;
}

/** The server could not be reached (or went away): worth retrying, not the request's fault. */
export function isUnavailable(err: unknown): boolean {
  return isServiceError(err) && (err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED);
}

/** The server refused the request itself: retrying the same request will not help. */
export function isRejected(err: unknown): boolean {
  return (
    isServiceError(err) &&
    [grpc.status.INVALID_ARGUMENT, grpc.status.NOT_FOUND, grpc.status.ALREADY_EXISTS, grpc.status.FAILED_PRECONDITION, grpc.status.UNAUTHENTICATED].includes(err.code)
  );
}
