import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';

type HealthClient = grpc.Client & {
  check: (r: { service: string }, cb: (e: grpc.ServiceError | null, r?: { status: string }) => void) => void;
  watch: (r: { service: string }) => grpc.ClientReadableStream<{ status: string }>;
};

/** A grpc.health.v1 client of a daemon's gRPC port, as a load balancer or Kubernetes would use. */
export class GrpcHealth {
  readonly #client: HealthClient;

  constructor(address: string) {
    const Health = grpc.makeGenericClientConstructor(
      healthService as unknown as grpc.ServiceDefinition,
      'grpc.health.v1.Health',
    );
    this.#client = new Health(address, grpc.credentials.createInsecure()) as unknown as HealthClient;
  }

  /** Check's status for `service` ('' is the whole daemon). */
  check(service = ''): Promise<string> {
    return new Promise((resolve, reject) =>
      this.#client.check({ service }, (e, r) => (e ? reject(e) : resolve(r!.status))),
    );
  }

  /** Follows Watch for `service`, collecting every status it sends into the returned array. */
  watch(service = ''): string[] {
    const seen: string[] = [];
    const call = this.#client.watch({ service });
    call.on('data', (r: { status: string }) => seen.push(r.status));
    call.on('error', () => undefined);
    return seen;
  }

  close(): void {
    this.#client.close();
  }
}
