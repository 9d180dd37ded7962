import type { Readable } from 'node:stream';
import Docker from 'dockerode';
import {
  imageHealth,
  normalizeImageRef,
  servedTargets,
  type Capacity,
  type EngineHealthcheck,
  type HealthSpec,
  type RegistryAuth,
  type Task,
  type TaskPort,
} from '@warren/core';
import { demuxDockerStream } from './docker-stream.js';
import { containerOptions } from './container-options.js';
import { LABEL } from './labels.js';

export interface TaskContainer {
  id: string;
  taskId: string;
  serviceName: string;
  /** Docker's state: created, running, paused, restarting, removing, exited, dead. */
  state: string;
  exitCode: number;
  /** The engine killed it for going past its memory limit (known once it exited). */
  oomKilled?: boolean;
}

export type RuntimeEvent =
  | { kind: 'container'; action: string; containerId: string; taskId: string; nodeId: string; exitCode?: number }
  | { kind: 'image'; action: string };

/** An event as the engine writes it (`GET /events`), the fields read here. */
interface EngineEvent {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes?: Record<string, string> };
}

/**
 * The worker's view of the Docker Engine, through dockerode. Only ever touches containers
 * labelled with the worker's node id, so several workers can share one engine.
 */
export class ContainerRuntime {
  readonly docker: Docker;

  /** The DNS server of the tasks' containers (the node's, for service names); undefined: Docker's. */
  dns: string | undefined;

  /**
   * `advertiseAddr`: the node's address for other nodes. A task's published target ports are
   * bound to ephemeral ports on it (not on every interface: the way in is the proxies, which
   * follow readiness).
   */
  constructor(
    options: Docker.DockerOptions = {},
    readonly advertiseAddr = '127.0.0.1',
  ) {
    this.docker = new Docker(options);
  }

  async ping(signal?: AbortSignal): Promise<void> {
    // dockerode's types omit ping's options; docker-modem honours abortSignal.
    const ping = this.docker.ping as (opts: { abortSignal?: AbortSignal }) => Promise<unknown>;
    await ping.call(this.docker, { abortSignal: signal });
  }

  /** Image tags (normalized, `name:tag`), repo digests (`name@sha256:…`) and ids present on the engine. */
  /** What the engine's host has: its CPUs and memory (a node's capacity for reservations). */
  async capacity(): Promise<Capacity> {
    const info = (await this.docker.info()) as { NCPU: number; MemTotal: number };
    return { nanoCpus: info.NCPU * 1e9, memoryBytes: info.MemTotal };
  }

  async images(): Promise<string[]> {
    const images = await this.docker.listImages();
    const refs = new Set<string>();
    for (const image of images) {
      refs.add(image.Id);
      for (const tag of image.RepoTags ?? []) if (tag !== '<none>:<none>') refs.add(normalizeImageRef(tag));
      for (const digest of image.RepoDigests ?? []) if (!digest.startsWith('<none>')) refs.add(digest);
    }
    return [...refs].sort();
  }

  /** The digest the registry has for `ref` (Engine API `GET /distribution/{name}/json`). */
  async registryDigest(ref: string, auth?: RegistryAuth): Promise<string> {
    const authconfig = auth && { username: auth.username, password: auth.password, serveraddress: auth.serverAddress };
    const info = (await this.docker.getImage(ref).distribution(authconfig ? { authconfig } : {})) as {
      Descriptor?: { digest?: string };
    };
    const digest = info.Descriptor?.digest ?? '';
    if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new Error(`the registry answered no digest for ${ref}`);
    return digest;
  }

  /** The image's `HEALTHCHECK` as a health spec (marked as the image's); undefined without one. */
  async imageHealth(image: string): Promise<HealthSpec | undefined> {
    const info = await this.docker.getImage(image).inspect();
    return imageHealth((info.Config as { Healthcheck?: EngineHealthcheck } | undefined)?.Healthcheck);
  }

  async containersOfNode(nodeId: string): Promise<TaskContainer[]> {
    return this.#list([`${LABEL.node}=${nodeId}`]);
  }

  async containersOfTask(nodeId: string, taskId: string): Promise<TaskContainer[]> {
    return this.#list([`${LABEL.node}=${nodeId}`, `${LABEL.task}=${taskId}`]);
  }

