/** A manager store (LevelDB) in a temporary directory, closed and removed when the test ends. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { Store } from '@warren/manager';

export async function tempStore(t: TestContext, name: string): Promise<Store> {
  const dir = await mkdtemp(join(tmpdir(), `warren-${name}-`));
  const store = await Store.open(dir);
  t.after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return store;
}
