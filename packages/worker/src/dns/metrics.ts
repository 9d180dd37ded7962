import { Counter, Histogram, type Registry } from 'prom-client';

/** How a query was answered: from Warren's names, by an upstream, or with SERVFAIL. */
export type DnsAnswer = 'warren' | 'forwarded' | 'failed';

/** What the DNS server counts. */
export interface DnsMetrics {
  answered(answer: DnsAnswer, seconds: number): void;
}

const NONE: DnsMetrics = { answered: () => undefined };

/** Answers are a few microseconds from Warren's table; forwarded ones take an upstream's time. */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2];

/**
 * The DNS server's metrics in `registry`; nothing is counted without one. The counter adds to
 * plain numbers that prom-client reads when scraped, as the ingress proxy's do.
 */
export function dnsMetrics(registry: Registry | undefined): DnsMetrics {
  if (!registry) return NONE;
  const registers = [registry];
  const counts: Record<DnsAnswer, number> = { warren: 0, forwarded: 0, failed: 0 };
  new Counter({
    name: 'warren_dns_queries_total',
    help: "DNS queries of the node's containers, by answer (warren: a Warren name, forwarded, failed)",
    labelNames: ['answer'],
    registers,
    collect() {
      this.reset();
      for (const [answer, value] of Object.entries(counts)) this.inc({ answer }, value);
    },
  });
  const seconds = new Histogram({
    name: 'warren_dns_answer_seconds',
    help: 'How long DNS queries took to answer, by answer (warren, forwarded, failed)',
    labelNames: ['answer'],
    buckets: BUCKETS,
    registers,
  });
  return {
    answered(answer, elapsed) {
      counts[answer]++;
      seconds.observe({ answer }, elapsed);
    },
  };
}
