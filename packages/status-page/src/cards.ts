/**
 * Which of a service's live tasks the page draws as cards (with their checks' recent runs) and which
 * as rows of one table. Shared by the page and by the manager, which sends check results only for
 * the tasks drawn as cards: a thousand tasks' results were 1.3 MB of JSON per view.
 */

/** Live tasks drawn as cards at most. */
export const CARDS_SHOWN = 50;

/** What choosing needs of a task. */
export interface Choosable {
  id: string;
  slot: number;
  state: string;
  health: string;
  ready: boolean;
}

/** How much a live task needs looking at: 0 not running, 1 unhealthy, 2 not ready, 3 starting, 4 fine. */
function trouble(t: Choosable): number {
  if (t.state !== 'running') return 0;
  if (t.health === 'unhealthy') return 1;
  if (!t.ready) return 2;
  return t.health === 'starting' ? 3 : 4;
}

/**
 * Which live tasks get a card (at most `limit`: those in most trouble, then by slot) and which a
 * row (by slot); both keep slot order among themselves.
 */
export function cardsFirst<T extends Choosable>(live: readonly T[], limit = CARDS_SHOWN): { cards: T[]; rows: T[] } {
  const bySlot = [...live].sort((a, b) => a.slot - b.slot || a.id.localeCompare(b.id));
  if (bySlot.length <= limit) return { cards: bySlot, rows: [] };
  const chosen = new Set([...bySlot].sort((a, b) => trouble(a) - trouble(b)).slice(0, limit));
  return { cards: bySlot.filter((t) => chosen.has(t)), rows: bySlot.filter((t) => !chosen.has(t)) };
}
