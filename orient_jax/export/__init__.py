"""Export: the trained JAX models to ONNX, each checked against its contract and against JAX.

- `onnx_export`: jax2onnx traces `make_policy_fn` and `PoseNet.__call__` into single-file
  ONNX graphs with named inputs and a dynamic batch axis.
- `contract`: what each file must look like (names, shapes, dtypes, opset, no random ops),
  checked statically and at run time at batch 1, 2 and 7.
- `parity`: JAX vs onnxruntime on random, adversarial and real inputs, and closed loop.
- `browser`: onnxruntime (Python) vs ONNX Runtime Web in headless Chromium.
- `manifest`: `manifest.json`, everything the page needs to use the models.
- `gate`: `export_models` writes all of it into a temp folder and moves it into place only
  when every check passes.
"""
