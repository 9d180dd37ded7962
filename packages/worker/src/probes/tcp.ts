import { connect } from 'node:net';
import type { ProbeHandler } from '@warren/core';
import { networkError, timedOut, type ProbeOutcome, type ProbeTarget } from './types.js';

type TcpHandler = Extract<ProbeHandler, { kind: 'tcp' }>;

/** Success when a TCP connection to the port opens; it is closed at once. */
export function tcpProbe(h: TcpHandler, target: ProbeTarget, timeoutMs: number): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const socket = connect({ host: target.address, port: h.port });
    const finish = (outcome: ProbeOutcome): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish(timedOut(timeoutMs)), timeoutMs);
    socket.once('connect', () => finish({ outcome: 'success', output: 'connected' }));
    socket.once('error', (err) => finish({ outcome: 'failure', output: networkError(err) }));
  });
}
