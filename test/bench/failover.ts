/**
 * Failover (issue 20): three managers on three etcd members on this machine, two workers, a
 * service of three replicas behind a published port under constant load. Each round kills the
 * leader with -9, breaks one replica's check 0.5 s later, and measures from the kill: the new
 * leader's first reconcile pass, the broken replica replaced and healthy, failed requests, and
 * whether any other task was lost or doubled. Then the killed manager starts again (a follower).
 */
import { createControlClient, unary, type wire } from '@warren/api';
import { TEST_IMAGE, docker, waitFor } from '../helpers/cluster.js';
import { HaCluster } from '../helpers/ha-cluster.js';
import { Load } from '../helpers/load.js';
import { TWO_HOSTS, portFreeOn } from '../helpers/ports.js';

const SERVE = 'hostname > /www/index.html; touch /www/alive; exec httpd -f -p 80 -h /www';

export interface FailoverFigures {
  rounds: number;
  /** kill -9 → the new leader's first reconcile pass, ms. */
  firstPass: number[];
  /** kill -9 → the replica broken 0.5 s after it replaced and healthy, ms. */
  replaced: number[];
  failedRequests: number;
  requests: number;
  lostOrDoubled: number;
  /** `service create` of 10 replicas → all 10 running, through the leader, ms. */
  createTen: number[];
}

export async function failoverBench(rounds: number): Promise<FailoverFigures> {
  const hosts = Object.values(TWO_HOSTS);
  const c = await HaCluster.create({ managers: 3, members: 3 });
  const figures: FailoverFigures = {
    rounds,
    firstPass: [],
    replaced: [],
    failedRequests: 0,
    requests: 0,
    lostOrDoubled: 0,
    createTen: [],
  };
  try {
    for (const [i, host] of hosts.entries()) {
      await c.startWorker(`w${i + 1}`, ['--ingress-addr', host, '--advertise-addr', host]);
    }
    const port = await portFreeOn(hosts);
    await c.ok(
      ...['service', 'create', 'web', '--image', TEST_IMAGE, '--replicas', '3', '-p', `${port}:80`],
      ...['--health-cmd', 'test -f /www/alive', '--health-interval', '500ms', '--health-retries', '2'],
      // A replacement frees the replacement budget once healthy for interval × retries + timeout:
      // a short timeout keeps that below the time between rounds.
      ...['--health-timeout', '400ms'],
      ...['--stop-timeout', '1s', '--', 'sh', '-c', SERVE],
    );
    for (let round = 0; round < rounds; round++) {
      const old = await c.leader();
      const survivor = c.managers[(old + 1) % 3]!;
      const control = createControlClient(survivor.socket);
      const live = async (): Promise<wire.TaskOut[]> =>
        (await unary<object, wire.ServiceDetailOut>(control.InspectService, control, { name: 'web' })).tasks.filter(
          (t) => t.desiredState === 'running',
        );
      const before = await waitFor(
        '3 healthy replicas',
        async () => {
          const tasks = await live().catch(() => []);
          return tasks.length === 3 && tasks.every((t) => t.healthStatus === 'healthy' && t.ready) ? tasks : undefined;
        },
        60_000,
      );
      // The last round's replacement has proven itself (1.4 s): the budget has room again.
      await new Promise((r) => setTimeout(r, 2000));
      const load = new Load(hosts.map((h) => `${h}:${port}`)).start();
      await load.flowing();
      const killedAt = Date.now();
      await c.managers[old]!.daemon.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 500));
      const victim = before[round % 3]!;
      await docker
        .getContainer(victim.containerId)
        .exec({ Cmd: ['rm', '/www/alive'] })
        .then((e) => e.start({}));
      const next = await c.leader(30_000, (i) => i !== old);
      const pass = await c.managers[next]!.daemon.waitForLog((l) => l.msg === 'first reconcile pass', 30_000);
      figures.firstPass.push((pass.time as number) - killedAt);
      const after = await waitFor(
        'the broken replica replaced and healthy',
        async () => {
          const tasks = await live().catch(() => []);
          const good = tasks.length === 3 && tasks.every((t) => t.healthStatus === 'healthy' && t.ready);
          return good && !tasks.some((t) => t.id === victim.id) ? tasks : undefined;
        },
        60_000,
        50,
      );
      figures.replaced.push(Date.now() - killedAt);
      await load.stop();
      figures.requests += load.outcomes.length;
      figures.failedRequests += load.failures().length;
      const kept = before.filter((t) => t.id !== victim.id).map((t) => t.id);
      figures.lostOrDoubled += kept.filter((id) => !after.some((t) => t.id === id)).length;
      figures.lostOrDoubled += Math.max(0, after.length - 3);
      control.close();
      await c.startManager(old);
      process.stderr.write(`bench: failover round ${round + 1}: first pass ${figures.firstPass.at(-1)} ms\n`);
    }
    // Creating through the leader: the cost of etcd's writes next to LevelDB's (bench cli).
    const leader = c.managers[await c.leader()]!;
    const control = createControlClient(leader.socket);
    for (let round = 0; round < 5; round++) {
      const name = `ten${round}`;
      const t0 = Date.now();
      await unary(control.CreateService, control, {
        spec: { name, image: TEST_IMAGE, replicas: 10, command: ['sleep', '1000'], stopTimeoutMs: 1000 },
      });
      await waitFor(
        '10 running',
        async () => {
          const res = await unary<object, wire.ListTasksResponseOut>(control.ListTasks, control, { service: name });
          return res.tasks.filter((t) => t.state === 'running' && t.desiredState === 'running').length === 10;
        },
        60_000,
        5,
      );
      figures.createTen.push(Date.now() - t0);
      await unary(control.RemoveService, control, { name });
    }
    control.close();
    return figures;
  } finally {
    await c.destroy();
  }
}
