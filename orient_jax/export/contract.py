"""The ONNX contracts of docs/design.md as data, and the checks that a file meets them.

`check_contract(path, contract)` returns a list of failures (empty = the file is fine), each a
sentence with the numbers that failed: static checks (names, dtypes, shapes with a symbolic
batch axis, opset, forbidden ops, no external data, the embedded contract) and run-time checks
in onnxruntime at batch 1, 2 and 7 (output shapes, finite values, range: actions in [-1, 1],
quaternions unit with w >= 0).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import onnx

OPSET = 23
"""ONNX opset of every exported graph (jax2onnx's default; onnxruntime-web 1.30 runs it)."""

FORBIDDEN_OPS = ("Dropout", "RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike",
                 "Multinomial", "Bernoulli")
"""Ops that make a graph random or training-mode: the deployed models are deterministic."""

RUNTIME_BATCHES = (1, 2, 7)

Spec = tuple[str, tuple]  # (dtype, shape), shape[0] == "N"


@dataclasses.dataclass(frozen=True)
class Contract:
    kind: str
    """"policy", "policy_goal" or "pose"."""
    inputs: dict[str, Spec]
    outputs: dict[str, Spec]
    opset: int = OPSET
    forbidden_ops: tuple[str, ...] = FORBIDDEN_OPS

    @property
    def memory(self) -> tuple[int, int] | None:
        """(K, F + 1) for a policy with memory, else None."""
        return tuple(self.inputs["memory"][1][1:]) if "memory" in self.inputs else None

    def to_dict(self) -> dict:
        io = lambda d: {k: {"dtype": t, "shape": list(s)} for k, (t, s) in d.items()}
        return {"kind": self.kind, "inputs": io(self.inputs), "outputs": io(self.outputs), "opset": self.opset,
                "forbidden_ops": list(self.forbidden_ops)}


def policy_contract(goal: bool = False, memory: tuple[int, int] | None = None) -> Contract:
    """The policy graph's contract; `memory` (K, F + 1): a policy with memory (`sim/memory.py`)
    also takes `memory` and returns `memory_out`, which the caller passes back next step."""
    inputs = {"quat": ("float32", ("N", 4)), "ang_vel": ("float32", ("N", 3)), "prev_action": ("float32", ("N", 3))}
    outputs = {"action": ("float32", ("N", 3))}
    if goal:
        inputs["target"] = ("float32", ("N", 4))
    if memory is not None:
        inputs["memory"] = outputs["memory_out"] = ("float32", ("N", *memory))
    return Contract("policy_goal" if goal else "policy", inputs, outputs)


def policy_contract_for(artifact) -> Contract:
    """The contract a policy artifact's graph must meet (its task, whether it has memory, and
    whether that memory carries the stall reflex's row)."""
    from orient_jax import sim

    env_cls = sim.env_class(artifact.env_name)
    return policy_contract(env_cls.goal_conditioned, sim.base.memory_shape(artifact.env_config, env_cls))


def pose_contract(height: int = 128, width: int = 128) -> Contract:
    return Contract("pose", {"image": ("float32", ("N", height, width, 3))}, {"quat": ("float32", ("N", 4))})


def _dims(value: onnx.ValueInfoProto) -> list:
    shape = value.type.tensor_type.shape
    return [d.dim_param if d.HasField("dim_param") else (d.dim_value if d.HasField("dim_value") else None) for d in shape.dim]


def _all_op_types(graph: onnx.GraphProto):
    for node in graph.node:
        yield node.op_type
        for attr in node.attribute:
            if attr.g is not None and attr.HasField("g"):
                yield from _all_op_types(attr.g)
            for sub in attr.graphs:
                yield from _all_op_types(sub)


def _check_io(kind: str, values, specs: dict[str, Spec]) -> list[str]:
    failures = []
    names = [v.name for v in values]
    if names != list(specs):
        return [f"{kind} names are {names}, the contract says {list(specs)}"]
    for value in values:
        dtype, shape = specs[value.name]
        elem = value.type.tensor_type.elem_type
        got = onnx.helper.tensor_dtype_to_np_dtype(elem).name if elem else "undefined"
        if got != dtype:
            failures.append(f"{kind} {value.name!r} is {got}, the contract says {dtype}")
        dims = _dims(value)
        if len(dims) != len(shape):
            failures.append(f"{kind} {value.name!r} has rank {len(dims)} {dims}, the contract says {list(shape)}")
            continue
        if not isinstance(dims[0], str) or not dims[0]:
            failures.append(f"{kind} {value.name!r}: batch axis is fixed at {dims[0]}, the contract says dynamic")
        for i, (d, want) in enumerate(zip(dims[1:], shape[1:]), start=1):
            if d != want:
                failures.append(f"{kind} {value.name!r}: axis {i} is {d}, the contract says {want}")
    return failures


def check_static(model: onnx.ModelProto, contract: Contract, path: Path | None = None) -> list[str]:
    failures = []
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        failures.append(f"onnx checker: {str(exc).splitlines()[0]}")
    opsets = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    if opsets.get("ai.onnx") != contract.opset:
        failures.append(f"opset is {opsets.get('ai.onnx')}, the contract says {contract.opset}")
    extra = sorted(set(opsets) - {"ai.onnx"})
    if extra:
        failures.append(f"custom op domains {extra} (onnxruntime-web may lack them)")
    ops = set(_all_op_types(model.graph))
    for fn in model.functions:
        ops |= set(_all_op_types(fn))  # type: ignore[arg-type]
    bad = sorted(ops & set(contract.forbidden_ops))
    if bad:
        failures.append(f"forbidden ops in the graph: {bad}")
    external = [t.name for t in model.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    if external:
        failures.append(f"{len(external)} initializers in external data (e.g. {external[0]!r}); the page loads one file")
    if path is not None and Path(str(path) + ".data").exists():
        failures.append(f"a sidecar {Path(str(path) + '.data').name} exists beside the model")
    failures += _check_io("input", model.graph.input, contract.inputs)
    failures += _check_io("output", model.graph.output, contract.outputs)
    meta = {p.key: p.value for p in model.metadata_props}
    if "orient_jax.contract" not in meta:
        failures.append("the model does not carry its contract (metadata_props['orient_jax.contract'])")
    elif json.loads(meta["orient_jax.contract"]) != contract.to_dict():
        failures.append("the contract embedded in the model differs from the expected one")
    return failures


def sample_inputs(contract: Contract, batch: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Plausible random inputs of the contract's shapes (images in [0, 1], unit-ish quaternions)."""
    out = {}
    for name, (_, shape) in contract.inputs.items():
        full = (batch,) + tuple(shape[1:])
        if name == "image":
            out[name] = rng.uniform(0.0, 1.0, full).astype(np.float32)
        elif name in ("quat", "target"):
            q = rng.normal(size=full)
            out[name] = (q / np.linalg.norm(q, axis=-1, keepdims=True)).astype(np.float32)
        elif name == "ang_vel":
            out[name] = rng.normal(0.0, 5.0, full).astype(np.float32)
        elif name == "memory":  # running sums and their weight (last column) in (0, 1]
            out[name] = memory_sample(rng, full)
        else:
            out[name] = rng.uniform(-1.0, 1.0, full).astype(np.float32)
    return out


def memory_sample(rng: np.random.Generator, shape: tuple, weight_min: float = 0.05) -> np.ndarray:
    """Plausible memories (..., K, F + 1): averages in [-1, 1] times a weight in [weight_min, 1]."""
    weight = rng.uniform(weight_min, 1.0, (*shape[:-1], 1))
    return np.concatenate([weight * rng.uniform(-1.0, 1.0, (*shape[:-1], shape[-1] - 1)), weight], -1).astype(np.float32)


def session(model_or_path, threads: int = 1):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    src = model_or_path.SerializeToString() if isinstance(model_or_path, onnx.ModelProto) else str(model_or_path)
    return ort.InferenceSession(src, opts, providers=["CPUExecutionProvider"])


def check_runtime(model: onnx.ModelProto, contract: Contract, batches=RUNTIME_BATCHES, seed: int = 0) -> list[str]:
    failures = []
    try:
        sess = session(model)
    except Exception as exc:  # noqa: BLE001  (onnxruntime raises its own types)
        return [f"onnxruntime cannot load the model: {type(exc).__name__}: {str(exc).splitlines()[0]}"]
    rng = np.random.default_rng(seed)
    for batch in batches:
        feeds = sample_inputs(contract, batch, rng)
        try:
            outs = sess.run(list(contract.outputs), feeds)
        except Exception as exc:  # noqa: BLE001  (onnxruntime raises its own types)
            failures.append(f"batch {batch}: onnxruntime failed: {type(exc).__name__}: {str(exc).splitlines()[0]}")
            continue
        for (out_name, (_, out_shape)), out in zip(contract.outputs.items(), outs):
            failures += _check_output(out_name, out, (batch,) + tuple(out_shape[1:]), batch)
    return failures


def _check_output(out_name: str, out: np.ndarray, want: tuple, batch: int) -> list[str]:
    if out.shape != want or out.dtype != np.float32:
        return [f"batch {batch}: {out_name} is {out.dtype}{list(out.shape)}, the contract says float32{list(want)}"]
    if not np.all(np.isfinite(out)):
        return [f"batch {batch}: {out_name} has {int((~np.isfinite(out)).sum())} non-finite values"]
    failures = []
    if out_name == "action" and np.abs(out).max() > 1.0:
        failures.append(f"batch {batch}: |action| reaches {np.abs(out).max():.6g} > 1")
    elif out_name == "quat":
        norm_err = float(np.abs(np.linalg.norm(out, axis=-1) - 1.0).max())
        if norm_err > 1e-4:
            failures.append(f"batch {batch}: quat norm off by {norm_err:.3g} (> 1e-4)")
        if out[:, 3].min() < -1e-6:
            failures.append(f"batch {batch}: quat w reaches {out[:, 3].min():.3g} < 0 (not canonical)")
    return failures


def check_contract(path: Path, contract: Contract, runtime: bool = True) -> list[str]:
    """All failures of the file at `path` against `contract` (an empty list: it passes)."""
    path = Path(path)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001  (protobuf and onnx raise many types)
        return [f"{path.name}: not a readable ONNX file ({type(exc).__name__}: {exc})"]
    failures = check_static(model, contract, path)
    if runtime and not any("names are" in f for f in failures):
        failures += check_runtime(model, contract)
    return [f"{path.name}: {f}" for f in failures]


def embedded_contract(path: Path) -> dict | None:
    model = onnx.load(str(path), load_external_data=False)
    meta = {p.key: p.value for p in model.metadata_props}
    return json.loads(meta["orient_jax.contract"]) if "orient_jax.contract" in meta else None
