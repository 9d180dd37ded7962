import { ValidationError } from '@warren/core';

/** What a `key=value,…` flag value may hold. */
export interface KeyValueSyntax {
  /** The keys, each written `key=value`. */
  keys: readonly string[];
  /** Keys that may be given more than once; their values are kept in order. Default: none. */
  repeatable?: readonly string[];
  /** Words written alone, without `=` (`readonly`). Default: none. */
  words?: readonly string[];
  /** Other spellings, accepted but not listed in errors: `{ src: 'source', ro: 'readonly' }`. */
  aliases?: Readonly<Record<string, string>>;
}

/** The parsed value of a `key=value,…` flag. */
export class KeyValues {
  constructor(private readonly values: ReadonlyMap<string, readonly string[]>) {}

  /** The value of a key (given at most once unless repeatable), or undefined. */
  get(key: string): string | undefined {
    return this.values.get(key)?.[0];
  }

  /** Every value of a repeatable key, in the order given. */
  all(key: string): readonly string[] {
    return this.values.get(key) ?? [];
  }

  /** Whether a key or a word was given. */
  has(key: string): boolean {
    return this.values.has(key);
  }
}

/**
 * Parses the value of `flag`: `path=/health,port=8080` or `source=/srv,target=/data,readonly`.
 * Keys and values are trimmed; a value cannot hold a comma. Throws a ValidationError naming the
 * flag and its whole value for an unknown key, a key given twice or a part without `=`.
 */
export function parseKeyValues(flag: string, text: string, syntax: KeyValueSyntax): KeyValues {
  const words = syntax.words ?? [];
  const values = new Map<string, string[]>();
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const written = (eq < 0 ? part : part.slice(0, eq)).trim();
    const key = syntax.aliases?.[written] ?? written;
    const known = eq < 0 ? words.includes(key) : eq > 0 && syntax.keys.includes(key);
    if (!known) {
      const allowed = [...syntax.keys.map((k) => `${k}=…`), ...words].join(', ');
      throw new ValidationError(flag, text, `"${part}" is not one of ${allowed}`);
    }
    const given = values.get(key);
    if (given && !syntax.repeatable?.includes(key)) {
      throw new ValidationError(flag, text, `${eq < 0 ? key : `${key}=`} is given twice`);
    }
    const value = eq < 0 ? [] : [part.slice(eq + 1).trim()];
    values.set(key, [...(given ?? []), ...value]);
  }
  return new KeyValues(values);
}
