/**
 * Unknown commands, found before commander parses: commander prints the parent's help for
 * `warren stack deploy --help` (exit 0) instead of saying `stack` is not a command, and suggests
 * commands by spelling (`service logs` → `ls`), which sends a user the wrong way. Warren
 * suggests only a command that means the same (`list` → `ls`), or none.
 */
import type { Command } from 'commander';

/** Words users bring from other tools, and the command that does that here. */
const SAME_MEANING: Readonly<Record<string, string>> = {
  list: 'ls',
  remove: 'rm',
  delete: 'rm',
  del: 'rm',
  show: 'inspect',
  describe: 'inspect',
  info: 'inspect',
  get: 'inspect',
  tasks: 'ps',
  new: 'create',
  add: 'create',
  run: 'create',
  services: 'service',
  nodes: 'node',
};

/** The error for the first word of `args` that names no command of its parent; undefined when there is none. */
export function unknownCommand(program: Command, args: readonly string[]): string | undefined {
  let cmd = program;
  let path = program.name();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') return undefined;
    if (arg.startsWith('-')) {
      // An option that takes a value takes the next word too (unless written --flag=value).
      const option = arg.includes('=') ? undefined : cmd.options.find((o) => o.long === arg || o.short === arg);
      if (option && (option.required || option.optional)) i++;
      continue;
    }
    if (cmd.commands.length === 0 || arg === 'help') return undefined;
    const sub = cmd.commands.find((c) => c.name() === arg || c.aliases().includes(arg));
    if (!sub) {
      const same = SAME_MEANING[arg];
      const known = same !== undefined && cmd.commands.some((c) => c.name() === same);
      const hint = known ? ` (did you mean '${path} ${same}'?)` : '';
      return `unknown command '${arg}'${hint}; run ${path} --help for its commands`;
    }
    cmd = sub;
    path = `${path} ${sub.name()}`;
  }
  return undefined;
}
