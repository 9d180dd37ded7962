export { Worker, type WorkerOptions, type WorkerState } from './worker.js';
export { ContainerRuntime, type TaskContainer } from './runtime.js';
export { LABEL, taskLabels } from './labels.js';
export { Prober, type PhaseUpdate, type ProbeExecutor } from './prober/prober.js';
export { TimerHeap } from './prober/timer-heap.js';
export { Semaphore } from './semaphore.js';
