// kd.nn.functional: the stateless forms of the layers and losses.
export * from './basic.js';
export * from './loss.js';
export { conv1d, conv2d, maxPool2d, avgPool2d, adaptiveAvgPool2d } from '../../ops/conv.js';
export { conv2dReluMaxPool2d, type MaxPool2dArgs } from './fused.js';
