import { ValidationError } from '@warren/core';
import type { wire } from '@warren/api';

/**
 * A port a node's proxy cannot listen on: a published port, or (`published` 0) the port
 * `namePort` of the service `serviceId`'s virtual IP on that node — its name leads nowhere there.
 */
export interface BindError {
  published: number;
  error: string;
  namePort?: number;
  serviceId?: string;
}

/** The longest reason kept: a worker's words, not a document. */
const MAX_ERROR_CHARS = 300;

const isPort = (n: number): boolean => Number.isInteger(n) && n >= 1 && n <= 65_535;

/** A worker's bind error as the manager keeps it; a ValidationError naming the field when malformed. */
export function bindErrorFromWire(e: wire.IngressBindErrorOut): BindError {
  const error = e.error.slice(0, MAX_ERROR_CHARS);
  if (e.published !== 0) {
    if (!isPort(e.published)) throw new ValidationError('bind_errors.published', e.published, 'not a port number');
    return { published: e.published, error };
  }
  if (!isPort(e.namePort)) {
    throw new ValidationError(
      'bind_errors.name_port',
      e.namePort,
      "not a port number (published is 0: a name's port)",
    );
  }
  if (e.serviceId === '' || e.serviceId.length > 64) {
    throw new ValidationError('bind_errors.service_id', e.serviceId, "a service's id (published is 0: a name's port)");
  }
  return { published: 0, namePort: e.namePort, serviceId: e.serviceId, error };
}
