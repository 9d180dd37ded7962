import { test } from 'node:test';
import assert from 'node:assert/strict';
import { specToWire, type wire } from '@warren/api';
import {
  nodeDetailText,
  nodeJson,
  nodesTable,
  serviceDetailJson,
  serviceDetailText,
  servicesTable,
  specFromFlags,
} from '@warren/cli';

const NOW = Date.parse('2025-01-01T12:00:00Z');

function spec(...publish: string[]): wire.ServiceSpecOut {
  const options = { image: 'nginx', replicas: '2', env: [], network: 'bridge', mount: [], publish, pull: 'missing' };
  return specToWire(specFromFlags('web', [], options)) as wire.ServiceSpecOut;
}

function service(s: wire.ServiceSpecOut): wire.ServiceOut {
  return {
    id: 'svc1234567890abcdef',
    spec: s,
    createdAtMs: NOW - 60_000,
    updatedAtMs: NOW,
    imageNote: '',
    registryAuth: false,
    updateStatus: null,
    previousSpec: null,
  };
}

function task(slot: number, nodeName: string, address: string, ports: wire.TaskPortOut[]): wire.TaskOut {
  return {
    id: `task${slot}0000000000000`,
    serviceId: 'svc1234567890abcdef',
    serviceName: 'web',
    slot,
    nodeId: `node-${nodeName}`,
    nodeName,
    desiredState: 'running',
    state: 'running',
    message: '',
    error: '',
    hasExitCode: false,
    exitCode: 0,
    containerId: `c${slot}`,
    createdAtMs: NOW - 30_000,
    updatedAtMs: NOW - 20_000,
    spec: null,
    health: [],
    healthStatus: 'none',
    ready: true,
    address,
    startedAtMs: NOW - 20_000,
    replacing: false,
    held: false,
    ports,
  };
}

function endpoint(t: wire.TaskOut): wire.EndpointOut {
  return { taskId: t.id, slot: t.slot, nodeId: t.nodeId, nodeName: t.nodeName, address: t.address, ports: t.ports };
}

function detail(s: wire.ServiceSpecOut, tasks: wire.TaskOut[], problems: wire.IngressProblemOut[] = []) {
  const res: wire.ServiceDetailOut = {
    service: service(s),
    tasks,
    endpoints: tasks.map(endpoint),
    slots: [],
    correlatedFailure: false,
    correlatedSinceMs: 0,
    replacementBudget: 1,
    replacementsInFlight: 0,
    held: 0,
    ingressProblems: problems,
  };
  return res;
}

const published = () => {
  const t1 = task(1, 'w1', '172.17.0.2', [
    { target: 80, address: '127.0.0.2:49153' },
    { target: 443, address: '127.0.0.2:49154' },
  ]);
  const t2 = task(2, 'worker-two', '172.17.0.3', [{ target: 80, address: '127.0.0.3:49160' }]);
  const error = (address: string) => `cannot listen on ${address}: address already in use`;
  const problems = [
    { nodeId: 'node-w3', nodeName: 'w3', published: 8080, namePort: 0, error: error('127.0.0.4:8080') },
    { nodeId: 'node-w4', nodeName: '', published: 0, namePort: 443, error: error('198.18.0.9:443') },
  ];
  return detail(spec('8080:80', '8443:443'), [t2, t1], problems);
};

test('service inspect: published ports, each endpoint with its node and addresses, ingress problems', () => {
  const text = serviceDetailText(published(), NOW);
  const lines = text.split('\n');
  const at = (label: string) => lines.findIndex((l) => l.startsWith(`${label}:`));
  const column = lines[at('Ports')]!.indexOf('8080');
  assert.ok(column > 0);
  assert.deepEqual(lines.slice(at('Ports'), at('Ports') + 2), [
    `${'Ports:'.padEnd(column)}8080 → 80/tcp`,
    `${''.padEnd(column)}8443 → 443/tcp`,
  ]);
  const endpoints = [
    'slot 1  node w1          172.17.0.2  8080 → 127.0.0.2:49153, 8443 → 127.0.0.2:49154',
    'slot 2  node worker-two  172.17.0.3  8080 → 127.0.0.3:49160, 8443 → (no host port yet)',
  ];
  assert.deepEqual(lines.slice(at('Endpoints'), at('Endpoints') + 2), [
    `${'Endpoints:'.padEnd(column)}${endpoints[0]}`,
    `${''.padEnd(column)}${endpoints[1]}`,
  ]);
  const problems = [
    'Ingress problems:',
    '  node w3: published port 8080: cannot listen on 127.0.0.4:8080: address already in use',
    '  node node-w4: port 443 by name: cannot listen on 198.18.0.9:443: address already in use; ' +
      'the name answers no address on node-w4',
  ];
  assert.ok(text.includes(`\n\n${problems.join('\n')}\n\nTasks:\n`), text);
});

