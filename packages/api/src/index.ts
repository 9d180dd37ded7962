export { warrenProto, PROTO_LOAD_OPTIONS } from './proto.js';
export { createControlClient, createWorkerClient, unary, tokenMetadata, DEFAULT_MANAGER_ADDRESS, TOKEN_METADATA_KEY, type CallOptions } from './client.js';
export { bindServer, shutdownServer, unaryHandler, type ErrorLogger } from './server.js';
export { toServiceError, isDomainError, isServiceError, isUnavailable, isRejected } from './errors.js';
export { specToWire, specFromWire, serviceToWire, taskToWire, taskFromWire, phaseToWire, phaseFromWire, healthFromWire, eventToWire, type AssignedTask } from './convert.js';
export type * as wire from './wire.js';
export { DaemonHttp, type Component, type ComponentReport, type ComponentStatus, type DaemonHttpOptions } from './daemon-http.js';
export { VERSION } from './version.js';
