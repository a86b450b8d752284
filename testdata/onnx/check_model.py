"""check_model.py runs onnx.checker's full check (shape inference in
strict mode included) on each model named on the command line, for
runtime/onnx's tests, checks that the onnx package serialises the model
it read back to the same bytes (so cellc's hand-written encoder writes
what protoc's would), and prints one line per model."""
import sys

import onnx

for path in sys.argv[1:]:
    onnx.checker.check_model(path, full_check=True)
    with open(path, "rb") as f:
        data = f.read()
    m = onnx.load_model_from_string(data)
    if m.SerializeToString() != data:
        sys.exit(f"{path}: the onnx package re-serialises the model to different bytes")
    print(f"{path}: ok (ir {m.ir_version}, opset {m.opset_import[0].version}, {len(m.graph.node)} nodes)")
