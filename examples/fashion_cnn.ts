// Fashion-MNIST with the Keras MNIST convnet: build, fit, evaluate, save.
// Run: npm run build:ts && node dist/examples/fashion_cnn.js
// (In your own project, import * as kd from 'kindling'.)
import * as kd from '../lib/index.js';

const { nn } = kd;
kd.manualSeed(1);

// The shipped subset: 20,000 training and the 10,000 test images, as [N, 1, 28, 28] in [0, 1].
const data = kd.data.datasets.fashionMnist();
const [trainData, valData] = kd.data.randomSplit(data.train, [0.9, 0.1], 1);

const model = new nn.Sequential(
  new nn.Conv2d(1, 32, 3), new nn.ReLU(), new nn.MaxPool2d(2), // 28 -> 26 -> 13
  new nn.Conv2d(32, 64, 3), new nn.ReLU(), new nn.MaxPool2d(2), // 13 -> 11 -> 5
  new nn.Conv2d(64, 64, 3), new nn.ReLU(), // 5 -> 3
  new nn.Flatten(),
  new nn.Linear(64 * 3 * 3, 64), new nn.ReLU(),
  new nn.Linear(64, 10),
);
console.log(model.summary());

const loss = new nn.CrossEntropyLoss();
const optimizer = new kd.optim.Adam(model.parameters(), { lr: 1e-3 });
await kd.train.fit(model, {
  optimizer, loss, trainData, valData, epochs: 3, batchSize: 64, metrics: ['accuracy'], seed: 1,
  callbacks: [kd.train.callbacks.earlyStopping({ monitor: 'val_loss', patience: 1, restoreBestWeights: true })],
});

const test = kd.train.evaluate(model, { data: data.test, loss, metrics: ['accuracy'] });
console.log(`test accuracy ${(100 * test.accuracy).toFixed(2)}% on ${data.test.length} images (loss ${test.loss.toFixed(4)})`);

kd.io.save(model.stateDict(), 'fashion_cnn.safetensors', { test_accuracy: String(test.accuracy) });
console.log('saved fashion_cnn.safetensors');
