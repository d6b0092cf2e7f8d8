/**
 * Tiny networks the fuzz seeds are made from (a few hundred weights each, so a case loads in
 * milliseconds), on the cpu backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { GraphNet } from '../../models/graph/graph_net.js';
import { archPreset } from '../../models/model_config.js';

export async function useCpuBackend(): Promise<void> {
  if (tf.getBackend() !== 'cpu') await tf.setBackend('cpu');
}

/** A 4-block VGG11 and a ResNet-18 at 1/64 width on 16×16 and 8×8 inputs, 3 classes; the caller disposes them. */
export async function tinyNets(): Promise<GraphNet[]> {
  await useCpuBackend();
  return [
    GraphNet.create(archPreset({ arch: 'vgg11', width: 64, imageSize: 16, numClasses: 3 }), 1),
    GraphNet.create(archPreset({ arch: 'resnet18', width: 64, imageSize: 8, numClasses: 3 }), 2),
  ];
}
