/**
 * The manager's two gRPC doors (DESIGN section 8):
 * - `--listen` (TLS, the cluster CA): WorkerService for nodes with their certificates (a first
 *   Register with the join secret), ControlService for remote CLIs with a client certificate;
 * - `<data-dir>/warren.sock` (a Unix socket only the owner can open): ControlService for the local CLI.
 * Both serve grpc.health.v1.
 */
import { chmod, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import type { Logger } from 'pino';
import { FailedPreconditionError, UnauthenticatedError } from '@warren/core';
import {
  bindServer,
  callIdentity,
  guardService,
  serverCredentials,
  shutdownServer,
  warrenProto,
  type wire,
} from '@warren/api';
import type { ClusterPki } from './pki/cluster-pki.js';
import { FORWARDED_METADATA } from './leadership/gates.js';

/** Unix socket paths are limited to 107 bytes on Linux. */
const MAX_SOCKET_PATH = 107;

export interface ServersOptions {
  listen: string;
  socket: string;
  pki: ClusterPki;
  control: (local: boolean) => wire.ControlServiceHandlers;
  worker: wire.WorkerServiceHandlers;
  logger: Logger;
}

export class ManagerServers {
  private constructor(
    /** grpc.health.v1 on both, following the daemon's own health. */
    readonly health: HealthImplementation,
    /** The TLS address bound (the port filled in when --listen asked for port 0). */
    readonly address: string,
    /** The local socket, `unix:` + absolute path. */
    readonly socket: string,
    private readonly remote: grpc.Server,
    private readonly local: grpc.Server,
  ) {}

  static async start(o: ServersOptions): Promise<ManagerServers> {
    const proto = warrenProto();
    // Keepalive pings end the streams of a worker that vanished without a FIN (a cut network).
    const keepalive = { 'grpc.keepalive_time_ms': 10_000, 'grpc.keepalive_timeout_ms': 5_000 };
    const remote = new grpc.Server(keepalive);
    const local = new grpc.Server();
    const health = new HealthImplementation({
      '': 'SERVING',
      'warren.v1.ControlService': 'SERVING',
      'warren.v1.WorkerService': 'SERVING',
    });
    health.addToServer(remote);
    health.addToServer(local);
    const refuse = (call: { getPeer(): string }, why: string): never => {
      o.logger.warn({ peer: call.getPeer(), reason: why }, 'control call refused');
      throw new UnauthenticatedError(why);
    };
    // A call a follower forwarded carries its caller's rights (leadership/gates.ts).
    const [remoteHandlers, localHandlers] = [o.control(false), o.control(true)];
    const asCaller = perCall(proto.ControlService.service, (call) => {
      const id = callIdentity(call as unknown as Parameters<typeof callIdentity>[0]);
      const forwarded = call.metadata.get(FORWARDED_METADATA)[0];
      return id?.role === 'manager' && forwarded === 'local' ? localHandlers : remoteHandlers;
    });
    remote.addService(
      proto.ControlService.service,
      guardService(proto.ControlService.service, asCaller, (call) => {
        const id = callIdentity(call);
        if (!id)
          refuse(call, 'a client certificate of this cluster is required (warren cert issue on the manager host)');
        if (id!.role !== 'client' && id!.role !== 'manager')
          refuse(call, `a ${id!.role} certificate cannot use the control API`);
      }),
    );
    remote.addService(proto.WorkerService.service, o.worker);
    local.addService(proto.ControlService.service, localHandlers);
    const path = resolve(o.socket.replace(/^unix:/, ''));
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
      throw new FailedPreconditionError(`the socket path ${path} is longer than ${MAX_SOCKET_PATH} bytes (--socket)`);
    }
    let port: number;
    try {
      port = await bindServer(remote, o.listen, serverCredentials(o.pki.source));
      // The store's lock is held: a socket left here is a crashed manager's.
      await rm(path, { force: true });
      await bindServer(local, `unix:${path}`);
      await chmod(path, 0o600);
    } catch (err) {
      remote.forceShutdown();
      local.forceShutdown();
      throw err;
    }
    const address = `${o.listen.slice(0, o.listen.lastIndexOf(':'))}:${port}`;
    return new ManagerServers(health, address, `unix:${path}`, remote, local);
  }

  /** Stops both: running calls get `graceMs`; the socket file goes. */
  async stop(graceMs: number): Promise<void> {
    for (const service of ['', 'warren.v1.ControlService', 'warren.v1.WorkerService'])
      this.health.setStatus(service, 'NOT_SERVING');
    await Promise.all([shutdownServer(this.remote, graceMs), shutdownServer(this.local, graceMs)]);
    await rm(this.socket.slice('unix:'.length), { force: true });
  }

  forceShutdown(): void {
    this.remote.forceShutdown();
    this.local.forceShutdown();
  }
}

/** Handlers that pick, call by call, which of two sets serves it. */
function perCall(
  definition: grpc.ServiceDefinition,
  pick: (call: { metadata: grpc.Metadata }) => wire.ControlServiceHandlers,
): wire.ControlServiceHandlers {
  const handlers: Record<string, unknown> = {};
  for (const method of Object.keys(definition)) {
    handlers[method] = (call: { metadata: grpc.Metadata }, ...rest: unknown[]) =>
      (pick(call) as unknown as Record<string, (...a: unknown[]) => void>)[method]!(call, ...rest);
  }
  return handlers as wire.ControlServiceHandlers;
}
