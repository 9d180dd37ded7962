import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TaskView } from '@warren/status-page';
import { CARDS_SHOWN, cardsFirst } from '@warren/status-page/cards';

function task(slot: number, over: Partial<TaskView> = {}): TaskView {
  return {
    id: `t${String(slot).padStart(4, '0')}`,
    slot,
    node: 'n1',
    image: 'img',
    state: 'running',
    desiredState: 'running',
    health: 'healthy',
    ready: true,
    message: '',
    error: '',
    updatedAt: 0,
    checks: [],
    ...over,
  };
}

const slots = (ts: TaskView[]) => ts.map((t) => t.slot);

test('a service with few tasks: every task is a card, by slot', () => {
  const tasks = [task(3), task(1), task(2)];
  assert.deepEqual(slots(cardsFirst(tasks).cards), [1, 2, 3]);
  assert.deepEqual(cardsFirst(tasks).rows, []);
});

test('past the limit, tasks in trouble get the cards first, the rest are rows by slot', () => {
  const tasks = Array.from({ length: 1000 }, (_, i) => task(i + 1));
  tasks[899] = task(900, { health: 'unhealthy' });
  tasks[499] = task(500, { ready: false });
  tasks[699] = task(700, { state: 'starting', health: 'starting', ready: false });
  tasks[9] = task(10, { health: 'starting' });
  const { cards, rows } = cardsFirst(tasks, 5);
  // Not running, unhealthy, not ready, starting, then the lowest slot; shown in slot order.
  assert.deepEqual(slots(cards), [1, 10, 500, 700, 900]);
  assert.equal(rows.length, 995);
  assert.deepEqual(slots(rows).slice(0, 3), [2, 3, 4]);
  assert.ok(
    slots(rows).every((s, i, all) => i === 0 || all[i - 1]! < s),
    'rows in slot order',
  );
  assert.equal(cardsFirst(tasks).cards.length, CARDS_SHOWN);
});
