// The public API shared by both entries (src/index.ts for Node, src/browser.ts for browsers):
// everything here runs in either runtime. What counts as public, and what a version change
// promises about it, is in CHANGELOG.md.

// GPU
/** The WebGPU device seedmask computes on: `await Gpu.open()` (Dawn in Node, navigator.gpu in browsers). */
export { Gpu, trafficSince } from './gpu/context.js';
export type { GpuTraffic } from './gpu/context.js';
export type { OpenGpuOptions, AdapterDescription, GpuFeatures } from './gpu/device.js';
export { GpuError, KernelError, DeviceLostError } from './gpu/errors.js';

// Models
/** CLIP image and text encoders from imported weights: `await ClipModel.load(gpu, weights)`. */
export { ClipModel } from './models/clip/model.js';
export type { ClipModelOptions, ClipImageResult, EncodeImageOptions } from './models/clip/model.js';
/** CLIP's byte-level BPE tokenizer, from OpenAI's vocabulary or Hugging Face's vocab.json + merges.txt. */
export { ClipTokenizer, TokenizerError, CLIP_CONTEXT_LENGTH } from './models/clip/tokenizer.js';
/** DeepLab v2/v3 segmentation networks from PyTorch checkpoints. */
export { DeepLabModel } from './models/deeplab/model.js';
export type { DeepLabModelOptions, DeepLabOutput } from './models/deeplab/model.js';

// Weights
/** Weight files (safetensors, PyTorch zips, TorchScript) read without running any pickled code. */
export { loadWeights, loadClip, openClip, WeightFileError } from './weights/index.js';
export type { WeightInput, ByteSource, DType, ClipTensor, LoadedClip } from './weights/index.js';
export type { WeightFile, WeightFormat, LoadOptions } from './weights/weightfile.js';

// Seeds (CLIP-ES)
/** Seed masks from image-level labels: `generateSeeds(image, 'cat, sofa', { model })` or a SeedPipeline for many images. */
export { SeedPipeline, generateSeeds, SeedError, STAGES, REFINERS, CAM_SOURCE_NAMES, checkFitsDevice } from './wsss/seeds.js';
export type { SeedOptions, SeedReadback, SeedResult, Stage, Refiner, CamSourceName } from './wsss/seeds.js';
/** The pipeline's plug-ins: CAM sources and label-map stages, and the per-image context they run in. */
export { CAM_SOURCES, SEED_STAGES } from './wsss/registry.js';
export { SeedContext } from './wsss/stage.js';
export type { CamSource, SeedStage, CamMaps, CamProduct } from './wsss/stage.js';
/** MaskCLIP: dense zero-shot labels without image labels, and its maps for one image. */
export { maskClipLabels, maskClip } from './wsss/sources/maskclip.js';
export type { MaskClipLabels, MaskClipMaps, MaskClipOptions } from './wsss/sources/maskclip.js';
/** Label sets (class names, prompts, background classes): VOC and COCO built in, or your own JSON. */
export { VOC_LABELSET, COCO_LABELSET, BUILTIN_LABELSETS, parseLabelSet, parseLabels, validateLabelSet, LabelSetError } from './wsss/labelset.js';
export type { LabelSet, ClassSpec } from './wsss/labelset.js';

// Images and files in memory
/** Image decoding exactly as PIL decodes (JPEG through libjpeg-turbo in WebAssembly, PNG), and encoding. */
export { decodeImage, decodeSeedImage, readersDiffer, encodeJpeg, encodePng, sniffImageFormat } from './io/image.js';
export type { RgbaImage, ImageFormat, ImageReader } from './io/image.js';
export { decodeLabelPng, encodeLabelPng } from './io/labelpng.js';
export type { LabelMap } from './io/labelpng.js';
export { decodeNpy, encodeNpy } from './io/npy.js';
export type { NpyArray } from './io/npy.js';
export { VOC_PALETTE } from './io/palette.js';
export { IoError } from './io/errors.js';

// Evaluation
/** mIoU and per-class scores under the VOC protocol (255 = void). */
export { ConfusionMatrix, computeScores, VOID } from './eval/confusion.js';
export type { Scores, ClassScore, VoidPredictionRule } from './eval/confusion.js';

// Training
/** A training run on (image, label map) pairs: augmentation on the GPU, validation, checkpoints, exact resume. */
export { train, evaluate, predictLabels, loadTrainedSegmenter, trainedMetadata, encodeTrainedWeights, settingDifferences, checkSettings, epochOrder, stepSamples, TrainRunError } from './train/run.js';
export type { TrainSettings, TrainModelSettings, TrainData, ImageSet, LabeledImage, TrainHooks, TrainProgress, TrainResult } from './train/run.js';
export { encodeCheckpoint, loadCheckpoint, CheckpointError, CHECKPOINT_FORMAT } from './train/checkpoint.js';
export type { TrainCheckpoint, ValidationRecord } from './train/checkpoint.js';
/** The small segmenter trained from scratch, its weights files, and the trainer (SGD/AdamW, poly schedule). */
export { SegmenterModel, initSegmenter, saveSegmenter, loadSegmenter, segmenterSpecs, SegmenterError, DEFAULT_SEGMENTER } from './train/segmenter.js';
export type { SegmenterConfig, SegmenterWeights } from './train/segmenter.js';
export { SegmenterTrainer, TrainerError } from './train/trainer.js';
export type { TrainerOptions, OptimizerOptions, OptimizerState, Batch, GpuBatch } from './train/trainer.js';
export type { TrainableModel, TrainOutputs, TensorSpec, TensorRole } from './train/model.js';
/** DeepLab-v2 ResNet-101 (deeplab-pytorch) as a trainable model: frozen batch norm, its parameter groups, the MSC objective. */
export { DeepLabV2Trainable, loadDeepLabV2Weights, initDeepLabV2, DEEPLABV2_PARAM_GROUPS } from './train/deeplab.js';
export type { DeepLabV2Objective, DeepLabV2TrainConfig, LoadedDeepLabV2, DeepLabV2LoadOptions } from './train/deeplab.js';
/** DeepLab's training augmentation: parameters drawn per sample from a seed, pixels on the GPU. */
export { sampleAugment, DEEPLAB_SCALES, AugmentError } from './train/augment.js';
export type { AugmentOptions, AugmentParams } from './train/augment.js';
export { augmentBatch, validationInput } from './train/batches.js';
export type { AugmentSettings } from './train/batches.js';
