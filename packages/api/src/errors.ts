import * as grpc from '@grpc/grpc-js';

/**
 * The one mapping of errors to gRPC status codes. Domain errors (packages/core/src/errors.ts)
 * are recognised by their stable `name`; anything else is INTERNAL.
 */
const STATUS_BY_ERROR_NAME: Readonly<Record<string, grpc.status>> = {
  ValidationError: grpc.status.INVALID_ARGUMENT,
  NotFoundError: grpc.status.NOT_FOUND,
  AlreadyExistsError: grpc.status.ALREADY_EXISTS,
  FailedPreconditionError: grpc.status.FAILED_PRECONDITION,
  UnauthenticatedError: grpc.status.UNAUTHENTICATED,
};

/** The codes of a refused request: the server answered, and the same request will not do better. */
const REJECTED_CODES: ReadonlySet<grpc.status> = new Set(Object.values(STATUS_BY_ERROR_NAME));

/**
 * Trailing metadata of a call that did nothing because no manager leads right now (an election, a
 * failover, no quorum): the same call may succeed in a moment, on the same manager.
 */
export const NO_LEADER_METADATA = 'warren-no-leader';

/** Errors that mean the same: a write was refused by etcd's fence (another manager leads now). */
const NO_LEADER_ERROR_NAMES: ReadonlySet<string> = new Set(['FencedError']);

/** UNAVAILABLE with `details`, marked as "no manager leads": callers may try again shortly. */
export function noLeaderStatus(details: string, metadata = new grpc.Metadata()): Partial<grpc.StatusObject> {
  metadata.set(NO_LEADER_METADATA, '1');
  return { code: grpc.status.UNAVAILABLE, details, metadata };
}

/** True when the manager answered that no manager leads (try again shortly). */
export function isNoLeader(err: unknown): boolean {
  return (
    isServiceError(err) && err.code === grpc.status.UNAVAILABLE && err.metadata.get(NO_LEADER_METADATA).length > 0
  );
}

export function toServiceError(err: unknown): Partial<grpc.StatusObject> {
  const e = err instanceof Error ? err : new Error(String(err));
  if (NO_LEADER_ERROR_NAMES.has(e.name))
    return noLeaderStatus(`the leadership changed, nothing was written: ${e.message}`);
  const code = STATUS_BY_ERROR_NAME[e.name];
  if (code === undefined) return { code: grpc.status.INTERNAL, details: `internal error: ${e.message}` };
  return { code, details: e.message };
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
  return isServiceError(err) && REJECTED_CODES.has(err.code);
}

/** A daemon could not listen on `address` (`host:port`, as it was asked) because it is taken. */
export class AddressInUseError extends Error {
  override readonly name = 'AddressInUseError';
  constructor(
    readonly address: string,
    options?: ErrorOptions,
  ) {
    super(`${address} is already in use`, options);
  }
}

/**
 * The address a daemon could not listen on because it is taken, when that is why `err`
 * happened: an AddressInUseError itself or the `cause` of an error wrapping it.
 */
export function addressInUse(err: unknown): string | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof AddressInUseError) return e.address;
  }
  return undefined;
}
