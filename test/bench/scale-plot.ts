/**
 * The scale curve as an SVG for the README (issue 22): one small chart per figure, tasks on a
 * log scale across, the measured points joined, and the target where the issue sets one.
 */
import type { ScaleStep } from './scale.js';

interface Panel {
  title: string;
  value: (s: ScaleStep) => number;
  /** The target at each size, if any (drawn dashed). */
  target?: (tasks: number) => number;
}

const PANELS: Panel[] = [
  { title: 'create → all running (s)', value: (s) => s.createMs / 1000, target: (n) => n / 3000 },
  { title: 'tasks per second', value: (s) => s.tasksPerSecond, target: () => 3000 },
  { title: 'manager RSS (MiB)', value: (s) => s.rssMiB, target: () => 1536 },
  { title: 'service ps, 1,000 tasks (ms)', value: (s) => s.psMs, target: () => 300 },
  { title: 'health result send → ack p99 (ms)', value: (s) => s.ackP99, target: () => 100 },
  { title: 'transition → replacement p99 (ms)', value: (s) => s.replaceP99, target: () => 50 },
  { title: 'status page, 1,000 tasks: render (ms)', value: (s) => s.page.serviceMs, target: () => 1000 },
  { title: 'rollout of 1,000, per batch of 50 (ms)', value: (s) => s.rollout.perBatchMs },
];
const COLUMNS = 4;
const [W, H, PAD] = [300, 170, 36];

export function scalePlot(steps: readonly ScaleStep[], caption: string): string {
  const sizes = steps.map((s) => s.tasks);
  const [lo, hi] = [Math.log10(Math.min(...sizes)), Math.log10(Math.max(...sizes))];
  const x = (n: number): number => PAD + ((Math.log10(n) - lo) / (hi - lo || 1)) * (W - PAD - 10);
  const panels = PANELS.map((p, i) => {
    const values = steps.map(p.value);
    const targets = p.target ? sizes.map(p.target) : [];
    const top = Math.max(...values, ...targets) * 1.1 || 1;
    const y = (v: number): number => H - 24 - (v / top) * (H - 24 - 26);
    const line = (vs: number[]): string => vs.map((v, j) => `${x(sizes[j]!).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    const ticks = sizes.map(
      (n) => `<text x="${x(n).toFixed(1)}" y="${H - 8}" text-anchor="middle">${n >= 1000 ? `${n / 1000}k` : n}</text>`,
    );
    const labels = values.map(
      (v, j) =>
        `<text x="${x(sizes[j]!).toFixed(1)}" y="${(y(v) - 6).toFixed(1)}" text-anchor="middle">${round(v)}</text>`,
    );
    return [
      `<g transform="translate(${(i % COLUMNS) * W},${Math.floor(i / COLUMNS) * H})">`,
      `<text x="${PAD}" y="14" font-weight="bold">${p.title}</text>`,
      `<line x1="${PAD}" y1="${H - 24}" x2="${W - 10}" y2="${H - 24}" stroke="#999"/>`,
      ...ticks,
      targets.length ? `<polyline points="${line(targets)}" fill="none" stroke="#c33" stroke-dasharray="4 3"/>` : '',
      `<polyline points="${line(values)}" fill="none" stroke="#2563eb" stroke-width="2"/>`,
      ...values.map(
        (v, j) => `<circle cx="${x(sizes[j]!).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="#2563eb"/>`,
      ),
      ...labels,
      '</g>',
    ].join('\n');
  });
  const height = Math.ceil(PANELS.length / COLUMNS) * H;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W * COLUMNS}" height="${height + 22}" ` +
      `font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...panels,
    `<text x="${PAD}" y="${height + 14}" fill="#555">${escape(caption)}; tasks (log scale) across, ` +
      `dashed red: the target</text>`,
    '</svg>',
    '',
  ].join('\n');
}

function round(v: number): string {
  return v >= 100 ? String(Math.round(v)) : v.toFixed(1);
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
}
