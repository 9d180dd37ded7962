/**
 * Node-loss recovery: a manager and two workers; kill -9 the worker running half of a service's
 * tasks. Measures kill → node down → all its tasks healthy elsewhere, next to the theoretical
 * bound: heartbeat interval × missed heartbeats + container start + first probe.
 */
import { Cluster, TEST_IMAGE, waitFor } from '../helpers/cluster.js';
import { percentile } from './stats.js';

export interface NodeLossFigures {
  rounds: number;
  heartbeatMs: number;
  missed: number;
  downP50: number;
  recoveredP50: number;
  recoveredMax: number;
  containerStartMs: number;
  firstProbeMs: number;
  boundMs: number;
}

export async function nodeLoss(rounds: number): Promise<NodeLossFigures> {
  const heartbeatMs = 1000;
  const down: number[] = [];
  const recovered: number[] = [];
  const starts: number[] = [];
  const probes: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const c = await Cluster.create();
    try {
      await c.startWorker('w1');
      await c.startWorker('w2');
      await c.ok(
        'service',
        'create',
        '--detach',
        'web',
        '--image',
        TEST_IMAGE,
        '--replicas',
        '4',
        '--stop-timeout',
        '1s',
        '--health-cmd',
        'true',
        '--health-interval',
        '1s',
        '--',
        'sleep',
        '1000',
      );
      await waitFor(
        '4 healthy',
        async () => (await c.live('web')).filter((t) => t.health === 'healthy').length === 4,
        60_000,
      );
      const lost = (await c.live('web')).filter((t) => t.node === c.nodeName('w1')).map((t) => t.slot);
      const killedAt = Date.now();
      await c.workers.get('w1')!.kill('SIGKILL');
      const downLine = await c.manager.waitForLog((l) => l.msg === 'node down' && l.node === c.nodeName('w1'), 30_000);
      down.push((downLine.time as number) - killedAt);
      const healthy = await waitFor(
        'its tasks healthy on w2',
        async () => {
          const live = await c.live('web');
          const moved = live.filter((t) => lost.includes(t.slot));
          return moved.length === lost.length &&
            moved.every((t) => t.node === c.nodeName('w2') && t.health === 'healthy')
            ? moved
            : undefined;
        },
        60_000,
        20,
      );
      recovered.push(Date.now() - killedAt);
      for (const t of healthy) {
        const created = c.manager.lines.find(
          (l) => l.msg === 'task state' && l.task === t.id && l.state === 'starting',
        );
        const running = c.manager.lines.find(
          (l) => l.msg === 'task state' && l.task === t.id && l.state === 'running',
        );
        if (created && running) starts.push((running.time as number) - (created.time as number));
        const firstResult = t.results[0];
        if (firstResult && running)
          probes.push(Date.parse(firstResult.time) + firstResult.durationMs - (running.time as number));
      }
    } finally {
      await c.destroy();
    }
  }
  const containerStartMs = percentile(starts, 0.5);
  const firstProbeMs = percentile(probes, 0.5);
  return {
    rounds,
    heartbeatMs,
    missed: 3,
    downP50: percentile(down, 0.5),
    recoveredP50: percentile(recovered, 0.5),
    recoveredMax: Math.max(...recovered),
    containerStartMs,
    firstProbeMs,
    boundMs: heartbeatMs * 3 + containerStartMs + firstProbeMs,
  };
}
