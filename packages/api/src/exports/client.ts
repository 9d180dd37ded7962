/**
 * `@warren/api/client`: what a client of the manager needs (the CLI): the protocol, clients, the
 * errors it answers with, and the conversion of wire types. No certificate library and no server
 * code, so a command over the local socket loads only gRPC.
 */
export { controlProto, warrenProto, PROTO_LOAD_OPTIONS } from '../proto.js';
export { DEFAULT_MANAGER_ADDRESS, DEFAULT_MANAGER_HTTP_ADDRESS } from '../addresses.js';
export { createControlClient, unary, type CallOptions, type UnaryMethod } from '../client.js';
export { isDomainError, isNoLeader, isRejected, isServiceError, isUnavailable } from '../errors.js';
export type * as wire from '../wire.js';
