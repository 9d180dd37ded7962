export { Worker, type WorkerOptions, type WorkerState } from './worker.js';
export { ContainerRuntime, type TaskContainer } from './runtime.js';
export { LABEL, taskLabels } from './labels.js';
