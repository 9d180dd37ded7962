import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  classifyPullError,
  describeProgress,
  PullError,
  PullProgressTracker,
  type PullEvent,
  type PullProgress,
} from '@warren/worker';

const REF = '127.0.0.1:5055/puller-test:1';
const DIGEST = 'sha256:97cfec5f5df216f6d7b87b33587515ac16fa1a237fe0b474fdd7d78b3f5b0cce';

/** How docker-modem rejects `POST /images/create` when the engine answers an error status. */
function httpError(statusCode: number, label: string, words: string): Error {
  return Object.assign(new Error(`(HTTP code ${statusCode}) ${label} - ${words} `), { statusCode, json: null });
}

test('describeProgress says how far a pull is', () => {
  const p = (currentBytes: number, totalBytes: number | undefined, extracting = false): PullProgress => ({
    currentBytes,
    totalBytes,
    extracting,
  });
  assert.equal(describeProgress(p(14_742_000, 35_100_000)), 'pulling 42% of 35.1 MB');
  assert.equal(describeProgress(p(0, 35_100_000)), 'pulling 0% of 35.1 MB');
  assert.equal(describeProgress(p(35_100_000, 35_100_000)), 'pulling 100% of 35.1 MB');
  assert.equal(describeProgress(p(999, 1_064_399)), 'pulling 0% of 1.1 MB');
  assert.equal(describeProgress(p(35_100_000, undefined)), 'pulling 35.1 MB');
  assert.equal(describeProgress(p(512, undefined)), 'pulling 512 B');
  assert.equal(describeProgress(p(0, undefined)), 'pulling');
  assert.equal(describeProgress(p(2_500_000_000, 3_000_000_000)), 'pulling 83% of 3.0 GB');
  assert.equal(describeProgress(p(35_100_000, 35_100_000, true)), 'extracting');
});

test('the tracker sums the layers; a layer of unknown size makes the total unknown', () => {
  const tracker = new PullProgressTracker();
  const add = (status: string, id?: string, current?: number, total?: number): PullProgress => {
    const event: PullEvent = { status, ...(id ? { id } : {}) };
    if (current !== undefined) event.progressDetail = { current, total };
    tracker.add(event);
    return tracker.progress;
  };
  // The first line names the tag, not a layer.
  assert.deepEqual(add('Pulling from puller-test', '1'), {
    currentBytes: 0,
    totalBytes: undefined,
    extracting: false,
  });
  add('Pulling fs layer', 'aaa');
  add('Pulling fs layer', 'bbb');
  add('Already exists', 'ccc');
  assert.deepEqual(add('Downloading', 'aaa', 500, 1000), {
    currentBytes: 500,
    totalBytes: undefined,
    extracting: false,
  });
  assert.deepEqual(add('Waiting', 'bbb'), { currentBytes: 500, totalBytes: undefined, extracting: false });
  assert.deepEqual(add('Downloading', 'bbb', 100, 3000), { currentBytes: 600, totalBytes: 4000, extracting: false });
  assert.equal(describeProgress(tracker.progress), 'pulling 15% of 4.0 kB');
  // Retries and unknown statuses change nothing.
  assert.deepEqual(add('Retrying in 5 seconds', 'bbb'), { currentBytes: 600, totalBytes: 4000, extracting: false });
  add('Verifying Checksum', 'aaa');
  assert.deepEqual(add('Download complete', 'aaa'), { currentBytes: 1100, totalBytes: 4000, extracting: false });
  // Extracting counts unpacked bytes: the layer's download stays whole.
  assert.deepEqual(add('Extracting', 'aaa', 10, 1000), { currentBytes: 1100, totalBytes: 4000, extracting: false });
  add('Downloading', 'bbb', 3000, 3000);
  add('Download complete', 'bbb');
  add('Pull complete', 'aaa');
  assert.deepEqual(add('Extracting', 'bbb', 1, 3000), { currentBytes: 4000, totalBytes: 4000, extracting: true });
  add('Pull complete', 'bbb');
  add(`Digest: ${DIGEST}`);
  add(`Status: Downloaded newer image for ${REF}`);
  assert.deepEqual(tracker.progress, { currentBytes: 4000, totalBytes: 4000, extracting: true });
});

test('a layer that completes without a Downloading line counts as done', () => {
  const tracker = new PullProgressTracker();
  tracker.add({ status: 'Pulling fs layer', id: 'aaa' });
  tracker.add({ status: 'Download complete', id: 'aaa' });
  assert.deepEqual(tracker.progress, { currentBytes: 0, totalBytes: 0, extracting: true });
});

