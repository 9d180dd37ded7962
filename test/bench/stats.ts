export function percentile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** One wrk run of a path: requests per second, p99 latency (ms), the proxy's CPU (cores) when measured. */
export interface PathSample {
  rps: number;
  p99: number;
  cpu?: number;
}

/** A path's figures over its runs: the median of each. */
export function medianOfRuns(path: string, runs: readonly PathSample[]) {
  const cpus = runs.flatMap((x) => (x.cpu === undefined ? [] : [x.cpu]));
  return {
    path,
    requestsPerSecond: percentile(
      runs.map((x) => x.rps),
      0.5,
    ),
    p99Ms: percentile(
      runs.map((x) => x.p99),
      0.5,
    ),
    ...(cpus.length > 0 ? { cpuCores: percentile(cpus, 0.5) } : {}),
  };
}
