/** How far a pull is, over the whole image (all its layers). */
export interface PullProgress {
  /** Bytes downloaded so far. */
  currentBytes: number;
  /** Bytes to download; undefined while some layer's size is not yet known. */
  totalBytes: number | undefined;
  /** Every layer is downloaded (or was already on the engine); the engine unpacks them. */
  extracting: boolean;
}

/** A line of the engine's pull stream (`POST /images/create`), the fields read here. */
export interface PullEvent {
  status?: string;
  /** A layer's short id, or the tag in `Pulling from …`. */
  id?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message?: string };
}

interface Layer {
  current: number;
  total: number | undefined;
  downloaded: boolean;
}

/** Statuses after which a layer's bytes are all here (`Extracting` counts unpacked bytes, not downloaded ones). */
const DOWNLOADED = new Set(['Verifying Checksum', 'Download complete', 'Extracting', 'Pull complete']);
const PENDING = new Set(['Pulling fs layer', 'Waiting']);

/** Sums the per-layer events of one pull into the image's progress. */
export class PullProgressTracker {
  readonly #layers = new Map<string, Layer>();

  add(event: PullEvent): void {
    const { status = '', id } = event;
    if (id === undefined) return;
    const known = this.#layers.get(id);
    if (status === 'Already exists') this.#layers.set(id, { current: 0, total: 0, downloaded: true });
    else if (PENDING.has(status)) {
      if (!known) this.#layers.set(id, { current: 0, total: undefined, downloaded: false });
    } else if (status === 'Downloading') {
      const { current = 0, total = 0 } = event.progressDetail ?? {};
      this.#layers.set(id, { current, total: total > 0 ? total : known?.total, downloaded: false });
    } else if (DOWNLOADED.has(status)) {
      const total = known?.total ?? known?.current ?? 0;
      this.#layers.set(id, { current: total, total, downloaded: true });
    }
    // `Pulling from …`, `Retrying in 5 seconds` and statuses not known here change nothing.
  }

  get progress(): PullProgress {
    const layers = [...this.#layers.values()];
    const currentBytes = layers.reduce((sum, l) => sum + l.current, 0);
    const unknown = layers.length === 0 || layers.some((l) => l.total === undefined);
    const totalBytes = unknown ? undefined : layers.reduce((sum, l) => sum + (l.total ?? 0), 0);
    const extracting = layers.length > 0 && layers.every((l) => l.downloaded);
    return { currentBytes, totalBytes, extracting };
  }
}

/** `pulling 42% of 35.1 MB`; `pulling 35.1 MB` while the total is unknown; `extracting` once all is here. */
export function describeProgress(p: PullProgress): string {
  if (p.extracting) return 'extracting';
  if (p.totalBytes === undefined || p.totalBytes <= 0) {
    return p.currentBytes > 0 ? `pulling ${formatBytes(p.currentBytes)}` : 'pulling';
  }
  const percent = Math.min(100, Math.floor((p.currentBytes / p.totalBytes) * 100));
  return `pulling ${percent}% of ${formatBytes(p.totalBytes)}`;
}

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB'];

/** Decimal units with one decimal, as Docker writes sizes: `35.1 MB`, `512 B`. */
export function formatBytes(bytes: number): string {
  let value = Math.max(0, bytes);
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/**
 * Calls `emit` at most once every `intervalMs`: at once when the last call is that long ago,
 * otherwise once it is (so the latest state always gets out).
 */
export class ProgressThrottle {
  #lastMs = -Infinity;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly emit: () => void,
  ) {}

  /** Something changed. */
  poke(): void {
    if (this.#timer) return;
    const waitMs = this.#lastMs + this.intervalMs - performance.now();
    if (waitMs <= 0) this.#fire();
    else this.#timer = setTimeout(() => this.#fire(), waitMs);
  }

  /** Emits now (the end of a pull) and cancels a pending emit. */
  flush(): void {
    this.cancel();
    this.#fire();
  }

  cancel(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #fire(): void {
    this.#timer = undefined;
    this.#lastMs = performance.now();
    this.emit();
  }
}
