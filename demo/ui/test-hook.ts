/**
 * `window.nitroDemo`: a small scripting interface for end-to-end tests (and the curious, from the
 * console). `train` drives the same form and buttons a user does; `golden` runs fixed training
 * steps on given weights and batches through the library.
 */
import { type BackendKind, Model, parseBatches, parseInputs } from '../../src/index.ts';
import type { Controls } from './controls.ts';
import { fromBase64, toBase64 } from './format.ts';
import type { Session } from './session.ts';
import { presetDefaults } from './setup.ts';

export interface TrainRequest {
  preset: string;
  epochs: number;
  trainLimit?: number;
  testLimit?: number;
  backend?: BackendKind;
  batch?: number;
  lrInv?: number;
  seed?: number;
  augment?: boolean;
}

export interface TrainReport {
  phase: string;
  error?: string;
  /** The test accuracy as the page shows it. */
  testAccuracyText: string;
  epochs: { epoch: number; trainBp: number; testBp?: number; headsTestBp?: number[] }[];
  /** The checkpoint the download button gives, base64. */
  checkpoint?: string;
}

export interface GoldenRequest {
  /** The model spec (model.json). */
  model: unknown;
  /** init.safetensors, batches.safetensors and optionally predict-input.safetensors, base64. */
  init: string;
  batches: string;
  predictInput?: string;
  backend?: BackendKind;
}

export interface GoldenReport {
  /** Weights after the steps as a checkpoint, base64. */
  checkpoint: string;
  logits?: number[];
  heads?: number[][];
  backend: string;
}

export interface NitroDemo {
  ready(): Promise<boolean>;
  phase(): string;
  train(request: TrainRequest): Promise<TrainReport>;
  /** Same as the Pause button, but also before a run starts (it then starts paused). */
  pause(): void;
  golden(request: GoldenRequest): Promise<GoldenReport>;
}

declare global {
  interface Window {
    nitroDemo?: NitroDemo;
  }
}

export function installTestHook(deps: {
  session: Session;
  controls: Controls;
  ready: Promise<unknown>;
  start(): Promise<void>;
  reset(): Promise<void>;
}): void {
  const { session, controls } = deps;
  window.nitroDemo = {
    ready: async () => {
      await deps.ready;
      return true;
    },
    phase: () => session.phase,
    pause: () => session.pause(),
    async train(r) {
      await deps.ready;
      await deps.reset();
      controls.applySettings({
        ...presetDefaults(r.preset, 'fashion-mnist', r.epochs),
        ...withoutUndefined(r),
      });
      controls.setDataChoice('sample');
      if (r.backend) controls.setBackendKind(r.backend);
      await deps.start();
      const error = document.getElementById('error');
      const run = session.run;
      return {
        phase: session.phase,
        error:
          error && !error.hidden
            ? (document.getElementById('error-text')?.textContent ?? 'error')
            : undefined,
        testAccuracyText: document.getElementById('test-accuracy')?.textContent ?? '',
        epochs: (run?.results ?? []).map((e) => ({
          epoch: e.epoch,
          trainBp: e.train.output.accuracyBp,
          testBp: e.test?.output.accuracyBp,
          headsTestBp: e.test?.heads.map((h) => h.accuracyBp),
        })),
        checkpoint: run ? toBase64(await session.checkpoint()) : undefined,
      };
    },
    async golden(r) {
      const backend = await session.backend(r.backend ?? 'webgpu');
      const model = Model.fromCheckpoint(backend, r.model, fromBase64(r.init), 'init.safetensors');
      try {
        const b = parseBatches(fromBase64(r.batches), 'batches.safetensors', {
          shape: model.plan.input,
          classes: model.plan.classes,
        });
        await model.trainOnBatches(b.x, b.y, b.steps, b.batch);
        const report: GoldenReport = {
          checkpoint: toBase64(await model.toCheckpoint()),
          backend: backend.description,
        };
        if (r.predictInput) {
          const inputs = parseInputs(fromBase64(r.predictInput), 'predict-input.safetensors', {
            shape: model.plan.input,
          });
          const { logits, heads } = await model.predict(inputs.x, inputs.count);
          report.logits = Array.from(logits);
          report.heads = heads.map((h) => Array.from(h));
        }
        return report;
      } finally {
        model.dispose();
      }
    },
  };
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
