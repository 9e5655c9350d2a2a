/**
 * Format versions: the fixtures in test/fixtures/formats were written by earlier releases
 * (scripts/make-format-fixtures.ts) and must still load and predict the same bits on both
 * backends; a file of a newer version is refused with one line naming the file and both versions.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseInputs } from '../src/io/batches.ts';
import { parseCheckpoint, serializeCheckpoint } from '../src/io/checkpoint.ts';
import { CHECKPOINT_VERSION, checkpointFormatTag, SPEC_VERSION } from '../src/io/formats.ts';
import { parseSafetensors, serializeSafetensors } from '../src/io/safetensors.ts';
import { Model } from '../src/model/model.ts';
import { parseModelSpec } from '../src/model/spec.ts';
import { planFromSpec } from '../src/model/plan.ts';
import { cpu, expectSameElements, webgpu } from './helpers.ts';

const ROOT = join('test', 'fixtures', 'formats');
const read = (...p: string[]) => new Uint8Array(readFileSync(join(...p)));
const cases = readdirSync(ROOT)
  .filter((v) => /^v\d+$/.test(v))
  .flatMap((v) => readdirSync(join(ROOT, v)).map((name) => ({ version: v, name })));

/** A copy of a checkpoint with its metadata replaced (tensors kept). */
function withMetadata(bytes: Uint8Array, metadata: Record<string, string>): Uint8Array {
  const parsed = parseSafetensors(bytes);
  const tensors = new Map(
    [...parsed.tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data }]),
  );
  return serializeSafetensors(tensors, metadata);
}

describe('format fixtures of earlier releases', () => {
  it('covers an MLP and a CNN of every version up to this one', () => {
    const versions = new Set(cases.map((c) => c.version));
    for (let v = 1; v <= CHECKPOINT_VERSION; v++) expect(versions.has(`v${v}`)).toBe(true);
    expect(cases.map((c) => c.name)).toEqual(expect.arrayContaining(['mlp', 'cnn']));
  });

  for (const { version, name } of cases) {
    const dir = join(ROOT, version, name);
    for (const kind of ['cpu', 'webgpu'] as const) {
      it(`${version}/${name} loads and predicts the same bits on ${kind}`, async () => {
        const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
        const spec = parseModelSpec(json, join(dir, 'model.json'));
        const ckptFile = join(dir, 'checkpoint.safetensors');
        const bytes = read(ckptFile);
        const ckpt = parseCheckpoint(bytes, planFromSpec(spec).parameters, ckptFile);
        expect(ckpt.version).toBe(Number(version.slice(1)));
        // The spec stored in the checkpoint describes the same network.
        expect(parseModelSpec(JSON.parse(ckpt.metadata.model), 'metadata')).toEqual(spec);
        const backend = kind === 'cpu' ? await cpu() : await webgpu();
        const model = Model.fromCheckpoint(backend, json, bytes, ckptFile);
        try {
          const inputs = parseInputs(read(dir, 'predict-input.safetensors'), 'input', {
            shape: spec.input,
          });
          const { logits, heads } = await model.predict(inputs.x, inputs.count);
          const expected = parseSafetensors(read(dir, 'expected-predict.safetensors')).tensors;
          expect(expected.size).toBe(1 + heads.length);
          expectSameElements(logits, expected.get('logits')!.data, 'logits');
          for (const [i, h] of heads.entries())
            expectSameElements(h, expected.get(`heads.${i}`)!.data, `heads.${i}`);
          // A trivial fixture would pass anything: the logits must vary.
          expect(new Set(logits).size).toBeGreaterThan(2);
          // Written again by this release, the weights are the same and carry its format.
          const again = await model.toCheckpoint();
          const reread = parseCheckpoint(again, planFromSpec(spec).parameters, 'again');
          expect(reread.metadata.format).toBe(checkpointFormatTag());
          for (const [k, v] of ckpt.tensors) expectSameElements(reread.tensors.get(k)!, v, k);
        } finally {
          model.dispose();
          if (kind === 'cpu') backend.destroy();
        }
      });
    }
  }
});

describe('format versions', () => {
  const dir = join(ROOT, 'v1', 'mlp');
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
  const expected = planFromSpec(parseModelSpec(json)).parameters;
  const bytes = read(dir, 'checkpoint.safetensors');

  it('reads a checkpoint without a format field as version 1', () => {
    const meta = parseSafetensors(bytes).metadata;
    delete meta.format;
    const ckpt = parseCheckpoint(withMetadata(bytes, meta), expected, 'old.safetensors');
    expect(ckpt.version).toBe(1);
  });

  it('refuses a newer checkpoint with one line naming the file and both versions', () => {
    const newer = CHECKPOINT_VERSION + 1;
    const meta = { ...parseSafetensors(bytes).metadata, format: checkpointFormatTag(newer) };
    // Tensors a later version might add must not hide the version in a shape error.
    const file = withMetadata(bytes, meta);
    const err = (() => {
      try {
        parseCheckpoint(file, expected.slice(1), 'runs/x/best.safetensors');
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err?.message).toBe(
      `checkpoint runs/x/best.safetensors: format version ${newer} is newer than this release of nitro-d reads (version ${CHECKPOINT_VERSION}); upgrade nitro-d to load it`,
    );
    expect(() => Model.fromCheckpoint({} as never, json, file, 'w.safetensors')).toThrow(
      /^checkpoint w\.safetensors: format version \d+ is newer/,
    );
  });

  it('refuses a format field that is not a nitro-d checkpoint format', () => {
    for (const tag of [
      'nitro-d/checkpoint',
      'nitro-d/checkpoint@0',
      'other@1',
      'nitro-d/checkpoint@1.1',
    ]) {
      const file = withMetadata(bytes, { ...parseSafetensors(bytes).metadata, format: tag });
      expect(() => parseCheckpoint(file, expected, 'c.safetensors')).toThrow(
        /^checkpoint c\.safetensors: metadata format ".*" is not nitro-d\/checkpoint@N \(this release reads up to nitro-d\/checkpoint@1\)$/,
      );
    }
  });

  it('writes its format into every checkpoint', () => {
    const tensors = new Map(
      expected.map((t) => [t.name, new Int32Array(t.shape.reduce((a, b) => a * b, 1))]),
    );
    const out = serializeCheckpoint(expected, tensors, { steps: '1' });
    expect(parseSafetensors(out).metadata).toEqual({ format: 'nitro-d/checkpoint@1', steps: '1' });
  });

  it('reads a spec with "version" up to this release and refuses a newer one by name', () => {
    const { version: _, ...unversioned } = json;
    expect(parseModelSpec({ ...unversioned, version: SPEC_VERSION })).toEqual(
      parseModelSpec(unversioned),
    );
    expect(() =>
      parseModelSpec({ ...json, version: SPEC_VERSION + 1, future: 1 }, 'm.json'),
    ).toThrow(
      `m.json: format version ${SPEC_VERSION + 1} is newer than this release of nitro-d reads (version ${SPEC_VERSION}); upgrade nitro-d to load it`,
    );
    expect(() => parseModelSpec({ ...json, version: 0 }, 'm.json')).toThrow(
      'm.json: version must be a positive integer (the spec format version), got 0',
    );
  });
});
