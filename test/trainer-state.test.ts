/**
 * --resume trusts nothing in a checkpoint's trainer state: every field is checked for type,
 * range and how it relates to the others, and a bad one fails at once in one line naming
 * the checkpoint and the field (not epochs later, and never silently). The table runs
 * through the library check; a few rows go through the CLI as a user meets them.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseSafetensors, serializeSafetensors } from '../src/io/safetensors.ts';
import {
  checkResumePosition,
  checkTrainerState,
  type StateContext,
  type TrainerState,
} from '../src/train/state.ts';
import { nitro, ROOT, requireBuild, stderrLines } from './cli-helpers.ts';

const CTX: StateContext = { blocks: 2, metricWords: 9, plateauPatience: 15, earlyPatience: 35 };
const WORDS = [1, 2, 0, 3, 4, 0, 5, 6, 0];

const GOOD: TrainerState = {
  epoch: 2,
  lrInv: 512,
  plateau: { bestCorrect: -1, total: 0, wait: 0 },
  early: { bestCorrect: -1, total: 0, wait: 0 },
  bestCorrect: 90,
  bestEpoch: 1,
  last: {
    epoch: 2,
    lrInv: 512,
    train: { words: WORDS, total: 512 },
    test: { words: WORDS, total: 128 },
    best: false,
    plateau: false,
    stop: false,
  },
};

function edit(path: string, value: unknown): unknown {
  const state = structuredClone(GOOD) as unknown as Record<string, unknown>;
  const keys = path.split('.');
  let o = state as Record<string, unknown>;
  for (const k of keys.slice(0, -1)) o = o[k] as Record<string, unknown>;
  if (value === undefined) delete o[keys.at(-1)!];
  else o[keys.at(-1)!] = value;
  return state;
}

const BAD: [string, unknown, string][] = [
  [
    'not an object',
    'x',
    'trainer must be an object {epoch, lrInv, plateau, early, bestCorrect, bestEpoch}, got "x"',
  ],
  ['null', null, 'trainer must be an object'],
  ['epoch missing', edit('epoch', undefined), 'trainer.epoch must be present, got nothing'],
  [
    'epoch negative',
    edit('epoch', -1),
    'trainer.epoch must be an integer in [0, 2147483647], got -1',
  ],
  ['epoch a fraction', edit('epoch', 1.5), 'trainer.epoch must be an integer'],
  [
    'epoch a string',
    edit('epoch', '2'),
    'trainer.epoch must be an integer in [0, 2147483647], got "2"',
  ],
  ['lrInv 0', edit('lrInv', 0), 'trainer.lrInv must be an integer in [1, 2147483647], got 0'],
  [
    'lrInv above int32',
    edit('lrInv', 2 ** 31),
    'trainer.lrInv must be an integer in [1, 2147483647], got 2147483648',
  ],
  [
    'plateau null',
    edit('plateau', null),
    'trainer.plateau must be an object {bestCorrect, total, wait}, got null',
  ],
  ['plateau {}', edit('plateau', {}), 'trainer.plateau.bestCorrect must be present, got nothing'],
  ['plateau an array', edit('plateau', [1, 2, 3]), 'trainer.plateau must be an object'],
  [
    'plateau.wait a string',
    edit('plateau.wait', 'x'),
    'trainer.plateau.wait must be an integer in [0, 14], got "x"',
  ],
  [
    'plateau.wait at patience',
    edit('plateau.wait', 15),
    'trainer.plateau.wait must be an integer in [0, 14], got 15',
  ],
  [
    'plateau.bestCorrect above total',
    edit('plateau', { bestCorrect: 9, total: 5, wait: 0 }),
    'trainer.plateau.bestCorrect must be an integer in [-1, 5], got 9',
  ],
  [
    'plateau counts without a best',
    edit('plateau', { bestCorrect: -1, total: 5, wait: 0 }),
    'trainer.plateau must be unstarted',
  ],
  [
    'plateau best without a total',
    edit('plateau', { bestCorrect: 0, total: 0, wait: 0 }),
    'trainer.plateau.total must be positive, got 0',
  ],
  [
    'early with an extra field',
    edit('early', { bestCorrect: -1, total: 0, wait: 0, x: 1 }),
    'unexpected field trainer.early.x',
  ],
  [
    'early.wait at patience',
    edit('early', { bestCorrect: 3, total: 10, wait: 35 }),
    'trainer.early.wait must be an integer in [0, 34], got 35',
  ],
  [
    'bestCorrect "x"',
    edit('bestCorrect', 'x'),
    'trainer.bestCorrect must be an integer in [0, 2147483647], got "x"',
  ],
  [
    'bestCorrect -1 after an epoch',
    edit('bestCorrect', -1),
    'trainer.bestCorrect must be an integer in [0, 2147483647], got -1',
  ],
  [
    'bestEpoch after epoch',
    edit('bestEpoch', 3),
    'trainer.bestEpoch must be an integer in [1, 2], got 3',
  ],
  [
    'bestEpoch 0 after an epoch',
    edit('bestEpoch', 0),
    'trainer.bestEpoch must be an integer in [1, 2], got 0',
  ],
  [
    'a best before any epoch',
    { ...(edit('last', undefined) as object), epoch: 0, bestEpoch: 0 },
    'trainer.bestCorrect must be -1 before any epoch, got 90',
  ],
  ['an unknown field', edit('x', 1), 'unexpected field trainer.x'],
  [
    'last of another epoch',
    edit('last.epoch', 1),
    'trainer.last.epoch must be an integer in [2, 2], got 1',
  ],
  [
    'last.train words too short',
    edit('last.train.words', [1, 2]),
    'trainer.last.train.words must be an array of 9 integers, got [1,2]',
  ],
  [
    'last.train word a float',
    edit('last.train.words', [...WORDS.slice(1), 0.5]),
    'trainer.last.train.words[8] must be an integer',
  ],
  [
    'last.test total 0',
    edit('last.test.total', 0),
    'trainer.last.test.total must be an integer in [1, 2147483647], got 0',
  ],
  ['last.best a number', edit('last.best', 1), 'trainer.last.best must be true or false, got 1'],
];

describe('checkTrainerState: one line naming the field', () => {
  it('accepts what the trainer writes', () => {
    expect(checkTrainerState(structuredClone(GOOD), CTX, 'checkpoint c')).toEqual(GOOD);
    const fresh = { ...GOOD, epoch: 0, bestCorrect: -1, bestEpoch: 0, last: undefined };
    delete fresh.last;
    expect(checkTrainerState(fresh, CTX, 'checkpoint c')).toEqual(fresh);
  });

  it.each(BAD)('%s', (_name, state, message) => {
    let error: Error | undefined;
    try {
      checkTrainerState(state, CTX, 'checkpoint runs/x/last.safetensors');
    } catch (e) {
      error = e as Error;
    }
    expect(error?.message).toContain(`checkpoint runs/x/last.safetensors: ${message}`);
    expect(error?.message.split('\n')).toHaveLength(1);
  });

  it.each([
    [
      'epoch not the next one',
      { epoch: 2, step: 3, metrics: WORDS },
      'position.epoch must be an integer in [3, 3], got 2',
    ],
    [
      'step 0',
      { epoch: 3, step: 0, metrics: WORDS },
      'position.step must be an integer in [1, 15], got 0',
    ],
    [
      'step at the end',
      { epoch: 3, step: 16, metrics: WORDS },
      'position.step must be an integer in [1, 15], got 16',
    ],
    [
      'metrics short',
      { epoch: 3, step: 4, metrics: [1] },
      'position.metrics must be an array of 9 integers',
    ],
    ['not an object', 7, 'position must be an object {epoch, step, metrics}, got 7'],
  ])('position: %s', (_name, position, message) => {
    const state = checkTrainerState(structuredClone(GOOD), CTX, 'c');
    expect(() =>
      checkResumePosition(position, state, { ...CTX, steps: 16 }, 'checkpoint c'),
    ).toThrow(`checkpoint c: ${message}`);
  });
});

describe('train --resume with a damaged trainer state (CLI)', () => {
  let dir: string;
  const args = (out: string) => [
    'train',
    '--preset',
    'mlp1',
    '--data',
    join(ROOT, 'demo/public/data/fashion-mnist-sample'),
    '--train-limit',
    '256',
    '--test-limit',
    '64',
    '--batch',
    '32',
    '--epochs',
    '3',
    '--backend',
    'cpu',
    '--quiet',
    '--out',
    out,
  ];

  beforeAll(async () => {
    requireBuild();
    dir = mkdtempSync(join(tmpdir(), 'nitro-state-'));
    const r = await nitro([...args(join(dir, 'run')), '--epochs', '1']);
    if (r.code !== 0) throw new Error(r.stderr);
  });

  it.each([
    [
      'plateau: null',
      { plateau: null },
      'trainer.plateau must be an object {bestCorrect, total, wait}, got null',
    ],
    [
      'bestCorrect: "x"',
      { bestCorrect: 'x' },
      'trainer.bestCorrect must be an integer in [0, 2147483647], got "x"',
    ],
    ['plateau: {}', { plateau: {} }, 'trainer.plateau.bestCorrect must be present, got nothing'],
  ])('%s', async (name, change, message) => {
    const parsed = parseSafetensors(
      new Uint8Array(readFileSync(join(dir, 'run', 'last.safetensors'))),
    );
    const tensors = new Map(
      [...parsed.tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data }] as const),
    );
    const trainer = { ...JSON.parse(parsed.metadata.trainer), ...change };
    const file = join(dir, `${name.replace(/\W+/g, '-')}.safetensors`);
    writeFileSync(
      file,
      serializeSafetensors(tensors, { ...parsed.metadata, trainer: JSON.stringify(trainer) }),
    );
    const r = await nitro([...args(join(dir, 'resumed')), '--resume', file]);
    expect(r.code).toBe(1);
    expect(stderrLines(r.stderr)).toEqual([`nitro-d train: checkpoint ${file}: ${message}`]);
  });
});
