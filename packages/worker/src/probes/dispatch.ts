import type Docker from 'dockerode';
import type { ProbeExecutor } from '../prober/prober.js';
import { Semaphore } from '../semaphore.js';
import { execProbe } from './exec.js';
import { grpcProbe } from './grpc.js';
import { httpProbe } from './http.js';
import { tcpProbe } from './tcp.js';

/**
 * Runs each probe with the handler of its kind. Exec probes go through the engine and share one
 * limit: at most `execConcurrency` at once across the worker. Every run ends within its timeout,
 * so there is nothing to stop.
 */
export function probeDispatcher(docker: Docker, execConcurrency: number): ProbeExecutor {
  const execLimit = new Semaphore(execConcurrency);
  return (handler, target, timeoutMs) => {
    switch (handler.kind) {
      case 'http':
        return httpProbe(handler, target, timeoutMs);
      case 'tcp':
        return tcpProbe(handler, target, timeoutMs);
      case 'grpc':
        return grpcProbe(handler, target, timeoutMs);
      case 'exec':
        return execProbe(docker, execLimit, handler, target, timeoutMs);
    }
  };
}