test('service inspect: without published ports, no Ports line, endpoints on one line, no ingress block', () => {
  const text = serviceDetailText(detail(spec(), [task(1, 'w1', '172.17.0.2', []), task(2, 'w2', '172.17.0.3', [])]));
  assert.doesNotMatch(text, /^Ports:/m);
  assert.match(text, /^Endpoints:\s+172\.17\.0\.2, 172\.17\.0\.3$/m);
  assert.doesNotMatch(text, /Ingress problems/);
  assert.match(serviceDetailText(detail(spec('8080:80'), [])), /^Endpoints:\s+\(none ready\)$/m);
});

test('service inspect --format json: endpoints with node and ports, ingress problems, task ports', () => {
  const json = serviceDetailJson(published(), NOW);
  assert.deepEqual(json.ports, json.spec.ports, 'the published ports at the top too');
  assert.deepEqual(json.spec.ports, [
    { published: 8080, target: 80, protocol: 'tcp' },
    { published: 8443, target: 443, protocol: 'tcp' },
  ]);
  assert.deepEqual(json.endpoints[0], {
    taskId: 'task20000000000000',
    slot: 2,
    nodeId: 'node-worker-two',
    node: 'worker-two',
    address: '172.17.0.3',
    ports: [
      { published: 8080, target: 80, address: '127.0.0.3:49160' },
      { published: 8443, target: 443, address: null },
    ],
  });
  assert.deepEqual(json.ingressProblems, [
    {
      nodeId: 'node-w3',
      node: 'w3',
      published: 8080,
      error: 'cannot listen on 127.0.0.4:8080: address already in use',
    },
    {
      nodeId: 'node-w4',
      node: '',
      published: 0,
      namePort: 443,
      error: 'cannot listen on 198.18.0.9:443: address already in use',
    },
  ]);
  assert.deepEqual(json.tasks[0]!.ports, [{ target: 80, address: '127.0.0.3:49160' }]);
});

test('service ls: a PORTS column like docker service ls, only when some service publishes', () => {
  const summary = (s: wire.ServiceSpecOut) => ({ service: service(s), running: 2, desired: 2 });
  const withPorts = servicesTable({ services: [summary(spec('8080:80', '8443:443')), summary(spec())] });
  assert.match(withPorts, /^ID\s+NAME\s+REPLICAS\s+IMAGE\s+PORTS\s+COMMAND\n/);
  assert.match(withPorts, /nginx\s+\*:8080->80\/tcp, \*:8443->443\/tcp\n/);
  assert.match(servicesTable({ services: [summary(spec())] }), /^ID\s+NAME\s+REPLICAS\s+IMAGE\s+COMMAND\n/);
});

test('node ls and node inspect: the address, and the ingress address in inspect', () => {
  const node: wire.NodeOut = {
    id: 'node1234567890abcdef',
    name: 'w1',
    hostname: 'host-a',
    status: 'ready',
    registeredAtMs: NOW - 3_600_000,
    lastSeenAtMs: NOW - 1000,
    taskCount: 2,
    images: [],
    availability: 'active',
    engineOk: true,
    engineMessage: '',
    history: [],
    address: '172.18.0.5',
    ingressAddress: '0.0.0.0',
    capacity: { nanoCpus: 2e9, memoryBytes: 8 * 2 ** 30 },
    reserved: { nanoCpus: 5e8, memoryBytes: 2 ** 30 },
  };
  const unknown = { ...node, id: 'node2', name: 'w2', address: '', capacity: null };
  const ls = nodesTable([node, unknown], NOW);
  assert.match(
    ls,
    /^ID\s+NAME\s+STATUS\s+AVAILABILITY\s+TASKS\s+CPUS FREE\s+MEMORY FREE\s+LAST HEARTBEAT\s+ADDRESS\s+HOSTNAME\n/,
  );
  assert.match(ls, /w1\s+ready\s+active\s+2\s+1\.5 of 2\s+7 GiB of 8 GiB\s+1s ago\s+172\.18\.0\.5\s+host-a/);
  assert.match(ls, /w2\s+ready\s+active\s+2\s+-\s+-\s+1s ago\s+-\s+host-a/, 'an address and capacity not reported');
  const text = nodeDetailText(node, NOW);
  assert.match(text, /^Address:\s+172\.18\.0\.5 \(other nodes' proxies reach its published tasks here\)$/m);
  assert.match(text, /^Ingress:\s+0\.0\.0\.0 \(its proxy accepts published ports here\)$/m);
  assert.equal(nodeJson(node).address, '172.18.0.5');
  assert.equal(nodeJson(node).ingressAddress, '0.0.0.0');
  assert.match(text, /^Capacity:\s+2 CPUs, 8 GiB memory$/m);
  assert.match(text, /^Reserved:\s+0\.5 CPU, 1 GiB memory \(by its tasks' --reserve-\*\)$/m);
  assert.match(text, /^Free:\s+1\.5 CPUs, 7 GiB memory$/m);
  assert.deepEqual(nodeJson(node).free, { nanoCpus: 1.5e9, memoryBytes: 7 * 2 ** 30 });
  assert.match(nodeDetailText(unknown, NOW), /^Capacity:\s+not known/m);
});