  async #list(labels: string[]): Promise<TaskContainer[]> {
    const containers = await this.docker.listContainers({ all: true, filters: { label: labels } });
    return Promise.all(
      containers.map(async (c) => {
        const taskId = c.Labels[LABEL.task] ?? '';
        const serviceName = c.Labels[LABEL.serviceName] ?? '';
        if (c.State !== 'exited' && c.State !== 'dead') {
          return { id: c.Id, taskId, serviceName, state: c.State, exitCode: 0 };
        }
        const info = await this.docker.getContainer(c.Id).inspect();
        const { ExitCode: exitCode, OOMKilled: oomKilled } = info.State;
        return { id: c.Id, taskId, serviceName, state: c.State, exitCode, oomKilled };
      }),
    );
  }

  /** Creates and starts the task's container. Returns its id. */
  async run(task: Task, nodeId: string): Promise<string> {
    const options = containerOptions(task, nodeId, { advertiseAddr: this.advertiseAddr, dns: this.dns });
    const container = await this.docker.createContainer(options);
    try {
      await container.start();
    } catch (err) {
      await container.remove({ force: true }).catch(() => undefined);
      throw err;
    }
    return container.id;
  }

  /**
   * Where probes reach the container: its IP on its network (127.0.0.1 with --network host);
   * when it started; and where its published target ports are bound on this node.
   */
  async probeTarget(
    containerId: string,
    spec: Pick<Task['spec'], 'network' | 'ports' | 'expose'>,
  ): Promise<{ address: string; startedAt: number; ports: TaskPort[] }> {
    const info = await this.docker.getContainer(containerId).inspect();
    const startedAt = Date.parse(info.State.StartedAt) || Date.now();
    const bound = info.NetworkSettings.Ports ?? {};
    const host = this.advertiseAddr.includes(':') ? `[${this.advertiseAddr}]` : this.advertiseAddr;
    const ports = servedTargets(spec).flatMap((target) => {
      const binding = bound[`${target}/tcp`]?.find((b) => b.HostPort !== '');
      return binding ? [{ target, address: `${host}:${binding.HostPort}` }] : [];
    });
    if (spec.network === 'host') return { address: '127.0.0.1', startedAt, ports };
    const networks = info.NetworkSettings.Networks ?? {};
    const address = networks[spec.network]?.IPAddress || Object.values(networks).find((n) => n.IPAddress)?.IPAddress;
    return { address: address || '127.0.0.1', startedAt, ports };
  }

  /** Whether the engine killed a stopped container for going past its memory limit. */
  async oomKilled(containerId: string): Promise<boolean> {
    const info = await this.docker.getContainer(containerId).inspect();
    return info.State.OOMKilled;
  }

  /** The exit code of a stopped container; undefined while it runs or when it is gone. */
  async exitCode(containerId: string): Promise<number | undefined> {
    try {
      const info = await this.docker.getContainer(containerId).inspect();
      return info.State.Running ? undefined : info.State.ExitCode;
    } catch {
      return undefined;
    }
  }

  /** The last line the container wrote (stdout or stderr), cut to `max` characters; '' if none. */
  async lastLogLine(containerId: string, max = 200): Promise<string> {
    try {
      const container = this.docker.getContainer(containerId);
      const raw = (await container.logs({ stdout: true, stderr: true, tail: 5, follow: false })) as Buffer;
      const lines = demuxDockerStream(raw)
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '');
      const last = lines.at(-1) ?? '';
      return last.length > max ? `${last.slice(0, max)}…` : last;
    } catch {
      return '';
    }
  }

  /** A container's raw output (Docker's frames, with times), streamed: nothing is read ahead. */
  async logStream(
    containerId: string,
    o: { follow: boolean; tail?: number; sinceMs: number },
    signal: AbortSignal,
  ): Promise<Readable> {
    const container = this.docker.getContainer(containerId);
    const options = { stdout: true, stderr: true, timestamps: true, tail: o.tail ?? 'all', abortSignal: signal };
    const since = o.sinceMs > 0 ? { since: (o.sinceMs / 1000).toFixed(3) } : {};
    // With follow off, dockerode would read the whole log into a Buffer: ask the modem for a stream.
    return new Promise((resolve, reject) => {
      const dial = { path: `/containers/${container.id}/logs?`, method: 'GET', isStream: true, abortSignal: signal };
      const statusCodes = { 200: true, 404: 'no such container', 500: 'server error' };
      const opts = { ...dial, statusCodes, options: { ...options, ...since, follow: o.follow } };
      this.docker.modem.dial(opts, (err: unknown, stream: unknown) =>
        err ? reject(err) : resolve(stream as Readable),
      );
    });
  }

  /** SIGTERM, then SIGKILL after `timeoutMs` (Docker's stop). A stopped container is fine. */
  async stop(containerId: string, timeoutMs: number): Promise<void> {
    try {
      await this.docker.getContainer(containerId).stop({ t: Math.ceil(timeoutMs / 1000) });
    } catch (err) {
      const code = (err as { statusCode?: number }).statusCode;
      if (code !== 304 && code !== 404) throw err; // 304: already stopped; 404: already gone
    }
  }

  async remove(containerId: string): Promise<void> {
    try {
      await this.docker.getContainer(containerId).remove({ force: true });
    } catch (err) {
      const code = (err as { statusCode?: number }).statusCode;
      if (code !== 404 && code !== 409) throw err; // 409: removal already in progress
    }
  }

  /** Container and image events until `signal` aborts. Ends when the engine closes the stream. */
  async *events(signal: AbortSignal): AsyncGenerator<RuntimeEvent> {
    const stream = (await this.docker.getEvents({ filters: { type: ['container', 'image'] } })) as Readable;
    const onAbort = (): void => void stream.destroy();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const line of lines(stream)) {
        const event = JSON.parse(line) as EngineEvent;
        if (event.Type === 'image') yield { kind: 'image', action: event.Action };
        else {
          const attrs = event.Actor.Attributes ?? {};
          const taskId = attrs[LABEL.task];
          if (taskId === undefined) continue;
          const exitCode = attrs.exitCode === undefined ? undefined : Number(attrs.exitCode);
          yield {
            kind: 'container',
            action: event.Action,
            containerId: event.Actor.ID,
            taskId,
            nodeId: attrs[LABEL.node] ?? '',
            ...(exitCode === undefined ? {} : { exitCode }),
          };
        }
      }
    } catch (err) {
      if (!signal.aborted) throw err;
    } finally {
      signal.removeEventListener('abort', onAbort);
      stream.destroy();
    }
  }
}

/** Newline-delimited records of a stream; ends when the stream ends or is destroyed. */
async function* lines(stream: Readable): AsyncGenerator<string> {
  let buffered = '';
  for await (const chunk of stream) {
    buffered += String(chunk);
    let newline = buffered.indexOf('\n');
    while (newline >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (line !== '') yield line;
      newline = buffered.indexOf('\n');
    }
  }
}

/** Docker's own words for a failure ("No such image: foo:latest"), without the HTTP framing. */
export function dockerMessage(err: unknown): string {
  const e = err as { json?: { message?: string }; message?: string; code?: string };
  return e.json?.message ?? e.message ?? e.code ?? String(err);
}
