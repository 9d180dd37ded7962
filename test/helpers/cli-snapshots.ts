/**
 * The CLI's views on ServiceDetail snapshots, as the CLI receives them: flags parsed by the real
 * command definitions, specs and snapshots through the real (de)serializers, and a fake manager
 * on a Unix socket that answers InspectService with snapshots in turn.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Command } from 'commander';
import type { ServiceSpec } from '@warren/core';
import { bindServer, specToWire, warrenProto, type wire } from '@warren/api';
import { serviceCommand, specFromFlags, type CreateOptions } from '@warren/cli';

/**
 * Parses `args` with the real flag definitions of `service <sub>`, in process: the action is
 * swapped for one that hands back what commander parsed, so nothing runs (as cli-publish.test.ts).
 */
export async function parsed<Opts>(sub: string, args: string[]): Promise<{ args: unknown[]; opts: Opts }> {
  const command = serviceCommand();
  const target = command.commands.find((c) => c.name() === sub)!;
  for (const c of [command, ...command.commands]) c.exitOverride().configureOutput({ writeErr: () => {} });
  let seen: unknown[] = [];
  target.action((...a: unknown[]) => {
    seen = a;
  });
  await (command as Command).parseAsync([sub, ...args], { from: 'user' });
  const argCount = target.registeredArguments.length;
  return { args: seen.slice(0, argCount), opts: seen[argCount] as Opts };
}

/** The service as created with these flags. */
export async function created(...flags: string[]): Promise<ServiceSpec> {
  const { args, opts } = await parsed<CreateOptions>('create', ['web', '--image', 'web:v1', ...flags]);
  return specFromFlags(args[0] as string, args[1] as string[], opts);
}

export const NOW = Date.parse('2025-01-01T12:00:00Z');
export type Status = NonNullable<wire.ServiceOut['updateStatus']>;

/** Messages as the CLI receives them: through the real (de)serializers, proto3 `optional` markers and all. */
const control = warrenProto().ControlService.service;
const received = (detail: wire.ServiceDetailOut): wire.ServiceDetailOut =>
  control.InspectService.responseDeserialize(control.InspectService.responseSerialize(detail));

/** A spec of 3 replicas with a TCP check, as the CLI receives it; `flags` add to `service create`'s. */
export async function wireSpec(image: string, ...flags: string[]): Promise<wire.ServiceSpecOut> {
  return wireSpecOf(image, '--replicas', '3', '--health-tcp', 'port=80', ...flags);
}

/** The spec `service create web --image <image> <flags>` makes, as the CLI receives it. */
export async function wireSpecOf(image: string, ...flags: string[]): Promise<wire.ServiceSpecOut> {
  const spec = await created(...flags);
  const request = { spec: specToWire({ ...spec, image }) };
  const create = control.CreateService;
  return (create.requestDeserialize(create.requestSerialize(request)) as wire.CreateServiceRequestOut).spec!;
}

export function task(
  id: string,
  slot: number,
  spec: wire.ServiceSpecOut,
  over: Partial<wire.TaskOut> = {},
): wire.TaskOut {
  return {
    id: `${id}00000000000000`,
    serviceId: 'svc1',
    serviceName: 'web',
    slot,
    nodeId: `node-w${slot}`,
    nodeName: `w${slot}`,
    desiredState: 'running',
    state: 'running',
    message: '',
    error: '',
    hasExitCode: false,
    exitCode: 0,
    containerId: `c-${id}`,
    createdAtMs: NOW - 60_000,
    updatedAtMs: NOW - 60_000,
    spec,
    health: [],
    healthStatus: 'healthy',
    ready: true,
    address: '',
    startedAtMs: NOW - 60_000,
    replacing: false,
    held: false,
    ports: [],
    ...over,
  };
}

export function snapshot(
  spec: wire.ServiceSpecOut,
  status: Status | null,
  tasks: wire.TaskOut[],
): wire.ServiceDetailOut {
  return received({
    service: {
      id: 'svc1',
      spec,
      createdAtMs: NOW - 120_000,
      updatedAtMs: NOW,
      imageNote: '',
      registryAuth: false,
      updateStatus: status,
      previousSpec: null,
    },
    tasks,
    endpoints: [],
    slots: [],
    correlatedFailure: false,
    correlatedSinceMs: 0,
    replacementBudget: 1,
    replacementsInFlight: 0,
    held: 0,
    ingressProblems: [],
  });
}

export const status = (state: string, message: string, succeeded = 0, failed = 0): Status => ({
  state,
  startedAtMs: NOW - 10_000,
  completedAtMs: state === 'updating' || state === 'rollback_started' ? 0 : NOW,
  message,
  succeeded,
  failed,
});

let fakes = 0;

/** A ControlService in this process whose InspectService answers `snapshots` in turn (the last one again). */
export async function fakeManager(snapshots: wire.ServiceDetailOut[]): Promise<{ cmd: Command; close: () => void }> {
  const server = new grpc.Server();
  let i = 0;
  const handlers = {
    InspectService: (_call: unknown, reply: (err: null, res: wire.ServiceDetailOut) => void) =>
      reply(null, snapshots[Math.min(i++, snapshots.length - 1)]!),
  };
  server.addService(warrenProto().ControlService.service, handlers as unknown as grpc.UntypedServiceImplementation);
  // As the local CLI reaches the manager: its Unix socket.
  const socket = join(tmpdir(), `warren-fake-manager-${process.pid}-${++fakes}.sock`);
  await bindServer(server, `unix:${socket}`);
  const cmd = new Command().option('--manager <addr>');
  cmd.parse(['--manager', `unix:${socket}`], { from: 'user' });
  return { cmd, close: () => server.forceShutdown() };
}
