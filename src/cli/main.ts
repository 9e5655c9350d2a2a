/** The `nitro-d` command line: one subcommand per job, one-line errors, non-zero exit on failure. */
import { UsageError } from './args.ts';
import { BENCH_HELP, benchCommand } from './commands/bench.ts';
import { BENCH_KERNELS_HELP, benchKernelsCommand } from './commands/bench-kernels.ts';
import { predictCommand, stepCommand } from './commands/golden.ts';
import { EVAL_HELP, evalCommand, infoCommand, initCommand } from './commands/model-tools.ts';
import { TRAIN_HELP, trainCommand } from './commands/train.ts';
import { TUNE_HELP, tuneCommand } from './commands/tune.ts';

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, { run: Command; help: string }> = {
  train: { run: trainCommand, help: TRAIN_HELP },
  eval: { run: evalCommand, help: EVAL_HELP },
  init: {
    run: initCommand,
    help: 'write seeded integer Kaiming weights: --preset P | --model M.json, --out W [--seed S] [--memory-limit SIZE]',
  },
  info: {
    run: infoCommand,
    help: 'adapter, features and limits; with --preset P | --model M.json [--batch B]: the memory plan [--json] [--memory-limit SIZE]',
  },
  step: {
    run: stepCommand,
    help: 'run training steps on pre-made batches: --model M.json --weights W --batches B --out OUT [--backend webgpu|cpu] [--memory-limit SIZE]',
  },
  predict: {
    run: predictCommand,
    help: 'predict inputs: --model M.json --weights W --input X --out P [--backend webgpu|cpu] [--memory-limit SIZE]',
  },
  bench: { run: benchCommand, help: BENCH_HELP },
  'bench-kernels': { run: benchKernelsCommand, help: BENCH_KERNELS_HELP },
  tune: { run: tuneCommand, help: TUNE_HELP },
};

export function usage(): string {
  const lines = ['usage: nitro-d <command> [options]', '', 'commands:'];
  for (const [name, c] of Object.entries(COMMANDS))
    lines.push(`  ${name.padEnd(13)} ${c.help.split('\n')[0]}`);
  lines.push('', 'Run `nitro-d <command> --help` for the options of a command.');
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`nitro-d: unknown command '${name}'\n${usage()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(`nitro-d ${name}: ${command.help}`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    const first = ((e as Error).message ?? String(e)).split('\n')[0];
    // Usage errors already start with the command name; say it once.
    const message = first.startsWith(`${name}: `) ? first.slice(name.length + 2) : first;
    console.error(`nitro-d ${name}: ${message}`);
    return e instanceof UsageError ? 2 : 1;
  }
}
