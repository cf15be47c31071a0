// The example architectures the CLI and the examples train on 28x28 grey images (Fashion-MNIST).
import { Conv2d, MaxPool2d } from '../nn/layers/conv.js';
import { Sequential } from '../nn/layers/container.js';
import { Flatten, Linear } from '../nn/layers/linear.js';
import { ReLU } from '../nn/layers/activation.js';

/**
 * The Keras MNIST convnet: three 3x3 convolutions (32, 64, 64 channels), max-pooling after the
 * first two, then 576 -> 64 -> 10. Spatial sizes 28 -> 26 -> 13 -> 11 -> 5 -> 3, so the flattened
 * features are 64·3·3 = 576. Takes [N, 1, 28, 28], returns [N, 10] logits.
 */
export function kerasMnistCnn(numClasses = 10): Sequential {
  return new Sequential(
    new Conv2d(1, 32, 3), new ReLU(), new MaxPool2d(2),
    new Conv2d(32, 64, 3), new ReLU(), new MaxPool2d(2),
    new Conv2d(64, 64, 3), new ReLU(),
    new Flatten(),
    new Linear(64 * 3 * 3, 64), new ReLU(),
    new Linear(64, numClasses),
  );
}

/** A 784-128-64-10 perceptron with ReLUs; flattens [N, 1, 28, 28] (or takes [N, 784]). */
export function mlp(numClasses = 10): Sequential {
  return new Sequential(
    new Flatten(),
    new Linear(784, 128), new ReLU(),
    new Linear(128, 64), new ReLU(),
    new Linear(64, numClasses),
  );
}
