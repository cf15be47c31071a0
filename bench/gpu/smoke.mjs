// A small end-to-end CUDA run for compute-sanitizer (bench/gpu/run-on-gpu.sh): a few training
// steps of the MLP and of the Keras MNIST CNN, an embedding lookup and its backward, a softmax and
// a reduction, all read back. Plain JavaScript over dist/ (tsc output), so it needs no node_modules.
// Exits 1 if a loss is not finite.
const kd = await import(new URL('../../dist/lib/index.js', import.meta.url).href);
const { kerasMnistCnn, mlp } = await import(new URL('../../dist/lib/models/index.js', import.meta.url).href);

kd.manualSeed(0);
const x = kd.rand([16, 1, 28, 28]).to('cuda');
const y = kd.randint(0, 10, [16]).to('cuda');
for (const model of [mlp(), kerasMnistCnn()]) {
  model.to('cuda');
  const opt = new kd.optim.Adam(model.parameters(), { lr: 1e-3 });
  for (let step = 0; step < 3; step++) {
    const loss = kd.tidy(() => {
      opt.zeroGrad();
      const l = kd.nn.functional.crossEntropy(model.forward(x), y);
      l.backward();
      opt.step();
      return l.item();
    });
    console.log(`${model.constructor.name} step ${step}: loss ${loss.toFixed(4)}`);
    if (!Number.isFinite(loss)) process.exit(1);
  }
}
const table = kd.randn([50, 8]).to('cuda');
table.requiresGrad = true;
const tokens = kd.randint(0, 50, [4, 9]).to('cuda');
kd.nn.functional.embedding(tokens, table).softmax(-1).sum().backward();
console.log(`embedding grad sum ${table.grad.sum().item().toFixed(4)}, softmax row sum ${kd.randn([3, 7]).to('cuda').softmax(1).sum(1).toArray()}`);
kd.cuda.synchronize();
console.log('smoke: ok');
