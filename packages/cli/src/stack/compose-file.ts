/**
 * Compose files as `warren stack deploy -c a.yml -c b.yml` reads them: parsed with `yaml` (which
 * keeps where each value was written), `${VAR}` interpolated from the environment, merged in
 * order as Docker's (mappings key by key, a later file winning; other values replaced whole;
 * `environment` merged by variable). Every value's file and line is kept for error messages:
 * `compose.yml:14 services.web.deploy.replicas: must be a whole number ≥ 0`.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { LineCounter, isMap, isPair, isScalar, isSeq, parseDocument, type Node } from 'yaml';

/** A bad file: exit 2, nothing changed. `where` is `file:line`, `path` the key's dotted path. */
export class ComposeError extends Error {
  constructor(
    readonly where: string,
    readonly path: string,
    readonly why: string,
  ) {
    super(`${where}${path ? ` ${path}` : ''}: ${why}`);
  }
}

export type Value = null | boolean | number | string | Value[] | { [key: string]: Value };
export type Mapping = { [key: string]: Value };

export interface ComposeFile {
  /** The merged document. */
  root: Mapping;
  /** `file:line` of a dotted path, or of its nearest parent that was written. */
  where(path: string): string;
}

export async function loadComposeFiles(paths: string[], env: NodeJS.ProcessEnv = process.env): Promise<ComposeFile> {
  const origins = new Map<string, string>();
  let root: Mapping = {};
  for (const path of paths) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new ComposeError(path, '', `cannot read it: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    const name = basename(path);
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    const error = doc.errors[0];
    if (error) {
      const line = lines.linePos(error.pos[0]).line;
      throw new ComposeError(`${name}:${line}`, '', error.message.split('\n')[0]!);
    }
    const at = (node: Node | null | undefined): string => `${name}:${lines.linePos(node?.range?.[0] ?? 0).line}`;
    origins.set('', `${name}:1`);
    record(doc.contents, '', at, origins);
    const value = interpolate(doc.toJS({ maxAliasCount: 100 }) as Value, '', env, (p) => origins.get(p) ?? name);
    if (value === null || value === undefined) continue;
    if (!isMapping(value)) throw new ComposeError(`${name}:1`, '', 'a compose file is a mapping (services: …)');
    root = merge(root, value, '') as Mapping;
  }
  const parent = (p: string): string =>
    p.endsWith(']') ? p.slice(0, p.lastIndexOf('[')) : p.slice(0, Math.max(0, p.lastIndexOf('.')));
  const where = (path: string): string => {
    for (let p = path; ; p = parent(p)) {
      const found = origins.get(p);
      if (found) return found;
      if (p === '') return paths[0] ?? '';
    }
  };
  return { root, where };
}

export function isMapping(value: unknown): value is Mapping {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Where each key (and list item) was written, by dotted path: a later file's replace an earlier's. */
function record(node: unknown, path: string, at: (n: Node) => string, origins: Map<string, string>): void {
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isPair(pair) || !isScalar(pair.key)) continue;
      const child = path ? `${path}.${String(pair.key.value)}` : String(pair.key.value);
      origins.set(child, at(pair.key));
      record(pair.value, child, at, origins);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      const child = `${path}[${i}]`;
      if (item && typeof item === 'object' && 'range' in item) origins.set(child, at(item as Node));
      record(item, child, at, origins);
    });
  }
}

/** Compose's interpolation in strings: `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `$VAR`, `$$`. */
function interpolate(value: Value, path: string, env: NodeJS.ProcessEnv, where: (path: string) => string): Value {
  if (typeof value === 'string') {
    return value.replace(
      /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)|\$\{[^}]*\}?/g,
      (whole, name?: string, op?: string, fallback?: string, bare?: string) => {
        if (whole === '$$') return '$';
        const key = name ?? bare;
        if (!key)
          throw new ComposeError(where(path), path, `${JSON.stringify(whole)} is not a variable (write $$ for $)`);
        const set = env[key];
        if (op === ':-') return set ? set : (fallback ?? '');
        if (op === '-') return set !== undefined ? set : (fallback ?? '');
        return set ?? '';
      },
    );
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, `${path}[${i}]`, env, where));
  if (isMapping(value)) {
    const out: Mapping = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolate(v, path ? `${path}.${k}` : k, env, where);
    return out;
  }
  return value;
}

/** Docker's merge of compose files: mappings key by key; `environment` by variable; the rest replaced. */
function merge(base: Value, over: Value, key: string): Value {
  if (key === 'environment' && base !== null && over !== null) return { ...environment(base), ...environment(over) };
  if (!isMapping(base) || !isMapping(over)) return over;
  const out: Mapping = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = k in base ? merge(base[k]!, v, k) : v;
  return out;
}

/** `environment` as a list (`KEY=VALUE`, `KEY`) or a mapping, as a mapping (null: from the shell). */
export function environment(value: Value): Record<string, Value> {
  if (isMapping(value)) return value;
  if (!Array.isArray(value)) return {};
  const out: Record<string, Value> = {};
  for (const entry of value) {
    const text = String(entry);
    const eq = text.indexOf('=');
    out[eq < 0 ? text : text.slice(0, eq)] = eq < 0 ? null : text.slice(eq + 1);
  }
  return out;
}
