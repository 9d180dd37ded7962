export { controlProto, warrenProto, PROTO_LOAD_OPTIONS } from './proto.js';
export { CONTROL_DESCRIPTOR, DESCRIPTOR } from './generated/descriptor.js';
export { DEFAULT_MANAGER_ADDRESS, DEFAULT_MANAGER_HTTP_ADDRESS } from './addresses.js';
export { createControlClient, createWorkerClient, unary, type CallOptions, type UnaryMethod } from './client.js';
export {
  bindServer,
  routeGrpcLogs,
  shutdownServer,
  unaryHandler,
  type ErrorLogger,
  type GrpcLogSink,
} from './server.js';
export {
  AddressInUseError,
  addressInUse,
  isDomainError,
  isNoLeader,
  isRejected,
  isServiceError,
  isUnavailable,
  noLeaderStatus,
  toServiceError,
} from './errors.js';
// Domain ↔ wire conversion and the wire types, as @warren/api/convert gives them.
export * from './exports/convert.js';
export {
  DaemonHttp,
  type Component,
  type ComponentReport,
  type ComponentStatus,
  type DaemonHttpOptions,
} from './daemon-http.js';
export { VERSION } from './version.js';
export { DataDirError, DataDirLock } from './data-dir-lock.js';
export * from './pki/index.js';
