/** The `nitro-d` command line: one subcommand per job, one-line errors, non-zero exit on failure. */
import { type FlagSpec, UsageError } from './args.ts';
import { BENCH_FLAGS, BENCH_HELP, benchCommand } from './commands/bench.ts';
import {
  BENCH_KERNELS_FLAGS,
  BENCH_KERNELS_HELP,
  benchKernelsCommand,
} from './commands/bench-kernels.ts';
import { DOCTOR_FLAGS, DOCTOR_HELP, doctorCommand } from './commands/doctor.ts';
import {
  PREDICT_FLAGS,
  PREDICT_HELP,
  predictCommand,
  STEP_FLAGS,
  STEP_HELP,
  stepCommand,
} from './commands/golden.ts';
import {
  EVAL_FLAGS,
  EVAL_HELP,
  evalCommand,
  INFO_FLAGS,
  INFO_HELP,
  INIT_FLAGS,
  INIT_HELP,
  infoCommand,
  initCommand,
} from './commands/model-tools.ts';
import { TRAIN_FLAGS, TRAIN_HELP, trainCommand } from './commands/train.ts';
import { TUNE_FLAGS, TUNE_HELP, tuneCommand } from './commands/tune.ts';
import { WORKER_FLAGS, WORKER_HELP, workerCommand } from './commands/worker.ts';

type Command = (argv: string[]) => Promise<number>;

export interface CommandEntry {
  run: Command;
  /** First line: what it does; then one line per flag. */
  help: string;
  flags: FlagSpec;
  example: string;
}

export const COMMANDS: Record<string, CommandEntry> = {
  train: {
    run: trainCommand,
    help: TRAIN_HELP,
    flags: TRAIN_FLAGS,
    example: 'nitro-d train --preset mlp1 --epochs 3 --out runs/mlp1',
  },
  worker: {
    run: workerCommand,
    help: WORKER_HELP,
    flags: WORKER_FLAGS,
    example: 'nitro-d worker --nats nats://nats-host:4222 --backend webgpu',
  },
  eval: {
    run: evalCommand,
    help: EVAL_HELP,
    flags: EVAL_FLAGS,
    example: 'nitro-d eval --preset mlp1 --weights runs/mlp1/best.safetensors',
  },
  init: {
    run: initCommand,
    help: INIT_HELP,
    flags: INIT_FLAGS,
    example: 'nitro-d init --preset mlp2 --seed 7 --out mlp2-init.safetensors',
  },
  info: {
    run: infoCommand,
    help: INFO_HELP,
    flags: INFO_FLAGS,
    example: 'nitro-d info --preset vgg8b --batch 64',
  },
  step: {
    run: stepCommand,
    help: STEP_HELP,
    flags: STEP_FLAGS,
    example:
      'nitro-d step --model model.json --weights init.safetensors --batches batches.safetensors --out after.safetensors',
  },
  predict: {
    run: predictCommand,
    help: PREDICT_HELP,
    flags: PREDICT_FLAGS,
    example:
      'nitro-d predict --model model.json --weights best.safetensors --input x.safetensors --out logits.safetensors',
  },
  bench: {
    run: benchCommand,
    help: BENCH_HELP,
    flags: BENCH_FLAGS,
    example: 'nitro-d bench --preset mlp2 --steps 50',
  },
  'bench-kernels': {
    run: benchKernelsCommand,
    help: BENCH_KERNELS_HELP,
    flags: BENCH_KERNELS_FLAGS,
    example: 'nitro-d bench-kernels --backend webgpu --filter conv --variants',
  },
  tune: {
    run: tuneCommand,
    help: TUNE_HELP,
    flags: TUNE_FLAGS,
    example: 'nitro-d tune --preset vgg8b --budget-s 60',
  },
  doctor: {
    run: doctorCommand,
    help: DOCTOR_HELP,
    flags: DOCTOR_FLAGS,
    example: 'nitro-d doctor --fetch-fallback',
  },
};

export function usage(): string {
  const lines = ['usage: nitro-d <command> [options]', '', 'commands:'];
  for (const [name, c] of Object.entries(COMMANDS))
    lines.push(`  ${name.padEnd(13)} ${c.help.split('\n')[0]}`);
  lines.push('', 'Run `nitro-d <command> --help` for the options of a command.');
  return lines.join('\n');
}

export function commandHelp(name: string): string {
  const c = COMMANDS[name];
  return `usage: nitro-d ${name} [options]\n${name}: ${c.help}\n  --help                 this text\nexample:\n  ${c.example}`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`nitro-d: unknown command '${name}' (nitro-d --help lists the commands)`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(commandHelp(name));
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
