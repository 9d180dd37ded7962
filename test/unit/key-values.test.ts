import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '@warren/core';
import { parseHandler, parseKeyValues, parseMount, type KeyValueSyntax } from '@warren/cli';

const HTTP: KeyValueSyntax = { keys: ['path', 'port', 'header'], repeatable: ['header'] };
const MOUNT: KeyValueSyntax = {
  keys: ['source', 'target'],
  words: ['readonly'],
  aliases: { src: 'source', ro: 'readonly' },
};

/** Asserts that `parse` throws a ValidationError with exactly `message`. */
function refuses(parse: () => unknown, message: string): void {
  assert.throws(parse, (err: unknown) => {
    assert.ok(err instanceof ValidationError, `a ValidationError, not ${String(err)}`);
    assert.equal(err.message, message);
    return true;
  });
}

test('key=value pairs: values by key, trimmed, a repeatable key in order, words and aliases', () => {
  const http = parseKeyValues('--x', ' path = /health ,port=8080,header=A:1,header=B:2', HTTP);
  assert.equal(http.get('path'), '/health');
  assert.equal(http.get('port'), '8080');
  assert.deepEqual(http.all('header'), ['A:1', 'B:2']);
  assert.equal(http.get('missing'), undefined);
  assert.deepEqual(http.all('missing'), []);

  const mount = parseKeyValues('--y', 'src=/srv,target=/data,ro', MOUNT);
  assert.equal(mount.get('source'), '/srv', 'an alias is stored under its key');
  assert.equal(mount.get('target'), '/data');
  assert.ok(mount.has('readonly'));
  assert.ok(!parseKeyValues('--y', 'source=/a,target=/b', MOUNT).has('readonly'));
  assert.equal(parseKeyValues('--x', 'path=a=b', HTTP).get('path'), 'a=b', 'only the first = splits');
  assert.equal(parseKeyValues('--x', 'path=', HTTP).get('path'), '', 'an empty value is a value');
});

test('key=value pairs: each mistake is one ValidationError naming the flag, its value and the part', () => {
  refuses(
    () => parseKeyValues('--x', 'port=80,colour=red', HTTP),
    '--x "port=80,colour=red": "colour=red" is not one of path=…, port=…, header=…',
  );
  refuses(() => parseKeyValues('--x', 'port', HTTP), '--x "port": "port" is not one of path=…, port=…, header=…');
  refuses(() => parseKeyValues('--x', '=80', HTTP), '--x "=80": "=80" is not one of path=…, port=…, header=…');
  refuses(() => parseKeyValues('--x', 'port=80,', HTTP), '--x "port=80,": "" is not one of path=…, port=…, header=…');
  refuses(() => parseKeyValues('--x', 'port=80,port=81', HTTP), '--x "port=80,port=81": port= is given twice');
  refuses(() => parseKeyValues('--y', 'source=/a,src=/b', MOUNT), '--y "source=/a,src=/b": source= is given twice');
  refuses(() => parseKeyValues('--y', 'readonly,ro', MOUNT), '--y "readonly,ro": readonly is given twice');
  refuses(
    () => parseKeyValues('--y', 'readonly=yes', MOUNT),
    '--y "readonly=yes": "readonly=yes" is not one of source=…, target=…, readonly',
  );
  refuses(
    () => parseKeyValues('--y', 'target', MOUNT),
    '--y "target": "target" is not one of source=…, target=…, readonly',
  );
});

test('--mount goes through the shared parser', () => {
  assert.deepEqual(parseMount('source=/srv/data,target=/data'), {
    source: '/srv/data',
    target: '/data',
    readonly: false,
  });
  assert.deepEqual(parseMount('src=/a,dst=/b,ro'), { source: '/a', target: '/b', readonly: true });
  assert.deepEqual(parseMount('destination=/b,source=/a,readonly'), { source: '/a', target: '/b', readonly: true });
  refuses(() => parseMount('source=/a'), '--mount "source=/a": needs both source= and target=');
  refuses(() => parseMount('source=/a,target='), '--mount "source=/a,target=": needs both source= and target=');
  refuses(
    () => parseMount('source=/a,target=/b,rw'),
    '--mount "source=/a,target=/b,rw": "rw" is not one of source=…, target=…, readonly',
  );
});

test('health checks go through the shared parser', () => {
  assert.deepEqual(
    parseHandler('http', '--health-http', 'path=/ok,port=8080,header=X-A: 1,header=X-B:2,status=200-299,scheme=https'),
    {
      kind: 'http',
      path: '/ok',
      port: 8080,
      scheme: 'https',
      headers: [
        { name: 'X-A', value: '1' },
        { name: 'X-B', value: '2' },
      ],
      statusMin: 200,
      statusMax: 299,
    },
  );
  assert.deepEqual(parseHandler('grpc', '--readiness-grpc', 'port=50051,service=db'), {
    kind: 'grpc',
    port: 50051,
    service: 'db',
  });
  assert.deepEqual(parseHandler('tcp', '--startup-tcp', 'port=6379'), { kind: 'tcp', port: 6379 });
  refuses(
    () => parseHandler('tcp', '--health-tcp', 'port=1,path=/'),
    '--health-tcp "port=1,path=/": "path=/" is not one of port=…',
  );
  refuses(
    () => parseHandler('http', '--liveness-http', 'port=1,port=2'),
    '--liveness-http "port=1,port=2": port= is given twice',
  );
  refuses(
    () => parseHandler('http', '--health-http', 'port=1,header=novalue'),
    '--health-http "port=1,header=novalue": header=novalue: write it as header=Name:Value',
  );
  refuses(() => parseHandler('grpc', '--health-grpc', 'service=x'), '--health-grpc "service=x": needs port=…');
});
