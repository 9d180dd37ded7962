import type Docker from 'dockerode';
import { containerName, servedTargets, type Resources, type Task } from '@warren/core';
import { taskLabels } from './labels.js';

/**
 * What a task's container is created with: its image, command and environment, its labels, its
 * network and DNS, its served ports bound to ephemeral ports of the node's address, and its
 * resource limits.
 */
export function containerOptions(
  task: Task,
  nodeId: string,
  o: { advertiseAddr: string; dns: string | undefined },
): Docker.ContainerCreateOptions {
  const { spec } = task;
  const served = servedTargets(spec);
  const bindings = Object.fromEntries(
    served.map((target) => [`${target}/tcp`, [{ HostIp: o.advertiseAddr, HostPort: '' }]]),
  );
  return {
    name: containerName(task),
    Image: spec.image,
    ExposedPorts: Object.fromEntries(served.map((target) => [`${target}/tcp`, {}])),
    ...(spec.command.length > 0 ? { Cmd: spec.command } : {}),
    Env: spec.env,
    Labels: taskLabels(task, nodeId),
    StopTimeout: Math.ceil(spec.stopTimeoutMs / 1000),
    // Warren's prober runs the checks, the image's HEALTHCHECK too: Docker's own never runs twice.
    Healthcheck: { Test: ['NONE'] },
    HostConfig: {
      NetworkMode: spec.network,
      Binds: spec.mounts.map((m) => `${m.source}:${m.target}${m.readonly ? ':ro' : ''}`),
      // An init as PID 1 passes SIGTERM on to the command and reaps orphans (exec probes).
      Init: true,
      RestartPolicy: { Name: 'no' },
      PortBindings: bindings,
      // Not on the host network: such a task shares the host's resolv.conf.
      ...(o.dns && spec.network !== 'host' ? { Dns: [o.dns] } : {}),
      ...limits(spec.resources),
    },
  };
}

/**
 * `--limit-*` as the Engine API takes them. Swap is held to the memory limit (MemorySwap equal
 * to Memory), so a task past `--limit-memory` is out of memory rather than swapping.
 */
function limits(r: Resources | undefined): Docker.HostConfig {
  if (!r) return {};
  const { nanoCpus, memoryBytes, pids } = r.limits;
  return {
    ...(nanoCpus > 0 ? { NanoCpus: nanoCpus } : {}),
    ...(memoryBytes > 0 ? { Memory: memoryBytes, MemorySwap: memoryBytes } : {}),
    ...(pids > 0 ? { PidsLimit: pids } : {}),
  };
}
