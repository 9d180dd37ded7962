/** The generated wire types, under short names. */
export type { ControlServiceClient, ControlServiceHandlers } from './generated/warren/v1/ControlService.js';
export type { WorkerServiceClient, WorkerServiceHandlers } from './generated/warren/v1/WorkerService.js';
export type { Service, Service__Output as ServiceOut } from './generated/warren/v1/Service.js';
export type { ServiceSpec, ServiceSpec__Output as ServiceSpecOut } from './generated/warren/v1/ServiceSpec.js';
export type { ServiceDetail, ServiceDetail__Output as ServiceDetailOut } from './generated/warren/v1/ServiceDetail.js';
export type { ServiceSummary__Output as ServiceSummaryOut } from './generated/warren/v1/ServiceSummary.js';
export type { Task, Task__Output as TaskOut } from './generated/warren/v1/Task.js';
export type { Node, Node__Output as NodeOut } from './generated/warren/v1/Node.js';
export type {
  AssignmentsMessage,
  AssignmentsMessage__Output as AssignmentsMessageOut,
} from './generated/warren/v1/AssignmentsMessage.js';
export type {
  TaskStatusUpdate,
  TaskStatusUpdate__Output as TaskStatusUpdateOut,
} from './generated/warren/v1/TaskStatusUpdate.js';
export type {
  TaskStatusBatch,
  TaskStatusBatch__Output as TaskStatusBatchOut,
} from './generated/warren/v1/TaskStatusBatch.js';
export type { TaskStatusBatchAck__Output as TaskStatusBatchAckOut } from './generated/warren/v1/TaskStatusBatchAck.js';
export type { TaskStatusOutcome } from './generated/warren/v1/TaskStatusOutcome.js';
export type { RegisterRequest__Output as RegisterRequestOut } from './generated/warren/v1/RegisterRequest.js';
export type { RegisterResponse__Output as RegisterResponseOut } from './generated/warren/v1/RegisterResponse.js';
export type { RegisterRequest } from './generated/warren/v1/RegisterRequest.js';
export type { HeartbeatRequest } from './generated/warren/v1/HeartbeatRequest.js';
export type { HeartbeatResponse__Output as HeartbeatResponseOut } from './generated/warren/v1/HeartbeatResponse.js';
export type { ServiceRef } from './generated/warren/v1/ServiceRef.js';
export type { HealthSpec__Output as HealthSpecOut } from './generated/warren/v1/HealthSpec.js';
export type { LogLine, LogLine__Output as LogLineOut } from './generated/warren/v1/LogLine.js';
export type { LogChunk__Output as LogChunkOut } from './generated/warren/v1/LogChunk.js';
export type { LogsRequest, LogsRequest__Output as LogsRequestOut } from './generated/warren/v1/LogsRequest.js';
export type { LogsDone } from './generated/warren/v1/LogsDone.js';
export type {
  ServiceLogsRequest,
  ServiceLogsRequest__Output as ServiceLogsRequestOut,
} from './generated/warren/v1/ServiceLogsRequest.js';
// One long name: prettier would keep it on one line of more than 119 characters.
// prettier-ignore
export type {
  ListServicesResponse__Output as ListServicesResponseOut,
} from './generated/warren/v1/ListServicesResponse.js';
export type { ListTasksResponse__Output as ListTasksResponseOut } from './generated/warren/v1/ListTasksResponse.js';
export type { ListNodesResponse__Output as ListNodesResponseOut } from './generated/warren/v1/ListNodesResponse.js';
export type {
  CreateServiceRequest,
  CreateServiceRequest__Output as CreateServiceRequestOut,
} from './generated/warren/v1/CreateServiceRequest.js';
export type { ScaleServiceRequest } from './generated/warren/v1/ScaleServiceRequest.js';
export type { HealthBatch, HealthBatch__Output as HealthBatchOut } from './generated/warren/v1/HealthBatch.js';
export type { HealthAck, HealthAck__Output as HealthAckOut } from './generated/warren/v1/HealthAck.js';
export type { PhaseHealth, PhaseHealth__Output as PhaseHealthOut } from './generated/warren/v1/PhaseHealth.js';
export type {
  ProbeResult as ProbeResultWire,
  ProbeResult__Output as ProbeResultOut,
} from './generated/warren/v1/ProbeResult.js';
export type { Event as EventWire, Event__Output as EventOut } from './generated/warren/v1/Event.js';
export type {
  EndpointsMessage,
  EndpointsMessage__Output as EndpointsMessageOut,
} from './generated/warren/v1/EndpointsMessage.js';
export type { Endpoint, Endpoint__Output as EndpointOut } from './generated/warren/v1/Endpoint.js';
export type { SlotStatus__Output as SlotStatusOut } from './generated/warren/v1/SlotStatus.js';
export type {
  WatchEventsRequest,
  WatchEventsRequest__Output as WatchEventsRequestOut,
} from './generated/warren/v1/WatchEventsRequest.js';
export type { NodeTransition__Output as NodeTransitionOut } from './generated/warren/v1/NodeTransition.js';
export type { VersionInfo, VersionInfo__Output as VersionInfoOut } from './generated/warren/v1/VersionInfo.js';
export type {
  RegistryAuth as RegistryAuthWire,
  RegistryAuth__Output as RegistryAuthOut,
} from './generated/warren/v1/RegistryAuth.js';
export type { ServiceAuth, ServiceAuth__Output as ServiceAuthOut } from './generated/warren/v1/ServiceAuth.js';
export type { ImageQuery, ImageQuery__Output as ImageQueryOut } from './generated/warren/v1/ImageQuery.js';
export type {
  ImageQueryAnswer,
  ImageQueryAnswer__Output as ImageQueryAnswerOut,
} from './generated/warren/v1/ImageQueryAnswer.js';
export type { IngressTable, IngressTable__Output as IngressTableOut } from './generated/warren/v1/IngressTable.js';
export type { IngressAck, IngressAck__Output as IngressAckOut } from './generated/warren/v1/IngressAck.js';
export type {
  IngressBindError,
  IngressBindError__Output as IngressBindErrorOut,
} from './generated/warren/v1/IngressBindError.js';
export type { TaskPort, TaskPort__Output as TaskPortOut } from './generated/warren/v1/TaskPort.js';
export type {
  IngressProblem,
  IngressProblem__Output as IngressProblemOut,
} from './generated/warren/v1/IngressProblem.js';
export type { IngressService } from './generated/warren/v1/IngressService.js';
export type { IngressEndpoint } from './generated/warren/v1/IngressEndpoint.js';
export type {
  UpdateServiceRequest,
  UpdateServiceRequest__Output as UpdateServiceRequestOut,
} from './generated/warren/v1/UpdateServiceRequest.js';
export type { IssuedCertificate__Output as IssuedCertificateOut } from './generated/warren/v1/IssuedCertificate.js';
export type { JoinTokenInfo__Output as JoinTokenInfoOut } from './generated/warren/v1/JoinTokenInfo.js';
// prettier-ignore
export type {
  RenewCertificateRequest__Output as RenewCertificateRequestOut,
} from './generated/warren/v1/RenewCertificateRequest.js';
export type { ManagersInfo, ManagersInfo__Output as ManagersInfoOut } from './generated/warren/v1/ManagersInfo.js';
export type { ManagerInfo, ManagerInfo__Output as ManagerInfoOut } from './generated/warren/v1/ManagerInfo.js';
export type {
  EtcdMemberInfo,
  EtcdMemberInfo__Output as EtcdMemberInfoOut,
} from './generated/warren/v1/EtcdMemberInfo.js';
