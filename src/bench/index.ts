/** Benchmarks: training throughput of a preset and kernel microbenchmarks, runtime-neutral. */
export {
  benchTraining,
  type TrainingBenchOptions,
  type TrainingBenchResult,
  type KernelStat,
  type CallStat,
} from './training.ts';
export {
  benchKernels,
  fastestVariantRows,
  kernelBenchRowCount,
  kernelOpsOf,
  paperKernelShapes,
  type KernelOp,
  type KernelShape,
  type KernelBenchResult,
  type KernelBenchRow,
  type KernelBenchOptions,
} from './kernels.ts';
export { formatTrainingBench, formatKernelBench } from './format.ts';
export { opCost, type OpCost } from './cost.ts';
export {
  dispatchTimes,
  type KernelTiming,
  runMs,
  timeProgram,
  type TimeProgramOptions,
} from './timing.ts';
export type { Runtime } from './util.ts';
export {
  tuneVariants,
  trainingGemmShapes,
  variantsInUse,
  type TuneOptions,
  type TuneResult,
  type TuneRow,
  type GemmShape,
} from './tune.ts';
export {
  adapterKey,
  engineVersion,
  forgetTuned,
  installTuned,
  loadTuned,
  localStorageStore,
  saveTuned,
  type TuneEntry,
  type TuneStore,
} from './tune-cache.ts';
export { setTunedVariants, withForcedVariant } from '../gpu/variants.ts';
export {
  findVariant,
  variantsOf,
  type GemmOp,
  type VariantChoice,
} from '../kernels/gemm-tiles.ts';
/** The installed tuning choices (shape key -> variant label); empty when none are installed. */
export { tunedVariants } from '../gpu/variants.ts';
