/**
 * What one training step of each preset costs the device, counted by the engine's own code:
 * dispatches (the recorded step traced through the WebGPU kernel wrappers against a context
 * that runs nothing), bytes (every tensor the model and its network allocate, plus the kernels'
 * scratch: src/train/memory.ts) and submits (the Trainer, one step per submission, the most it
 * makes, on a shapes-only backend that submits where the WebGPU backend does; the test checks
 * it against a real WebGPU backend). test/step-costs.test.ts holds these to the committed table
 * test/guards/step-costs.json; `npx vite-node scripts/update-step-costs.ts` rewrites it.
 */
import type { Backend, Ops, Program } from '../../src/backend.ts';
import type { Dataset } from '../../src/data/dataset.ts';
import { createGpuOps } from '../../src/ops/gpu.ts';
import { planningContext } from '../../src/kernels/planning.ts';
import { Model } from '../../src/model/model.ts';
import { getPreset, presetNames } from '../../src/model/presets.ts';
import { plannedScratch, plannedTensors } from '../../src/train/memory.ts';
import { allocateParameters, Network } from '../../src/model/network.ts';
import { planFromSpec } from '../../src/model/plan.ts';
import { protocolOptions } from '../../src/train/protocol.ts';
import { ShapeBackend } from '../../src/train/shape-backend.ts';
import { Trainer } from '../../src/train/trainer.ts';

/** The batch every preset is counted at: small, so the WebGPU part runs on a software adapter. */
export const GUARD_BATCH = 2;
/** Training steps the submit count runs (steps after the first show the per-step count). */
const STEPS = 3;

export interface StepCost {
  /** GPU dispatches in the recorded training step (gather, augmentation, forward, backward, updates). */
  dispatchesPerStep: number;
  /** Queue submissions per training step with one step per submission. */
  submitsPerStep: number;
  /** Submissions of an epoch besides its steps (uploads, snapshots, metric reads). */
  submitsPerEpoch: number;
  /** Device tensors of the model and its network at the batch. */
  tensorBytes: number;
  /** The WebGPU kernels' device scratch at the batch. */
  scratchBytes: number;
}

export type StepCostTable = Record<string, StepCost>;

/** Dispatches and bytes of a preset's training step, without a device. */
export function plannedStepCost(
  name: string,
  batch = GUARD_BATCH,
): Pick<StepCost, 'dispatchesPerStep' | 'tensorBytes' | 'scratchBytes'> {
  const preset = getPreset(name);
  const plan = planFromSpec(preset.spec);
  const ctx = planningContext();
  let dispatches = 0;
  const dispatch = ctx.dispatch;
  ctx.dispatch = (...args) => {
    dispatches++;
    dispatch(...args);
  };
  const shapes = new ShapeBackend(createGpuOps(ctx));
  const net = new Network(shapes, plan, allocateParameters(shapes, plan), batch);
  const n = 4 * batch;
  const augment = protocolOptions(preset).augment;
  net.recordTrainStep({
    data: shapes.tensor([n, ...plan.input], 'i8', 'data'),
    labels: shapes.tensor([n], 'i32', 'labels'),
    indices: shapes.tensor([n], 'i32', 'indices'),
    augment: augment
      ? { params: shapes.tensor([4, 5], 'i32', 'augment'), pad: augment.pad }
      : undefined,
  });
  return {
    dispatchesPerStep: dispatches,
    tensorBytes: plannedTensors(preset.spec, batch).reduce((a, t) => a + t.bytes, 0),
    scratchBytes: [...plannedScratch(preset.spec, batch).values()].reduce((a, b) => a + b, 0),
  };
}

/**
 * A shapes-only backend whose `submits` counts what the WebGPU backend submits for the same calls:
 * a run of a program with dispatches, every read, and before run, read, write, record, sync and
 * dispose the dispatches of ops called outside a recording (src/gpu/webgpu-backend.ts).
 */
export class SubmitCountingBackend extends ShapeBackend {
  submits = 0;
  private dispatched = 0;
  private pending = 0;
  private recording = false;
  private readonly programs = new WeakMap<Program, number>();

