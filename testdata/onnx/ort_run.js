// ort_run.js runs ONNX models in ONNX Runtime (onnxruntime-node) for
// runtime/onnx's parity test: node ort_run.js JOBS.json, where JOBS.json
// is a list of {"model", "input", "dims", "output", "level"}: the input
// is raw little-endian float32 of shape dims (the "image" input), the
// "logits" output is written to output the same way, and level is the
// session's graph optimisation level ("all" by default, so that the
// optimiser's fusions are checked too; "disabled" runs the graph as
// written).
// The test sets NODE_PATH to where onnxruntime-node is installed.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
  const jobs = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  for (const job of jobs) {
    const session = await ort.InferenceSession.create(job.model, {
      graphOptimizationLevel: job.level || 'all',
      executionProviders: ['cpu'],
    });
    const buf = fs.readFileSync(job.input);
    const x = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    const out = await session.run({ image: new ort.Tensor('float32', x, job.dims) });
    const logits = out.logits;
    fs.writeFileSync(job.output, Buffer.from(logits.data.buffer, logits.data.byteOffset, logits.data.byteLength));
    console.log(`${job.model} (${job.level || 'all'}): logits ${JSON.stringify(logits.dims)}`);
    await session.release();
  }
}

main().catch((err) => {
  console.error(String(err && err.stack ? err.stack : err));
  process.exit(1);
});
