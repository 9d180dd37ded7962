/**
 * Why an image could not be had:
 * - not-found: the registry answers but knows no such repository, tag or digest
 * - access-denied: the registry wants (other) credentials
 * - unreachable: no registry answers (refused, unknown host, timeout, TLS)
 * - not-present: the image is missing and the pull policy is `never`
 * - other: anything else (a bad reference, a broken layer, the engine itself)
 */
export type PullErrorKind = 'not-found' | 'access-denied' | 'unreachable' | 'not-present' | 'other';

export class PullError extends Error {
  override readonly name = 'PullError';

  constructor(
    readonly kind: PullErrorKind,
    /** The image reference as the caller wrote it. */
    readonly ref: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const PREFIX: Record<PullErrorKind, string> = {
  'not-found': 'image not found',
  'access-denied': 'pull access denied',
  unreachable: 'registry unreachable',
  'not-present': 'image not present',
  other: 'image pull failed',
};

// The engine's words (Docker 20.10 with a `docker-registry` 2.8 on loopback, and Docker Hub).
// Docker Hub says "pull access denied … repository does not exist or may require 'docker login'"
// for a missing repository too: that is access-denied here, as it is for `docker pull`.
const ACCESS_DENIED = [
  'pull access denied',
  'unauthorized',
  'authentication required',
  'no basic auth credentials',
  'requested access to the resource is denied',
  // A loopback TLS registry that wants a login, asked without one: the engine's HTTPS attempt is
  // refused, it falls back to plain HTTP (127.0.0.0/8 is an insecure registry) and reports that.
  'client sent an http request to an https server',
];
const NOT_FOUND = ['manifest unknown', 'name unknown', 'not found', 'does not exist'];
const UNREACHABLE = [
  'connection refused',
  'dial tcp',
  'i/o timeout',
  'no such host',
  'no route to host',
  'network is unreachable',
  'connection reset',
  'tls handshake',
  'x509:',
  'server gave http response to https client',
  'context deadline exceeded',
  'timeout exceeded',
];

/**
 * An engine pull failure (the HTTP error of `POST /images/create`, or an `{error}` line of its
 * stream) as a PullError whose message a user can act on:
 * `image not found: <ref>: <the engine's words>`, `pull access denied: <ref>: …`,
 * `registry unreachable: <ref>: …`, `image pull failed: <ref>: …`.
 */
export function classifyPullError(ref: string, err: unknown): PullError {
  if (err instanceof PullError) return err;
  const words = engineWords(err);
  const statusCode = (err as { statusCode?: unknown } | undefined)?.statusCode;
  const says = (phrases: string[]): boolean => phrases.some((p) => words.toLowerCase().includes(p));
  const kind: PullErrorKind = says(ACCESS_DENIED)
    ? 'access-denied'
    : says(NOT_FOUND) || statusCode === 404
      ? 'not-found'
      : says(UNREACHABLE)
        ? 'unreachable'
        : 'other';
  return new PullError(kind, ref, `${PREFIX[kind]}: ${ref}: ${words}`, { cause: err });
}

/** The error for a missing image that is not to be pulled (policy `never`, or an image id). */
export function notPresentError(ref: string, policy: string): PullError {
  const why = policy === 'never' ? 'pull policy is never' : 'an image id cannot be pulled';
  return new PullError('not-present', ref, `${PREFIX['not-present']}: ${ref}: ${why}`);
}

/**
 * What the engine said, without dockerode's framing: docker-modem reads a failed stream's body
 * into the message (`(HTTP code 404) unexpected - manifest for … not found: manifest unknown `).
 */
export function engineWords(err: unknown): string {
  if (typeof err === 'string') return err.trim();
  const e = (err ?? {}) as { json?: { message?: unknown }; error?: unknown; errorDetail?: { message?: unknown } };
  const said = [e.json?.message, e.error, e.errorDetail?.message, (e as { message?: unknown }).message];
  const text = said.find((s): s is string => typeof s === 'string' && s !== '') ?? String(err);
  return text.replace(/^\(HTTP code \d+\) [^-]*- /, '').trim();
}
