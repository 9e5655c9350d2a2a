/**
 * Golden cases computed by the NITRO-D reference (test/golden), run inside the demo page:
 * Model.fromCheckpoint + trainOnBatches + toCheckpoint on the page's backend must reproduce
 * expected.safetensors tensor for tensor, every element, and the predictions with those weights
 * expected-predict.safetensors.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { parseSafetensors } from '../src/io/safetensors.ts';
import { DemoPage, expectSameTensors, goldenDir, readBase64 } from './pages/demo-page.ts';

const CASES = ['micro_mlp_step', 'cnn_small_8x8'];

for (const backend of ['webgpu', 'cpu'] as const) {
  for (const name of CASES) {
    test(`golden ${name} on the page's ${backend} backend matches the reference`, async ({
      page,
    }) => {
      const dir = goldenDir(name);
      const demo = new DemoPage(page);
      await demo.goto();
      const report = await page.evaluate((request) => window.nitroDemo!.golden(request), {
        model: JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as unknown,
        init: readBase64(join(dir, 'init.safetensors')),
        batches: readBase64(join(dir, 'batches.safetensors')),
        predictInput: readBase64(join(dir, 'predict-input.safetensors')),
        backend,
      });
      if (backend === 'webgpu') expect(report.backend).toContain('(browser)');
      expectSameTensors(
        Buffer.from(report.checkpoint, 'base64'),
        readFileSync(join(dir, 'expected.safetensors')),
        `${name} weights`,
      );

      const expected = parseSafetensors(
        new Uint8Array(readFileSync(join(dir, 'expected-predict.safetensors'))),
        { file: 'expected-predict' },
      ).tensors;
      expect(report.logits, `${name} logits`).toEqual(Array.from(expected.get('logits')!.data));
      expect(report.heads?.length).toBe(expected.size - 1);
      for (const [i, h] of (report.heads ?? []).entries())
        expect(h, `${name} heads.${i}`).toEqual(Array.from(expected.get(`heads.${i}`)!.data));
    });
  }
}
