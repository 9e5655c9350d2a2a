/// <reference types="@webgpu/types" preserve="true" />
/** nitro-d: integer-only training of NITRO-D networks on WebGPU (and a CPU reference backend). */
export * from './backend.ts';
export { WebGPUBackend } from './gpu/webgpu-backend.ts';
/** The CPU reference backend (WebAssembly SIMD kernels, optionally on worker threads). */
export {
  CpuBackend,
  createCpuBackend,
  defaultCpuThreads,
  type CpuBackendOptions,
} from './cpu-backend.ts';
export {
  createGpuContext,
  adapterName,
  type DeviceInfo,
  type AdapterSummary,
  isSoftwareAdapter,
  probeAdapter,
  WebGPUUnavailableError,
} from './gpu/device.ts';
export { Rng } from './rng.ts';
export {
  createBackend,
  resolveBackend,
  BACKEND_CHOICES,
  type BackendKind,
  type BackendChoice,
  type BackendDecision,
  type BackendOptions,
} from './backends.ts';
export { Model, type PredictResult } from './model/model.ts';
export {
  loadModel,
  predict,
  InferenceModel,
  type LoadModelOptions,
  type Prediction,
} from './inference.ts';
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
  snapshotCheckpoint,
  stepsPerEpoch,
  epochFromSummary,
  evaluateOn,
  uploadDataset,
  evalBatchFor,
} from './train/trainer.ts';
export { checkTrainerState, checkResumePosition, TrainerStateError } from './train/state.ts';
export type { EpochSummary, ResumePosition } from './train/state.ts';
export { checkDataMatchesModel, checkTrainingFits, DatasetTooLargeError } from './train/checks.ts';
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
export {
  datasetFromArrays,
  datasetFromNpy,
  splitFromNpz,
  NPZ_NAMES,
  type ArrayDatasetOptions,
  type ImageLayout,
  type NpyDatasetOptions,
} from './data/arrays.ts';
export { parseNpy, parseNpz, NPY_MAX_BYTES, type NpyArray } from './data/npy.ts';
export {
  decodeImage,
  imageSize,
  loadImageFolder,
  type DecodedImage,
  type ImageFolderOptions,
  type ImageFolderSplit,
} from './data/images.ts';
export {
  loadData,
  detectDataFormat,
  DATA_FORMATS,
  type DataFormat,
  type LoadDataOptions,
} from './data/sources.ts';
export { statsOrder } from './data/batches.ts';
export { parseCheckpoint, serializeCheckpoint, type Checkpoint } from './io/checkpoint.ts';
export {
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  SPEC_VERSION,
  checkpointFormatTag,
  checkpointVersion,
  FormatVersionError,
} from './io/formats.ts';
export { parseSafetensors, serializeSafetensors, SafetensorsError } from './io/safetensors.ts';
export { InputError } from './io/errors.ts';
export {
  checkCapacity,
  cpuCapacity,
  planProblem,
  planSize,
  webgpuCapacity,
  type Capacity,
} from './train/capacity.ts';
export { parseBatches, parseInputs } from './io/batches.ts';
export { formatBp } from './train/schedule.ts';
export * from './bench/index.ts';
export {
  ChannelError,
  type Channel,
  type ChannelFailure,
  type Envelope,
  type WorkerSource,
} from './parallel/channel.ts';
export {
  DataParallelBackend,
  splitRows,
  type DataParallelOptions,
  type ExchangeStats,
  type WorkerEvent,
  type WorkerInfo,
} from './parallel/coordinator.ts';
export { serveWorker, type ServeWorkerOptions } from './parallel/worker.ts';
export {
  memoryChannelPair,
  memoryWorkerSource,
  type MemoryChannelOptions,
} from './parallel/memory.ts';
export { MessageQueue } from './parallel/queue.ts';
export { PROTOCOL_VERSION } from './parallel/protocol.ts';
export {
  NatsChannel,
  NatsWorkerSource,
  joinNatsRun,
  type NatsChannelStats,
  type NatsJoinOptions,
  type NatsLinkOptions,
  type NatsMembership,
  type NatsSourceOptions,
  type WorkerAnnouncement,
} from './parallel/nats.ts';
export {
  connectNats,
  joinNatsRunAt,
  openNatsWorkerSource,
  type NatsConnectOptions,
  type NatsWorkerLink,
} from './parallel/nats-connect.ts';
export type {
  NatsClient,
  NatsMessage,
  NatsStatus,
  NatsSubscription,
} from './parallel/nats-client.ts';
