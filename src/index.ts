/**
 * apc's public API: `import { … } from 'apc'`. The data's path, in order: engine (backend) →
 * data → models (graph, families, import/export) → train → compress and matching → attribution →
 * eval → report, and the pipeline stages that chain them (what the CLI calls).
 */
// engine
export { initBackend, describeBackend, currentBackend, type BackendInfo } from './engine/backend.js';
export { Rng } from './engine/random.js';
// data
export { openDataset, DATASET_KINDS } from './data/registry.js';
export type { Dataset, DatasetInfo, Sample, SplitName } from './data/dataset.js';
export { readNpy, writeNpy, decodeNpy, encodeNpy } from './data/npy.js';
// models: the graph, its families and configs
export { GraphNet, setFusedForward, type ForwardOptions, type ForwardResult } from './models/graph/graph_net.js';
export { Graph } from './models/graph/graph.js';
export {
  parseGraphSpec, OP_KINDS, type GraphSpec, type GraphSpecInput, type NodeSpec, type NodeSpecInput, type InputNormalization,
} from './models/graph/graph_spec.js';
export { OPS } from './models/graph/ops/index.js';
export {
  channelGroups, channelLayout, dividedGraph, resizedGraph, type ChannelGroup, type ChannelCut, type ChannelLayout,
} from './models/graph/channel_groups.js';
export {
  ARCHS, archPreset, graphOf, graphSpecOf, parseModelConfig, type ModelConfig, type ArchPresetOptions,
} from './models/model_config.js';
export { vggPreset, vggLayout, type VggConfig } from './models/vgg_config.js';
export { studentConfigFor } from './models/student_config.js';
export { datasetForModel } from './models/input_normalization.js';
export { modelStats, referenceFlops, type ModelStats } from './models/accounting.js';
// models: checkpoints, import, export
export { saveNet, loadNet, type NetMeta } from './models/checkpoint.js';
export { fileSystemIO, CheckpointError } from './models/checkpoint_io.js';
export { loadModel, type LoadedModel } from './models/load_model.js';
export { importModelFile } from './models/import/import_file.js';
export { importedNet, type ImportedModel } from './models/import/imported_model.js';
export { importOnnx, importOnnxFile } from './models/import/onnx_import.js';
export { importKeras, importKerasFile } from './models/import/keras_import.js';
export { importTemplate, templateFor, TEMPLATES, IMAGENET_NORMALIZATION } from './models/import/torchvision_templates.js';
export { readSafetensors, writeSafetensors } from './models/import/safetensors.js';
export { decodeOnnxModel, encodeOnnxModel, readOnnxModel, writeOnnxModel, type OnnxModel } from './models/import/onnx_model.js';
export { exportOnnx, writeOnnx } from './models/export/onnx_export.js';
export { toLayersModel, fromLayersModel } from './models/layers_export.js';
// train
export { fit, trainStep, labelObjective, type Objective, type FitOptions } from './train/fit.js';
export { SgdMomentum } from './train/sgd.js';
export { multiLabelSoftMargin, multiLabelKd } from './train/losses.js';
// compress and matching
export { compressionObjective } from './compress/objective.js';
export {
  planStructuredPrune, applyPrunePlan, structuredPrune, structuredRates, prunedConfig, L1FilterImportance, L2FilterImportance, filterImportance,
  type FilterImportance,
} from './compress/structured_prune.js';
export {
  planGroupPrune, applyGroupPrunePlan, groupPrune, groupRates, prunedGroupConfig, groupPlanSummary, type GroupPrunePlan, type PrunedGroup,
} from './compress/group_prune.js';
export {
  channelGroupReport, formatChannelGroupReport, type ChannelGroupReport, type ChannelGroupEntry,
} from './compress/channel_group_report.js';
export { globalMagnitudeMasks, applyMasks, installMasks } from './compress/unstructured_prune.js';
export { parseMatchingConfig, matchingPreset, teacherTarget, matchingLoss, matchedLayers, matchingCaptures, type MatchingConfig } from './matching/matching_term.js';
export { matchableLayers, checkMatchLayer, backwardPath, graphBackwardCaptures, graphSensitivity } from './matching/graph_backward.js';
export { convInputGradient, maxPoolInputGradient, avgPoolInputGradient } from './matching/window_backward.js';
// attribution
export { makeAttribution, attributionMethods, kinds as attributionKinds, PAPER_METHODS, unsupportedReason } from './attribution/registry.js';
export { disposeAttribution, type AttributionMethod, type AttributionResult } from './attribution/attribution_method.js';
export { graphRelevancePass, graphRelevanceGap, type GraphPassOptions, type GraphPassResult } from './attribution/graph_relevance.js';
export { GRAPH_RELEVANCE_RULES, type GraphRule, type GraphRuleContext, type GraphRelevanceMethod } from './attribution/graph_rules.js';
export { GraphTrace, type NodeTrace } from './attribution/graph_trace.js';
export { convGeometry, type ConvGeometry } from './attribution/conv_geometry.js';
export { lrpGraphPass } from './attribution/lrp.js';
export { rapGraphPass } from './attribution/rap.js';
export { graphEbp } from './attribution/ebp.js';
// eval: metrics as pure functions
export { predictionMetrics, meanAveragePrecision } from './eval/prediction_metrics.js';
export { pixelRocAuc, binaryRocAuc } from './eval/roc_auc.js';
export { pointingGame } from './eval/pointing_game.js';
export { cosineSimilarity, spearman, topkIoU } from './eval/agreement.js';
export { curveAuc, faithfulnessCurves, gaussianBlur, noisyLinearImputation, summarizeFaithfulness, type FaithfulnessOptions, type FaithfulnessResult } from './eval/faithfulness.js';
export { randomisationBlocks, SANITY_THRESHOLD, sanityCheck, type Explainer, type SanityResult } from './eval/sanity_check.js';
export {
  bootstrapInterval, bootstrapIntervals, meanAveragePrecisionStatistic, meanStatistic, percentileInterval, ratioStatistic, sampleF1Statistic, type BootstrapInterval, type BootstrapOptions,
} from './eval/bootstrap_interval.js';
// pipeline stages (what the CLI runs)
export { trainTeacher, SHAPES_TEACHER_RECIPE } from './pipeline/train_teacher.js';
export { distill, SHAPES_KD_RECIPE } from './pipeline/compress.js';
export { structuredPruneAndFineTune, unstructuredPruneRounds, SHAPES_PRUNE_RECIPE } from './pipeline/prune.js';
export { evaluateModel, computePairMaps, maskPairs } from './pipeline/evaluate_model.js';
export { methodExplainer, pairFaithfulness, teacherSanity } from './pipeline/evaluate_faithfulness.js';
export { runStudy, STUDY_PRESETS, formatResultsTable, type StudyResults } from './pipeline/run_study.js';
export { recipesFor } from './pipeline/dataset_presets.js';
// report
export { writeReport } from './report/html_report.js';
export { saveStudyHeatmaps } from './report/study_heatmaps.js';
export { APC_VERSION } from './version.js';
// browser viewer (static page computing explanations with apc's own code)
export { writeViewer } from './viewer/write_viewer.js';
