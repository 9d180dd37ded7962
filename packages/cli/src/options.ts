import { Option } from 'commander';

/** `--format table|json`, the output format of the commands that print state. */
export function formatOption(): Option {
  return new Option('--format <format>', 'output format').choices(['table', 'json']).default('table');
}

/** Commander's argument parser for a repeatable option: every value, in order. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
