import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import type { ProbeHandler } from '@warren/core';
import { timedOut, type ProbeOutcome, type ProbeTarget } from './types.js';

type GrpcHandler = Extract<ProbeHandler, { kind: 'grpc' }>;

const HealthClient = grpc.makeGenericClientConstructor(
  healthService as unknown as grpc.ServiceDefinition,
  'grpc.health.v1.Health',
);
/** The generic client's `check`, typed (makeGenericClientConstructor knows no method types). */
type HealthCheck = (
  request: object,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, res?: { status: string }) => void,
) => void;
const SERVING_STATUS: Record<string, number> = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 };

/** grpc.health.v1.Health/Check on a new channel; success when the answer is SERVING. */
export function grpcProbe(h: GrpcHandler, target: ProbeTarget, timeoutMs: number): Promise<ProbeOutcome> {
  const client = new HealthClient(`${target.address}:${h.port}`, grpc.credentials.createInsecure(), {
    // One connection per probe, like the HTTP probe: no state carried between runs.
    'grpc.use_local_subchannel_pool': 1,
  });
  return new Promise<ProbeOutcome>((resolve) => {
    const deadline = Date.now() + timeoutMs;
    (client as unknown as { check: HealthCheck }).check({ service: h.service }, { deadline }, (err, res) => {
      if (err) {
        if (err.code === grpc.status.DEADLINE_EXCEEDED) resolve(timedOut(timeoutMs));
        else {
          const output =
            err.code === grpc.status.NOT_FOUND
              ? `service "${h.service}" unknown to the server`
              : err.details || grpc.status[err.code];
          resolve({ outcome: 'failure', output });
        }
        return;
      }
      const status = res?.status ?? 'UNKNOWN';
      const outcome = status === 'SERVING' ? 'success' : 'failure';
      resolve({ outcome, code: SERVING_STATUS[status] ?? 0, output: status });
    });
  }).finally(() => client.close());
}
