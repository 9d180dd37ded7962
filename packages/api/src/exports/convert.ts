/** `@warren/api/convert`: domain ↔ wire conversion alone (no gRPC is loaded). */
export {
  eventToWire,
  registryAuthFromWire,
  registryAuthToWire,
  serviceToWire,
  specFromWire,
  specToWire,
  taskFromWire,
  taskToWire,
  type AssignedTask,
} from '../convert.js';
export {
  healthFromWire,
  healthSpecFromWire,
  healthSpecToWire,
  phaseFromWire,
  phaseToWire,
  resultFromWire,
} from '../convert-health.js';
export type * as wire from '../wire.js';
