export * from './errors.js';
export { parseDuration, formatDuration, formatAge } from './duration.js';
export * from './spec.js';
export { validateRegistryAuth, type RegistryAuth } from './registry-auth.js';
export {
  normalizeImageRef,
  hasImage,
  isImageRef,
  parseImageRef,
  pinImageRef,
  imageDigest,
  imageRegistry,
  type ImageRef,
} from './image.js';
export * from './task.js';
export * from './update-policy.js';
export {
  ingressProblemWords,
  parseExposedPort,
  parsePublishedPort,
  servedTargets,
  validateExposedPorts,
  validatePublishedPorts,
  type IngressProblemFacts,
  type PublishedPort,
} from './ports.js';
export * from './events.js';
export {
  reconcile,
  confirmedSince,
  DEFAULT_HISTORY_LIMIT,
  type Action,
  type NodeView,
  type Plan,
  type ReconcileInput,
  type ServiceState,
  type SlotState,
  type TaskHealthView,
  holdsItsSlot,
  slotsOutForHealth,
} from './reconcile/index.js';
export * from './health.js';
export { describeProbeRun } from './health-words.js';
export { isEndpoint } from './endpoint.js';
export { DEFAULT_ETCD_PREFIX, parseStoreUrl, type StoreUrl } from './store-url.js';
export { backoffDelay, type BackoffPolicy } from './backoff.js';
export {
  DOCKER_CHECK_DEFAULTS,
  dockerCheckHealth,
  imageHealth,
  type DockerCheck,
  type EngineHealthcheck,
} from './docker-check.js';
export { DEFAULT_VIP_RANGE, inRange, parseVipRange, type VipRange } from './vip-range.js';
export { readDnsAddress } from './dns-address.js';
export {
  NO_RESOURCES,
  addCapacity,
  fits,
  formatBytes,
  formatCpus,
  freeCapacity,
  hasResources,
  noRoomReason,
  parseCpus,
  parseSize,
  reservationOf,
  resourcesText,
  validateResources,
  type Capacity,
  type Resources,
} from './resources.js';
export {
  THROTTLED_PERCENT,
  judgeThrottled,
  parseCpuStat,
  throttleWords,
  throttledPercent,
  throttledPolicyWords,
  type CpuPeriods,
} from './throttle.js';
