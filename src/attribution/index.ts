/** Attribution methods: the contract, the registry and every method (see attribution spec). */
export * from './attribution_method.js';
export * from './registry.js';
export * from './upsample.js';
export * from './forward_trace.js';
export * from './relevance.js';
export * from './conv_geometry.js';
export * from './graph_trace.js';
export * from './graph_rules.js';
export * from './graph_relevance.js';
export * from './grad_cam.js';
export * from './lrp.js';
export * from './rap.js';
export * from './ebp.js';
export * from './integrated_gradients.js';
export * from './smooth_grad.js';
export * from './gradient_x_input.js';
export { logitsFunction, targetGradient, weightedGradientSum, type LogitsFn } from './gradients.js';
