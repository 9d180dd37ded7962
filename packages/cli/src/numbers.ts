import { ValidationError } from '@warren/core';

/** Parses a whole number for `flag`, refusing `3.5`, `abc` or `""`. */
export function parseCount(flag: string, text: string): number {
  if (!/^-?\d+$/.test(text.trim())) throw new ValidationError(flag, text, 'must be a whole number');
  return Number(text);
}
