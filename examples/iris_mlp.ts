// Iris: a 4-16-3 MLP on standardised features, with a stratified, seeded 80/20 split, trained the
// Keras way (compile, fit, evaluate). The Keras original, line for line:
//   model = keras.Sequential([layers.Dense(16, activation='relu'), layers.Dense(3)])
//   model.compile(optimizer=keras.optimizers.Adam(0.01), loss=SparseCategoricalCrossentropy(from_logits=True), metrics=['accuracy'])
//   history = model.fit(x_train, y_train, epochs=60, batch_size=16, validation_data=(x_test, y_test), verbose=0)
//   test_loss, test_acc = model.evaluate(x_test, y_test)
// Run: npm run build:ts && node dist/examples/iris_mlp.js
// (In your own project, import * as kd from 'kindling'.)
import * as kd from '../lib/index.js';

const { nn } = kd;
const seed = 0;
kd.manualSeed(seed);
const { dataset, classes, featureNames } = kd.data.datasets.iris();
const [features, species] = dataset.tensors;

// Stratified split: 80% of each class trains, the other 20% tests.
const labels = Array.from(species.data() as Int32Array);
const trainRows: number[] = [], testRows: number[] = [];
classes.forEach((_, c) => {
  const rows = labels.flatMap((label, i) => (label === c ? [i] : []));
  const order = kd.data.permutation(rows.length, seed + c).map((k) => rows[k]);
  const cut = Math.round(0.8 * rows.length);
  trainRows.push(...order.slice(0, cut));
  testRows.push(...order.slice(cut));
});
const [xTrainRaw, yTrain] = dataset.getBatch(Int32Array.from(trainRows));
const [xTestRaw, yTest] = dataset.getBatch(Int32Array.from(testRows));

// Standardise with the training set's statistics only.
const { normalized: xTrain, mean, std } = kd.data.standardize(xTrainRaw);
const { normalized: xTest } = kd.data.standardize(xTestRaw, { mean, std });

const model = new nn.Sequential(new nn.Linear(4, 16), new nn.ReLU(), new nn.Linear(16, 3));
model.compile({
  optimizer: new kd.optim.Adam(model.parameters(), { lr: 0.01 }),
  loss: 'sparseCategoricalCrossentropy', // on logits: kindling models output logits (fromLogits defaults to true)
  metrics: ['accuracy'],
});
const history = await model.fit(xTrain, yTrain, { epochs: 60, batchSize: 16, validationData: [xTest, yTest], verbose: 0, seed });
const { loss: testLoss, accuracy: testAccuracy } = model.evaluate(xTest, yTest);

const last = history.epoch.length - 1;
console.log(`Iris: ${trainRows.length} training and ${testRows.length} test flowers; features ${featureNames.join(', ')}`);
console.log(`after ${history.epoch[last]} epochs: train loss ${history.history.loss[last].toFixed(4)}, train accuracy ${(100 * history.history.accuracy[last]).toFixed(1)}%`);
console.log(`test loss ${testLoss.toFixed(4)}, test accuracy ${(100 * testAccuracy).toFixed(1)}% (${Math.round(testAccuracy * testRows.length)}/${testRows.length})`);
const predicted = model.predict(xTest).argmax(1).data() as Int32Array;
console.log(`first test flowers: predicted ${Array.from(predicted.slice(0, 5), (c) => classes[c]).join(', ')}`);
