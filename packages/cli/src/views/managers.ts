/** The managers and etcd's members in words, for `manager ls` (and the line `node ls` adds). */
import type { wire } from '@warren/api/convert';
import { ago, table } from '../output.js';

export function managersText(info: wire.ManagersInfoOut, now = Date.now()): string {
  const rows = info.managers.map((m) => [
    `${m.id}${m.self ? ' *' : ''}`,
    m.leader ? 'leader' : 'follower',
    m.address,
    m.http,
    ago(Number(m.startedAtMs), now),
  ]);
  const lines = [table(['ID', 'ROLE', 'ADDRESS', 'HTTP', 'STARTED'], rows)];
  if (info.store === 'leveldb') lines.push('', 'Store: LevelDB in the data dir (one manager)');
  else {
    const members = info.etcd.map((e) => [
      e.endpoint,
      e.healthy ? 'healthy' : 'unhealthy',
      e.leader ? 'leader' : '',
      e.message,
    ]);
    lines.push('', `Store: etcd, ${info.etcd.filter((e) => e.healthy).length}/${info.etcd.length} members healthy`);
    lines.push(table(['ENDPOINT', 'HEALTH', 'RAFT', 'MESSAGE'], members));
  }
  if (info.message) lines.push('', info.message);
  return `${lines.join('\n')}\n`;
}

/** One line for `node ls` with several managers: `Managers: 3, leader 3f2a… at 10.0.0.1:7420; etcd 3/3 healthy`. */
export function managersLine(info: wire.ManagersInfoOut): string {
  if (info.store === 'leveldb') return '';
  const leader = info.managers.find((m) => m.leader);
  const leads = leader ? `leader ${leader.id} at ${leader.address}` : `no leader (${info.message || 'an election'})`;
  const healthy = info.etcd.filter((e) => e.healthy).length;
  return `Managers: ${info.managers.length}, ${leads}; etcd ${healthy}/${info.etcd.length} members healthy`;
}
