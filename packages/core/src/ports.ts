import { ValidationError } from './errors.js';

/**
 * A published port: every ready node accepts connections on `published` at its ingress address
 * and forwards each to one of the service's ready endpoints, whose `target` port is bound to an
 * ephemeral port of its own node.
 */
export interface PublishedPort {
  published: number;
  target: number;
  protocol: 'tcp';
}

const MAX_PORTS = 64;

function port(value: string, flag: string, given: string, what: string): number {
  const n = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 65_535) {
    throw new ValidationError(flag, given, `${what} must be a port number from 1 to 65535`);
  }
  return n;
}

/**
 * Parses one `--publish` value: `published=8080,target=80[,protocol=tcp]` or the short
 * `8080:80` (as `docker service create -p`).
 */
export function parsePublishedPort(value: string, flag = '--publish'): PublishedPort {
  const short = /^(\d+):(\d+)(?:\/(\w+))?$/.exec(value);
  const fields = new Map<string, string>();
  if (short) {
    fields.set('published', short[1]!).set('target', short[2]!);
    if (short[3]) fields.set('protocol', short[3]);
  } else {
    for (const part of value.split(',')) {
      const eq = part.indexOf('=');
      const key = eq < 0 ? part : part.slice(0, eq);
      if (eq < 0 || !['published', 'target', 'protocol', 'mode'].includes(key) || fields.has(key)) {
        throw new ValidationError(flag, value, 'write it as published=PORT,target=PORT (or PORT:PORT)');
      }
      fields.set(key, part.slice(eq + 1));
    }
  }
  const protocol = fields.get('protocol') ?? 'tcp';
  if (protocol !== 'tcp') throw new ValidationError(flag, value, `only tcp is published (not ${protocol})`);
  const mode = fields.get('mode') ?? 'ingress';
  if (mode !== 'ingress') throw new ValidationError(flag, value, `only mode=ingress is supported (not ${mode})`);
  if (!fields.has('published') || !fields.has('target')) {
    throw new ValidationError(flag, value, 'needs both published= and target=');
  }
  return {
    published: port(fields.get('published')!, flag, value, 'published'),
    target: port(fields.get('target')!, flag, value, 'target'),
    protocol: 'tcp',
  };
}

/** Checks a spec's published ports: sane numbers, each published port once, not with host networking. */
export function validatePublishedPorts(ports: readonly PublishedPort[], network: string): void {
  if (ports.length > MAX_PORTS) throw new ValidationError('--publish', ports.length, `at most ${MAX_PORTS} ports`);
  const seen = new Set<number>();
  for (const p of ports) {
    const given = `published=${p.published},target=${p.target}`;
    for (const [what, n] of [
      ['published', p.published],
      ['target', p.target],
    ] as const) {
      if (!Number.isInteger(n) || n < 1 || n > 65_535) {
        throw new ValidationError('--publish', given, `${what} must be a port number from 1 to 65535`);
      }
    }
    if (p.protocol !== 'tcp')
      throw new ValidationError('--publish', given, `only tcp is published (not ${p.protocol})`);
    if (seen.has(p.published)) throw new ValidationError('--publish', given, `port ${p.published} is published twice`);
    seen.add(p.published);
  }
  if (ports.length > 0 && network === 'host') {
    throw new ValidationError(
      '--publish',
      `published=${ports[0]!.published},target=${ports[0]!.target}`,
      'a task on the host network has no port of its own to bind; use a bridge network',
    );
  }
}

/** Parses one `--expose` value: a port number, optionally `/tcp` (as Compose `expose`). */
export function parseExposedPort(value: string, flag = '--expose'): number {
  const m = /^(\d+)(?:\/(\w+))?$/.exec(value.trim());
  if (!m) throw new ValidationError(flag, value, 'write it as a port number (8080 or 8080/tcp)');
  if (m[2] && m[2] !== 'tcp') throw new ValidationError(flag, value, `only tcp is served by name (not ${m[2]})`);
  return port(m[1]!, flag, value, 'the port');
}

/** Checks a spec's exposed ports: port numbers, each once, not with host networking. */
export function validateExposedPorts(expose: readonly number[], network: string): void {
  if (expose.length > MAX_PORTS) throw new ValidationError('--expose', expose.length, `at most ${MAX_PORTS} ports`);
  const seen = new Set<number>();
  for (const n of expose) {
    if (!Number.isInteger(n) || n < 1 || n > 65_535)
      throw new ValidationError('--expose', n, 'the port must be a port number from 1 to 65535');
    if (seen.has(n)) throw new ValidationError('--expose', n, `port ${n} is exposed twice`);
    seen.add(n);
  }
  if (expose.length > 0 && network === 'host') {
    throw new ValidationError(
      '--expose',
      expose[0]!,
      'a task on the host network shares the host ports and gets no name of its own; use a bridge network',
    );
  }
}

/**
 * The container ports a service serves: the targets of its published ports and its exposed
 * ports, each once, in order. Each is bound to an ephemeral port of the task's node (so that
 * other nodes' proxies reach it) and served at the service's virtual IP by name.
 */
export function servedTargets(spec: { ports: readonly PublishedPort[]; expose?: readonly number[] }): number[] {
  return [...new Set([...spec.ports.map((p) => p.target), ...(spec.expose ?? [])])].sort((a, b) => a - b);
}

/** A node whose proxy cannot listen on a port a service serves: published, or (published 0) by name. */
export interface IngressProblemFacts {
  /** The node's name, or its id when it has none. */
  node: string;
  published: number;
  namePort: number;
  /** The worker's words: `cannot listen on 127.0.0.3:8080: address already in use`. */
  error: string;
}

/**
 * `node w3: published port 8080: cannot listen on …`, or for a name's port
 * `node w3: port 5432 by name: cannot listen on …; the name answers no address on w3`.
 */
export function ingressProblemWords(p: IngressProblemFacts): string {
  if (p.published > 0) return `node ${p.node}: published port ${p.published}: ${p.error}`;
  return `node ${p.node}: port ${p.namePort} by name: ${p.error}; the name answers no address on ${p.node}`;
}
