/** Unknown commands are named as such, with or without --help, and suggested only by meaning. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unknownCommand, warrenProgram } from '@warren/cli';

const check = (...args: string[]) => unknownCommand(warrenProgram(), args);

test('an unknown command is named, with --help too, at any depth', () => {
  assert.equal(check('swarm', 'init', '--help'), "unknown command 'swarm'; run warren --help for its commands");
  assert.equal(check('service', 'tail', 'web'), "unknown command 'tail'; run warren service --help for its commands");
  assert.equal(
    check('--manager', 'unix:/x.sock', 'nodes', 'ls'),
    "unknown command 'nodes' (did you mean 'warren node'?); run warren --help for its commands",
  );
});

test('suggestions only by meaning: list → ls, remove → rm; never by spelling', () => {
  assert.match(check('service', 'list')!, /did you mean 'warren service ls'\?/);
  assert.match(check('node', 'remove', 'n1')!, /did you mean 'warren node rm'\?/);
  assert.doesNotMatch(check('service', 'lst')!, /did you mean/, 'lst is spelled like ls, and means nothing');
  assert.doesNotMatch(check('servce', 'ls')!, /did you mean/);
});

test('known commands, options and their values, help, and what follows -- are left to commander', () => {
  assert.equal(check('service', 'ls', '--format', 'json'), undefined);
  assert.equal(check('--manager', 'stack', 'service', 'ls'), undefined, 'the value of --manager is not a command');
  assert.equal(check('--manager=unix:/x', 'node', 'ls'), undefined);
  assert.equal(check('service', 'create', 'web', '--image', 'x', '--', 'sh', '-c', 'true'), undefined);
  assert.equal(check('help', 'service'), undefined);
  assert.equal(check('--version'), undefined);
  assert.equal(check(), undefined);
});
