import type { Logger } from 'pino';
import type { RegistryAuth } from '@warren/core';
import type { AssignedTask, wire } from '@warren/api';
import type { EngineState } from './engine-watch.js';
import type { ManagerEndpoints } from './manager-endpoints.js';
import type { ContainerRuntime } from './runtime.js';
import type { LogsQuestion } from './logs/task-logs.js';

/** What the link does with the manager's assignments. */
export interface AssignmentHandler {
  /** The whole set of the node's tasks: the first message of every stream. */
  full(tasks: AssignedTask[]): void;
  /** Tasks added or changed, and tasks the manager forgot. */
  changes(tasks: AssignedTask[], removedTaskIds: string[]): void;
  /** Registry credentials of a service whose tasks this node runs (sent before its tasks). */
  registryAuth(serviceId: string, auth: RegistryAuth): void;
  /** The manager asks the engine about an image: answer with AnswerImageQuery. */
  imageQuery(query: ImageQuestion): void;
  /** The manager asks for tasks' output (`service logs`): send it with SendLogs. */
  logs(question: LogsQuestion): void;
  /**
   * A new ingress table for the proxy (`first`: the one that came with the stream's full set):
   * acknowledge it with `ackIngress` once applied.
   */
  ingress(table: wire.IngressTableOut, first: boolean): void;
}

/** A question of the manager about an image. */
export interface ImageQuestion {
  id: string;
  image: string;
  auth?: RegistryAuth;
}

export interface ManagerLinkOptions {
  client: wire.WorkerServiceClient;
  /** The managers' gRPC addresses (`a,b,c`), for logs. */
  manager: string;
  /** Which manager the client talks to: a refusal or silence moves it (to the leader, or on). */
  managers: Pick<ManagerEndpoints, 'failed' | 'electing' | 'address'>;
  /** Node name. The same name after a restart is the same node. */
  name: string;
  /** Told at registration: where other nodes reach this node's tasks, and where its proxy listens. */
  address: string;
  ingressAddress: string;
  /** The engine's images, sent at registration and when they change; its CPUs and memory. */
  runtime: Pick<ContainerRuntime, 'images' | 'capacity'>;
  /** The engine's last answer to a ping, sent with every heartbeat. */
  engine: () => EngineState;
  assignments: AssignmentHandler;
  logger: Logger;
}
