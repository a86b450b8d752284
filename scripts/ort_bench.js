// ort_bench.js times an ONNX model in ONNX Runtime's CPU provider (MLAS)
// for scripts/bench-vs-ort.sh:
//
//   NODE_PATH=~/.cache/cellc-ort/node_modules node scripts/ort_bench.js MODEL THREADS BATCH STEPS [WARMUP]
//
// It reads the input's name and image shape from the model (cellc export
// names it "image"; the PyTorch anchor's export "x"), runs WARMUP (1)
// untimed passes, then STEPS timed ones on random input, with one
// intra-op pool of THREADS threads and all graph optimisations, and
// prints the median time per pass, images per second from it and
// overall, and the process's resident set after the session was created
// and before the first pass (the baseline: Node.js, ONNX Runtime and the
// model's initializers), in MiB.
'use strict';
const ort = require('onnxruntime-node');

async function main() {
  const [model, threads, batch, steps] = [process.argv[2], +process.argv[3] || 2, +process.argv[4] || 64, +process.argv[5] || 4];
  const warmup = process.argv[6] === undefined ? 1 : +process.argv[6];
  const s = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1,
    graphOptimizationLevel: 'all', executionMode: 'sequential', executionProviders: ['cpu'],
  });
  const name = s.inputNames[0];
  // The session's metadata gives the image dims; the batch is free.
  const meta = s.inputMetadata && s.inputMetadata[0];
  const dims = meta && meta.shape ? meta.shape.slice(1).map(Number) : [3, 32, 32];
  const n = dims.reduce((a, b) => a * b, 1);
  const x = new ort.Tensor('float32', Float32Array.from({length: batch * n}, () => Math.random() * 2 - 1), [batch, ...dims]);
  const baseline = process.memoryUsage().rss / 1048576;
  for (let i = 0; i < warmup; i++) await s.run({[name]: x});
  const ms = [];
  const t = process.hrtime.bigint();
  for (let i = 0; i < steps; i++) {
    const t0 = process.hrtime.bigint();
    await s.run({[name]: x});
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const total = Number(process.hrtime.bigint() - t) / 1e9;
  const sorted = ms.slice().sort((a, b) => a - b);
  const med = steps % 2 ? sorted[(steps - 1) / 2] : (sorted[steps / 2 - 1] + sorted[steps / 2]) / 2;
  console.log(`ort infer batch=${batch} threads=${threads} ms_per_step_median=${med.toFixed(2)} img_per_s=${(batch * 1000 / med).toFixed(2)} img_per_s_overall=${(batch * steps / total).toFixed(2)} baseline_rss_mib=${baseline.toFixed(1)}`);
  await s.release();
}

main().catch((err) => {
  console.error(String(err && err.stack ? err.stack : err));
  process.exit(1);
});
