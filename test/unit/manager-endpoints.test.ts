/**
 * The managers a worker knows (DESIGN 9): a refusal naming the leader sends it there, a manager
 * that does not answer sends it to the next, and while the managers elect (none leads, or the one
 * named has just gone) it stays and asks again soon instead of backing off.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import type { wire } from '@warren/api';
import { ManagerEndpoints } from '@warren/worker';

const error = (code: grpc.status, trailers: Record<string, string> = {}): grpc.ServiceError => {
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(trailers)) metadata.set(k, v);
  return Object.assign(new Error('refused'), { code, details: 'refused', metadata });
};

function endpoints(): { m: ManagerEndpoints; connected: string[] } {
  const connected: string[] = [];
  const connect = (address: string): wire.WorkerServiceClient => {
    connected.push(address);
    return { close: () => undefined } as unknown as wire.WorkerServiceClient;
  };
  return { m: new ManagerEndpoints(['a:1', 'b:1', 'c:1'], connect, pino({ level: 'silent' })), connected };
}

test('a follower that names the leader sends the worker there; one that does not answer, to the next', () => {
  const { m, connected } = endpoints();
  assert.equal(m.failed(error(grpc.status.UNAVAILABLE, { 'warren-leader': 'c:1' })), true);
  assert.equal(m.address, 'c:1');
  assert.equal(m.failed(error(grpc.status.UNAVAILABLE)), true, 'c does not answer');
  assert.equal(m.address, 'a:1');
  assert.deepEqual(connected, ['a:1', 'c:1', 'a:1']);
  assert.equal(m.failed(error(grpc.status.INVALID_ARGUMENT)), false, 'a refusal is no reason to switch');
});

test('while the managers elect, the worker stays and asks again', () => {
  const { m } = endpoints();
  assert.equal(m.electing(error(grpc.status.UNAVAILABLE, { 'warren-no-leader': '1' })), true, 'no manager leads');
  assert.equal(m.electing(error(grpc.status.UNAVAILABLE, { 'warren-leader': 'b:1' })), false, 'b leads: go there');
  // b does not answer; a follower still names it (its lease has not run out): an election is coming.
  m.failed(error(grpc.status.UNAVAILABLE, { 'warren-leader': 'b:1' }));
  m.failed(error(grpc.status.UNAVAILABLE));
  assert.equal(m.electing(error(grpc.status.UNAVAILABLE, { 'warren-leader': 'b:1' })), true);
  assert.equal(m.electing(error(grpc.status.UNAVAILABLE)), false, 'no answer at all is not an election');
});
