export { Worker, type WorkerOptions, type WorkerState } from './worker.js';
export type { LeftRunning } from './left-running.js';
export { ContainerRuntime, type TaskContainer } from './runtime.js';
export { LABEL, taskLabels } from './labels.js';
export { Prober, type PhaseUpdate, type ProbeExecutor } from './prober/prober.js';
export { TimerHeap } from './prober/timer-heap.js';
export { CpuThrottleReader, cpuStatPath } from './prober/cpu-throttle.js';
export { Semaphore } from './semaphore.js';
export { httpProbe } from './probes/http.js';
export { tcpProbe } from './probes/tcp.js';
export type { ProbeOutcome, ProbeTarget } from './probes/types.js';
export { execProbe } from './probes/exec.js';
export { Backoff } from './backoff.js';
export { StatusReporter, type StatusReport } from './reporter.js';
export { HeartbeatStream } from './heartbeat-stream.js';
export { ManagerEndpoints } from './manager-endpoints.js';
export {
  ImagePuller,
  PullError,
  classifyPullError,
  describeProgress,
  PullProgressTracker,
  type EnsuredImage,
  type EnsureOptions,
  type PullErrorKind,
  type PullEvent,
  type PullProgress,
} from './image-puller.js';
export * from './ingress/index.js';
export { DockerLogLines, MAX_LINE, type OutputLine } from './logs/log-lines.js';
export { DnsServer, type DnsServerOptions } from './dns/server.js';
export { NameRecords, NameService, VipAllocator } from './names/index.js';
