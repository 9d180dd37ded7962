/** A stack's compose files, read whole: every service's spec, or the first error (exit 2, nothing changed). */
import type { ServiceSpec } from '@warren/core';
import { CliError } from '../errors.js';
import { ComposeError, isMapping, loadComposeFiles } from './compose-file.js';
import { composeService } from './compose-service.js';

/** Top-level keys read (`version` and `name` are accepted and unused, as by Docker); the rest are warned about. */
const TOP_KEYS = new Set(['version', 'name', 'services']);

export async function readStack(
  files: string[],
  stack: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ specs: ServiceSpec[]; unsupported: string[] }> {
  try {
    const file = await loadComposeFiles(files, env);
    const { services } = file.root;
    if (!isMapping(services) || Object.keys(services).length === 0)
      throw new ComposeError(file.where('services'), 'services', 'the files name no service');
    const unsupported = Object.keys(file.root).filter((k) => !TOP_KEYS.has(k) && !k.startsWith('x-'));
    const specs = Object.keys(services).map((key) => {
      const mapped = composeService(file, stack, key, env);
      unsupported.push(...mapped.unsupported);
      return mapped.spec;
    });
    return { specs, unsupported };
  } catch (err) {
    if (err instanceof ComposeError) throw new CliError(err.message, 2);
    throw err;
  }
}
