import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { joinHostPort, listenOn } from './listen.js';

/**
 * One listening socket of the proxy, `host:port`: a published port on the ingress address, or a
 * virtual IP's port. Which route a connection takes is the proxy's choice, by the address the
 * client reached (a wildcard listener of a published port also receives the virtual IPs' port).
 */
export class PortListener {
  /** Why it cannot listen; undefined while it listens (or before it tried). */
  bindError: string | undefined;
  /** It also receives virtual IPs' connections: the proxy routes by the address reached. */
  byAddress = false;
  #server: Server | undefined;

  constructor(
    readonly host: string,
    readonly port: number,
    /** The published port it listens for; 0 for a virtual IP's port. */
    readonly published: number,
    /** What it is for, in the logs: the service's name. */
    public service: string,
    /** The service's id: a virtual IP's port that cannot listen is reported with it. */
    public serviceId: string,
    private readonly logger: Logger,
    private readonly accept: (listener: PortListener, socket: Socket) => void,
  ) {}

  get key(): string {
    return joinHostPort(this.host, this.port);
  }

  get listening(): boolean {
    return this.#server !== undefined;
  }

  /** Listens; a failure is kept in bindError (and logged when it is news). */
  async listen(): Promise<void> {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => this.accept(this, socket));
    const error = await listenOn(server, this.host, this.port);
    if (error !== undefined) {
      if (error !== this.bindError) this.logger.warn({ service: this.service, error }, 'cannot listen');
      this.bindError = error;
      return;
    }
    server.on('error', (err) => this.logger.warn({ err, listener: this.key }, 'a listener failed'));
    this.#server = server;
    this.bindError = undefined;
    this.logger.debug({ service: this.service, listener: this.key }, 'listening');
  }

  /** Stops accepting; resolves once its connections have all ended. */
  close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return Promise.resolve();
    this.logger.debug({ service: this.service, listener: this.key }, 'stopped listening');
    return new Promise((resolve) => server.close(() => resolve()));
  }
}
