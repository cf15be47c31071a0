// Fashion-MNIST with the Keras MNIST convnet, trained the Keras way: build, compile, fit, evaluate,
// save. The Keras original, line for line:
//   model = keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(32, 3, activation='relu'), layers.MaxPooling2D(2),
//     layers.Conv2D(64, 3, activation='relu'), layers.MaxPooling2D(2), layers.Conv2D(64, 3, activation='relu'),
//     layers.Flatten(), layers.Dense(64, activation='relu'), layers.Dense(10)])
//   model.summary()
//   model.compile(optimizer='adam', loss=SparseCategoricalCrossentropy(from_logits=True), metrics=['accuracy'])
//   model.fit(x_train, y_train, epochs=3, batch_size=32, validation_split=0.1, callbacks=[EarlyStopping(...)])
//   test_loss, test_acc = model.evaluate(x_test, y_test)
// Run: npm run build:ts && node dist/examples/fashion_cnn.js [epochs]
// (In your own project, import * as kd from 'kindling'.)
import * as kd from '../lib/index.js';

const { nn } = kd;
kd.manualSeed(1);
const epochs = Number(process.argv[2] ?? 3);

// The shipped subset: 20,000 training and the 10,000 test images, as [N, 1, 28, 28] in [0, 1].
const data = kd.data.datasets.fashionMnist();
const [xTrain, yTrain] = data.train.tensors;
const [xTest, yTest] = data.test.tensors;

const model = new nn.Sequential(
  new nn.Conv2d(1, 32, 3), new nn.ReLU(), new nn.MaxPool2d(2), // 28 -> 26 -> 13
  new nn.Conv2d(32, 64, 3), new nn.ReLU(), new nn.MaxPool2d(2), // 13 -> 11 -> 5
  new nn.Conv2d(64, 64, 3), new nn.ReLU(), // 5 -> 3
  new nn.Flatten(),
  new nn.Linear(64 * 3 * 3, 64), new nn.ReLU(),
  new nn.Linear(64, 10),
);
console.log(model.summary({ inputShape: [1, 28, 28] }));

model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
await model.fit(xTrain, yTrain, {
  epochs, batchSize: 32, validationSplit: 0.1, seed: 1,
  callbacks: [kd.train.callbacks.earlyStopping({ monitor: 'val_loss', patience: 1, restoreBestWeights: true })],
});

const test = model.evaluate(xTest, yTest);
console.log(`test accuracy ${(100 * test.accuracy).toFixed(2)}% on ${xTest.shape[0]} images (loss ${test.loss.toFixed(4)})`);

kd.io.save(model.stateDict(), 'fashion_cnn.safetensors', { test_accuracy: String(test.accuracy) });
console.log('saved fashion_cnn.safetensors');
