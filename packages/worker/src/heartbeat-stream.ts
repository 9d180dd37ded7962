import * as grpc from '@grpc/grpc-js';
import type { wire } from '@warren/api';

type Beat = wire.HeartbeatRequest;
type Answer = wire.HeartbeatResponseOut;

interface Waiting {
  resolve: (answer: Answer) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * The worker's heartbeats on one stream to the manager (`Heartbeats`): `beat` sends one and waits
 * for its answer. Answers come in order, one per beat. A beat not answered in time, or a stream
 * that breaks, fails the beat; a broken stream is `closed`, and the link opens another.
 */
export class HeartbeatStream {
  readonly #call: grpc.ClientDuplexStream<Beat, Answer>;
  readonly #waiting: Waiting[] = [];
  #closed = false;

  constructor(client: wire.WorkerServiceClient) {
    this.#call = client.Heartbeats();
    this.#call.on('data', (answer: Answer) => {
      const first = this.#waiting.shift();
      if (!first) return;
      clearTimeout(first.timer);
      first.resolve(answer);
    });
    this.#call.on('error', (err: Error) => this.#fail(err));
    this.#call.on('end', () => this.#fail(new Error('the manager ended the heartbeat stream')));
  }

  get closed(): boolean {
    return this.#closed;
  }

  beat(request: Beat, timeoutMs: number): Promise<Answer> {
    if (this.#closed) return Promise.reject(new Error('the heartbeat stream is closed'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const at = this.#waiting.findIndex((w) => w.timer === timer);
        if (at >= 0) this.#waiting.splice(at, 1);
        // A later answer would be taken for a later beat: this stream is done.
        this.close();
        reject(
          Object.assign(new Error(`no answer to a heartbeat within ${timeoutMs} ms`), {
            code: grpc.status.DEADLINE_EXCEEDED,
          }),
        );
      }, timeoutMs);
      this.#waiting.push({ resolve, reject, timer });
      this.#call.write(request);
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#fail(new Error('the heartbeat stream was closed'));
    this.#call.cancel();
  }

  #fail(err: Error): void {
    this.#closed = true;
    for (const w of this.#waiting.splice(0)) {
      clearTimeout(w.timer);
      w.reject(err);
    }
  }
}
