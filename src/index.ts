/** nitro-d: integer-only training of NITRO-D networks on WebGPU (and a CPU reference backend). */
export * from './backend.ts';
export { WebGPUBackend } from './gpu/webgpu-backend.ts';
export { CpuBackend } from './cpu-backend.ts';
export {
  createGpuContext,
  adapterName,
  type DeviceInfo,
  WebGPUUnavailableError,
} from './gpu/device.ts';
export { Rng } from './rng.ts';
export { createBackend, type BackendKind } from './backends.ts';
export { Model, type PredictResult } from './model/model.ts';
export {
  getPreset,
  presetNames,
  type Preset,
  type DatasetName,
  type TrainingProtocol,
} from './model/presets.ts';
export { parseModelSpec, type ModelSpec } from './model/spec.ts';
export { planFromSpec } from './model/plan.ts';
export { firstSamples, normalizeSplit, protocolOptions } from './train/protocol.ts';
export { METRIC_WORDS } from './model/network.ts';
export {
  Trainer,
  trainingMetadata,
  evaluateOn,
  uploadDataset,
  evalBatchFor,
} from './train/trainer.ts';
export type {
  TrainerOptions,
  TrainerState,
  EpochResult,
  SplitMetrics,
  HeadMetrics,
  StepProgress,
} from './train/trainer.ts';
export {
  datasetFromIdx,
  datasetFromCifar,
  loadDataset,
  loadFashionMnist,
  loadMnist,
  loadCifar10,
  type Dataset,
  type DataSplit,
} from './data/dataset.ts';
export { computeNormStats, normalizeDataset, type NormStats } from './data/normalize.ts';
export { statsOrder } from './data/batches.ts';
export { parseCheckpoint, serializeCheckpoint, type Checkpoint } from './io/checkpoint.ts';
export { parseSafetensors, serializeSafetensors, SafetensorsError } from './io/safetensors.ts';
export { parseBatches, parseInputs } from './io/batches.ts';
export { formatBp } from './train/schedule.ts';
export * from './bench/index.ts';
