"""Trace the JAX models into ONNX with jax2onnx: named inputs, dynamic batch `N`, one file.

The graphs are exactly the functions the rest of the code runs: `make_policy_fn(artifact)`
(features, normalisation and the clipped mean action inside) and `PoseNet.__call__` (eval
mode). Each file carries its contract in `metadata_props["orient_jax.contract"]` (JSON), so a
consumer can check it without this code. Files are written without external data (ORT Web
loads one file) and byte-for-byte deterministic for the same parameters across processes
(within one process, jax2onnx's second trace of the pose net emits a few extra constant
Concat nodes: equal values, different bytes; `orient-jax export` traces each model once).
"""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path

import onnx

from orient_jax.export.contract import OPSET, Contract, policy_contract_for, pose_contract

BATCH = "N"
"""Symbolic name of the dynamic batch axis in every exported graph."""


@contextlib.contextmanager
def _quiet():
    """onnx_ir warns about untyped shape constants while serialising; they are harmless."""
    logger = logging.getLogger("onnx_ir")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _finish(model: onnx.ModelProto, contract: Contract, doc: str) -> onnx.ModelProto:
    """Drop jax2onnx's intermediate shape annotations (some carry NHWC shapes on NCHW values,
    which onnxruntime warns about), record the contract and make the bytes reproducible."""
    del model.graph.value_info[:]
    model.producer_name = "orient_jax"
    model.producer_version = _version()
    model.doc_string = doc
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key, entry.value = "orient_jax.contract", json.dumps(contract.to_dict(), sort_keys=True)
    return model


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("orient-jax")
    except PackageNotFoundError:
        return "0"


def save(model: onnx.ModelProto, path: Path) -> Path:
    """One self-contained file (no `.data` sidecar), written via a temp name and a rename."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(model.SerializeToString(deterministic=True))
    tmp.replace(path)
    return path


def policy_model(artifact, opset: int = OPSET) -> onnx.ModelProto:
    """`make_policy_fn(artifact)` as an ONNX graph: quat, ang_vel, prev_action[, target][, memory]
    -> action[, memory_out]."""
    from jax2onnx import to_onnx

    from orient_jax.rl.policy import make_policy_fn

    contract = policy_contract_for(artifact)
    policy = make_policy_fn(artifact)
    names = list(contract.inputs)
    fn = lambda *inputs: policy(**dict(zip(names, inputs)))  # positional, in the contract's order
    with _quiet():
        model = to_onnx(fn, [(BATCH,) + tuple(contract.inputs[n][1][1:]) for n in names], model_name=contract.kind,
                        opset=opset, input_names=names, output_names=list(contract.outputs))
    doc = (f"orient-jax {artifact.env_name} policy: raw signals in ({', '.join(names)}; quaternions [x,y,z,w], either sign; "
           "ang_vel body frame rad/s) -> action [-1,1]^3 (deterministic mean; torque = action * physics.action_scale)"
           + ("; memory_out is the next call's memory (zeros at an episode's start)." if "memory" in names else "."))
    return _finish(model, contract, doc)


def pose_model(model, opset: int = OPSET) -> onnx.ModelProto:
    """`PoseNet.__call__` (eval mode) as an ONNX graph: image (N,H,W,3) in [0,1] -> quat (N,4)."""
    from jax2onnx import to_onnx

    model.eval()  # BatchNorm from running statistics; idempotent
    size = model.config.image_size
    contract = pose_contract(size, size)
    with _quiet():
        proto = to_onnx(lambda image: model(image), [(BATCH, size, size, 3)], model_name="pose", opset=opset,
                        input_names=["image"], output_names=["quat"])
    doc = f"orient-jax pose CNN: image (N,{size},{size},3) RGB in [0,1] -> quat (N,4) [x,y,z,w], unit, w >= 0."
    return _finish(proto, contract, doc)


def export_policy(artifact, path: Path, opset: int = OPSET) -> Path:
    return save(policy_model(artifact, opset), path)


def export_pose(model, path: Path, opset: int = OPSET) -> Path:
    return save(pose_model(model, opset), path)
