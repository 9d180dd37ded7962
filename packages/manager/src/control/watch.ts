import type * as grpc from '@grpc/grpc-js';
import { eventToWire, toServiceError, type wire } from '@warren/api';
import type { Service } from '@warren/core';
import { endpointsOf, type NodeUp } from '../ingress/endpoints.js';
import type { Store } from '../store/store.js';

/**
 * The ControlService's two streams: WatchEndpoints (the current set, then every change) and
 * WatchEvents (replay from a time, then follow until a time). Both end when their client goes.
 */
export function watchHandlers(
  store: Store,
  now: () => number,
  findService: (ref: string) => Service,
  nodeUp: NodeUp,
): Pick<wire.ControlServiceHandlers, 'WatchEndpoints' | 'WatchEvents'> {
  return {
    WatchEndpoints: (call: grpc.ServerWritableStream<{ name: string }, wire.EndpointsMessage>) => {
      let service: Service;
      try {
        service = findService(call.request.name);
      } catch (err) {
        call.emit('error', toServiceError(err));
        return;
      }
      let last = '';
      const send = (): void => {
        const endpoints = endpointsOf(store, service, nodeUp);
        const key = JSON.stringify(endpoints);
        if (key === last) return;
        last = key;
        call.write({ service: service.spec.name, endpoints, atMs: now() });
      };
      send();
      const unsubscribe = store.onCommit((changes) => {
        const touches = changes.some((c) =>
          c.kind === 'putTask' || c.kind === 'deleteTask'
            ? c.task.serviceId === service.id
            : c.kind === 'putHealth'
              ? store.task(c.taskId)?.serviceId === service.id
              : false,
        );
        if (!touches) return;
        if (!store.service(service.id)) {
          unsubscribe();
          call.end();
        } else send();
      });
      call.on('cancelled', unsubscribe);
      call.on('close', unsubscribe);
    },

    WatchEvents: (call: grpc.ServerWritableStream<wire.WatchEventsRequestOut, wire.EventWire>) => {
      const { service, sinceMs, untilMs } = call.request;
      const wanted = (e: { service: string; at: number }): boolean =>
        (service === '' || e.service === service) && (untilMs === 0 || e.at <= untilMs);
      if (sinceMs > 0) for (const e of store.events()) if (e.at >= sinceMs && wanted(e)) call.write(eventToWire(e));
      if (untilMs > 0 && untilMs <= now()) {
        call.end();
        return;
      }
      const unsubscribe = store.onCommit((_changes, events) => {
        for (const e of events) if (wanted(e)) call.write(eventToWire(e));
      });
      const until = untilMs > 0 ? setTimeout(() => call.end(), untilMs - now()) : undefined;
      const done = (): void => {
        clearTimeout(until);
        unsubscribe();
      };
      call.on('cancelled', done);
      call.on('close', done);
    },
  };
}