  constructor() {
    const ctx = planningContext();
    const dispatch = ctx.dispatch;
    ctx.dispatch = (...args) => {
      this.dispatched++;
      if (!this.recording) this.pending++;
      dispatch(...args);
    };
    super(createGpuOps(ctx));
  }

  private flush(): void {
    if (this.pending === 0) return;
    this.pending = 0;
    this.submits++;
  }

  override record(label: string, build: (ops: Ops) => void): Program {
    this.flush();
    const before = this.dispatched;
    this.recording = true;
    try {
      build(this.ops);
    } finally {
      this.recording = false;
    }
    const program = { label } as Program;
    this.programs.set(program, this.dispatched - before);
    return program;
  }

  override run(program?: Program, times = 1): void {
    this.flush();
    if (program && (this.programs.get(program) ?? 0) > 0 && times > 0) this.submits++;
  }

  override read(t: Parameters<Backend['read']>[0]): Promise<Int32Array> {
    this.flush();
    this.submits++;
    return super.read(t);
  }

  override write(): void {
    this.flush();
  }

  override sync(): Promise<void> {
    this.flush();
    return super.sync();
  }

  override dispose(): void {
    this.flush();
  }
}

/** Submissions per step and per epoch of the Trainer on `backend` (WebGPU or SubmitCountingBackend). */
export async function measuredSubmits(
  backend: Backend & { submits: number },
  name: string,
  batch = GUARD_BATCH,
): Promise<Pick<StepCost, 'submitsPerStep' | 'submitsPerEpoch'>> {
  const preset = getPreset(name);
  const shape = planFromSpec(preset.spec).input;
  const n = STEPS * batch;
  const size = shape[0] * shape[1] * shape[2];
  const train: Dataset = {
    name: 'guard',
    images: Int8Array.from({ length: n * size }, (_, i) => ((i * 37) % 256) - 128),
    labels: Int32Array.from({ length: n }, (_, i) => i % preset.spec.classes),
    shape,
    classes: preset.spec.classes,
  };
  // Zero weights: submits do not depend on values, and the paper models' init takes seconds.
  const plan = planFromSpec(preset.spec);
  const weights = new Map(
    plan.parameters.map((p) => [p.name, new Int32Array(p.shape.reduce((a, b) => a * b, 1))]),
  );
  const model = Model.create(backend, preset.spec, { weights });
  const perStep: number[] = [];
  let last = 0;
  const trainer = new Trainer(model, train, undefined, {
    ...protocolOptions(preset),
    batch,
    epochs: 1,
    stepsPerSubmit: 1,
    snapshotEvery: 0,
    onStep: () => {
      perStep.push(backend.submits - last);
      last = backend.submits;
    },
  });
  try {
    const start = backend.submits;
    last = start;
    await trainer.fit();
    const total = backend.submits - start;
    // The first step's count includes the epoch's setup; later ones are steps alone.
    const step = Math.max(...perStep.slice(1));
    return { submitsPerStep: step, submitsPerEpoch: total - STEPS * step };
  } finally {
    trainer.dispose();
    model.dispose();
  }
}

/** The presets the table covers, in table order. */
export function guardedPresets(): string[] {
  return [...presetNames];
}

/** The table as this code counts it now (no device needed). */
export async function currentStepCosts(batch = GUARD_BATCH): Promise<StepCostTable> {
  const table: StepCostTable = {};
  for (const name of guardedPresets()) {
    const planned = plannedStepCost(name, batch);
    const submits = await measuredSubmits(new SubmitCountingBackend(), name, batch);
    table[name] = {
      dispatchesPerStep: planned.dispatchesPerStep,
      submitsPerStep: submits.submitsPerStep,
      submitsPerEpoch: submits.submitsPerEpoch,
      tensorBytes: planned.tensorBytes,
      scratchBytes: planned.scratchBytes,
    };
  }
  return table;
}

/** Where the committed table lives and how to rewrite it. */
export const TABLE_FILE = 'test/guards/step-costs.json';
export const UPDATE_COMMAND = 'npx vite-node scripts/update-step-costs.ts';
