/** The CLI's flag parsing and views, for tests and embedders; the `warren` command itself is main.ts. */
export { KeyValues, parseKeyValues, type KeyValueSyntax } from './key-values.js';
export { healthFromFlags, parseHandler } from './health-flags.js';
export { parseMount, parseScaleTargets, specFromFlags, type CreateOptions } from './service-flags.js';
export { updatedEnv, updatedPorts, updatedSpec, type UpdateOptions } from './update-spec.js';
export { resourcesFromFlags, throttledFromFlags } from './resource-flags.js';
export {
  followOutcome,
  onSpec,
  progressLines,
  rolloutOutcome,
  rolloutWatch,
  STATE_WORDS,
  type Following,
} from './views/rollout.js';
export { ChangedLines, type Outcome, type ProgressLine, type Watch } from './views/progress.js';
export { convergeLines, convergeOutcome, convergeWatch } from './views/converge.js';
export {
  CHECK_PATIENCE_MS,
  createScope,
  judgeDown,
  judgeUp,
  scaleScope,
  shortReason,
  type WaitScope,
} from './views/wait-rules.js';
export { follow, POLL_INTERVAL_MS, type FollowOptions, type ProgressStream } from './follow.js';
export { CliError } from './errors.js';
export { cliErrorFrom } from './rpc-errors.js';
export { unknownCommand } from './unknown-command.js';
export { warrenProgram } from './program.js';
export { runUntilSignal } from './daemon.js';
export { previousSpecText, updateStatusText } from './views/service-update.js';
export { ingressOptions, parseDrainTimeout, parseIp, type IngressFlags } from './daemon-flags.js';
export { serviceDetailText } from './views/service-inspect.js';
export { serviceDetailJson, servicesJson, taskJson } from './views/service-json.js';
export { servicesTable, tasksTable } from './views/service-list.js';
export { nodeDetailText, nodeJson, nodesTable } from './views/node.js';
export { managerCommand, upCommand, workerCommand } from './commands/daemons.js';
export { serviceCommand } from './commands/service.js';
export { readStack } from './stack/compose-stack.js';
export { stackPlan, type StackStep } from './stack/stack-plan.js';