// The engine's words as Docker 20.10 said them for a docker-registry 2.8 on 127.0.0.1: in the
// HTTP error of `POST /images/create`, or in a line of its stream after a 200.
const MANIFEST_UNKNOWN = `manifest for ${REF} not found: manifest unknown: manifest unknown`;
const NO_CREDENTIALS = 'Head "http://127.0.0.1:5056/v2/puller-test/manifests/1": no basic auth credentials';
const REFUSED = 'Get "http://127.0.0.1:5059/v2/": dial tcp 127.0.0.1:5059: connect: connection refused';
const NO_HOST = 'Get "https://x.invalid/v2/": dial tcp: lookup x.invalid on 10.0.0.53:53: no such host';
const BAD_REF = 'invalid reference format: repository name must be lowercase';
const LINE_REFUSED = 'dial tcp 127.0.0.1:5057: connect: connection refused';
const BAD_LAYER = 'filesystem layer verification failed for digest sha256:39b5';
const OBSERVED: [err: unknown, message: string, kind: PullError['kind']][] = [
  [httpError(404, 'unexpected', MANIFEST_UNKNOWN), `image not found: ${REF}: ${MANIFEST_UNKNOWN}`, 'not-found'],
  [httpError(500, 'server error', NO_CREDENTIALS), `pull access denied: ${REF}: ${NO_CREDENTIALS}`, 'access-denied'],
  [
    httpError(500, 'server error', 'unauthorized: authentication required'),
    `pull access denied: ${REF}: unauthorized: authentication required`,
    'access-denied',
  ],
  [httpError(500, 'server error', REFUSED), `registry unreachable: ${REF}: ${REFUSED}`, 'unreachable'],
  [httpError(500, 'server error', NO_HOST), `registry unreachable: ${REF}: ${NO_HOST}`, 'unreachable'],
  [httpError(400, 'unexpected', BAD_REF), `image pull failed: ${REF}: ${BAD_REF}`, 'other'],
  [
    { error: LINE_REFUSED, errorDetail: { message: LINE_REFUSED } },
    `registry unreachable: ${REF}: ${LINE_REFUSED}`,
    'unreachable',
  ],
  [
    { errorDetail: { message: 'unknown blob' }, error: 'unknown blob' },
    `image pull failed: ${REF}: unknown blob`,
    'other',
  ],
  [{ errorDetail: { message: BAD_LAYER } }, `image pull failed: ${REF}: ${BAD_LAYER}`, 'other'],
];

test('classifyPullError names what the engine said: not found, access denied, unreachable', () => {
  for (const [err, message, kind] of OBSERVED) {
    const error = classifyPullError(REF, err);
    assert.ok(error instanceof PullError);
    assert.equal(error.name, 'PullError');
    assert.deepEqual({ kind: error.kind, message: error.message }, { kind, message });
    assert.equal(error.ref, REF);
    assert.equal(error.cause, err);
  }
});

test('classifyPullError knows the words of other registries and engines', () => {
  const kind = (words: string): string => classifyPullError('nginx', new Error(words)).kind;
  const hub = "pull access denied for nope, repository does not exist or may require 'docker login'";
  assert.equal(kind(`${hub}: denied: requested access to the resource is denied`), 'access-denied');
  assert.equal(kind('denied: requested access to the resource is denied'), 'access-denied');
  assert.equal(kind('unauthorized: incorrect username or password'), 'access-denied');
  assert.equal(kind('manifest unknown'), 'not-found');
  assert.equal(kind('name unknown: repository name not known to registry'), 'not-found');
  assert.equal(kind('Get "https://r:5000/v2/": net/http: TLS handshake timeout'), 'unreachable');
  assert.equal(kind('Get "https://r/v2/": context deadline exceeded'), 'unreachable');
  assert.equal(kind('read tcp 1.2.3.4:5->6.7.8.9:443: i/o timeout'), 'unreachable');
  assert.equal(kind('Get "https://r/v2/": x509: certificate signed by unknown authority'), 'unreachable');
  assert.equal(kind('Get "https://r/v2/": http: server gave HTTP response to HTTPS client'), 'unreachable');
  // The engine's own failures are no registry's.
  assert.equal(kind('connect ENOENT /var/run/docker.sock'), 'other');
  assert.equal(kind('open /var/lib/docker/tmp/x: permission denied'), 'other');
  assert.equal(
    classifyPullError('x', Object.assign(new Error('(HTTP code 404) odd - gone '), { statusCode: 404 })).kind,
    'not-found',
  );
  const already = new PullError('not-present', 'x', 'image not present: x: pull policy is never');
  assert.equal(classifyPullError('x', already), already);
  assert.equal(classifyPullError('x', 'plain words').message, 'image pull failed: x: plain words');
});
