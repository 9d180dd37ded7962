/** Where a manager serves gRPC (ControlService for the CLI, WorkerService for workers) by default. */
export const DEFAULT_MANAGER_ADDRESS = '127.0.0.1:7420';

/** Where a manager serves `/health`, `/health/ready`, `/liveness` and `/metrics` by default. */
export const DEFAULT_MANAGER_HTTP_ADDRESS = '127.0.0.1:7421';
