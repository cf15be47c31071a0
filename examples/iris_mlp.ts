// Iris: a 4-16-3 MLP on standardised features, with a stratified, seeded 80/20 split.
// Run: npm run build:ts && node dist/examples/iris_mlp.js
// (In your own project, import * as kd from 'kindling'.)
import * as kd from '../lib/index.js';

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
const train = kd.data.standardize(xTrainRaw);
const test = kd.data.standardize(xTestRaw, { mean: train.mean, std: train.std });
const trainData = new kd.data.TensorDataset(train.normalized, yTrain);
const testData = new kd.data.TensorDataset(test.normalized, yTest);

const model = new kd.nn.Sequential(new kd.nn.Linear(4, 16), new kd.nn.ReLU(), new kd.nn.Linear(16, 3));
const loss = new kd.nn.CrossEntropyLoss();
const history = await kd.train.fit(model, {
  optimizer: new kd.optim.Adam(model.parameters(), { lr: 0.01 }),
  loss, trainData, epochs: 60, batchSize: 16, metrics: ['accuracy'], seed, verbose: 0,
});

const { loss: testLoss, accuracy } = kd.train.evaluate(model, { data: testData, loss, metrics: ['accuracy'] });
const last = history.epoch.length - 1;
console.log(`Iris: ${trainRows.length} training and ${testRows.length} test flowers; features ${featureNames.join(', ')}`);
console.log(`after ${history.epoch[last]} epochs: train loss ${history.history.loss[last].toFixed(4)}, train accuracy ${(100 * history.history.accuracy[last]).toFixed(1)}%`);
console.log(`test loss ${testLoss.toFixed(4)}, test accuracy ${(100 * accuracy).toFixed(1)}% (${Math.round(accuracy * testRows.length)}/${testRows.length})`);
