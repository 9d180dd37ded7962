export { ANSWER_WAIT_MS } from './connection.js';
export { IngressProxy, type IngressApplied, type IngressBindError, type IngressProxyOptions } from './proxy.js';
export {
  ingressTableFromWire,
  type IngressEndpoint,
  type IngressPort,
  type IngressServiceEntry,
  type IngressTable,
} from './table.js';
