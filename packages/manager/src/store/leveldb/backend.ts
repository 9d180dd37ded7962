import { Level } from 'level';
import type { Op, StoreBackend } from '../backend.js';

/**
 * The state in LevelDB in the manager's data dir: every write one fsynced batch, so a mutation is
 * all or nothing even across `kill -9`. Nothing is held back: `later` goes with `now`.
 */
export class LevelBackend implements StoreBackend {
  private constructor(private readonly db: Level<string, unknown>) {}

  static async open(dir: string): Promise<LevelBackend> {
    const db = new Level<string, unknown>(dir, { valueEncoding: 'json' });
    await db.open();
    return new LevelBackend(db);
  }

  load(): AsyncIterable<[string, unknown]> {
    return this.db.iterator();
  }

  async write(now: readonly Op[], later: readonly Op[]): Promise<void> {
    // A chained batch: the same atomic write, without the array form's per-operation preparation
    // (measured: about 4 times the operations per second).
    const batch = this.db.batch();
    for (const op of [...now, ...later]) {
      if (op.type === 'put') batch.put(op.key, op.value);
      else if (op.type === 'del') batch.del(op.key);
      else for await (const key of this.db.keys({ gte: op.key, lt: `${op.key}\uffff` })) batch.del(key);
    }
    await batch.write({ sync: true });
  }

  async check(): Promise<void> {
    const value = String(Date.now());
    await this.db.put('meta:healthcheck', value, { sync: true });
    if ((await this.db.get('meta:healthcheck')) !== value) throw new Error('read back a different value');
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
