"""Export: each ONNX file meets its contract; the gate publishes only checked bundles, atomically."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

from orient_jax.errors import UserError
from orient_jax.export import contract as contract_lib
from orient_jax.export import gate, onnx_export, testing
from orient_jax.export.manifest import sha256

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "models" / "checkpoints" / "upright"
FAST = {"episodes": 2, "seconds": 2.0}


@pytest.fixture(scope="module")
def shipped():
    from orient_jax.rl.checkpoint import load_policy

    return load_policy(SHIPPED)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, shipped):
    """One export of everything: the shipped upright policy, an untrained goal policy, a tiny pose net."""
    tmp = tmp_path_factory.mktemp("export")
    goal_dir = testing.save_random_policy(tmp / "goal_policy", "goal")
    from orient_jax.rl.checkpoint import load_policy

    out = tmp / "bundle"
    pose = gate.random_pose_source(0, testing.tiny_pose_config())
    manifest = gate.export_models(out, policy=shipped, policy_source=str(SHIPPED), goal_policy=load_policy(goal_dir),
                                  goal_policy_source=str(goal_dir), pose=pose, camera=testing.tiny_camera(32), **FAST)
    return out, manifest


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_bundle_layout(bundle):
    out, manifest = bundle
    names = {p.name for p in out.iterdir()}
    expected = {"manifest.json", "parity.json", "policy.onnx", "policy_goal.onnx", "pose.onnx", "engine.xml"}
    assert expected <= names
    assert names - expected <= {"engine.glb"}, "no temp folders or sidecars left behind"
    assert ("engine.glb" in names) == (manifest["asset"]["glb"] == "engine.glb")
    assert not any(n.endswith(".data") for n in names)


def test_manifest_keys_and_values(bundle):
    from orient_jax.assets import mjcf

    out, manifest = bundle
    assert manifest == json.loads((out / "manifest.json").read_text())
    assert manifest["version"] == 1
    assert manifest["asset"]["mjcf"] == "engine.xml"
    phys = manifest["physics"]
    cfg = mjcf.PhysicsConfig()
    assert phys["integrator"] == cfg.integrator and phys["timestep"] == cfg.timestep
    assert phys["control_dt"] == cfg.control_dt
    assert phys["action_scale"] == pytest.approx([mjcf.action_scale()] * 3)
    assert set(manifest["camera"]) >= {"position", "look_at", "up", "fov_y_deg", "width", "height"}
    assert manifest["success"] == {"tilt_deg": 10.0, "ang_vel": 0.5, "hold_s": 1.0, "within_s": 10.0}
    for name in ("policy", "policy_goal", "pose"):
        entry = manifest["models"][name]
        assert entry["file"] == f"{name}.onnx"
        assert entry["sha256"] == sha256(out / entry["file"])
        assert entry["inputs"] and entry["outputs"] and "metrics" in entry and "config" in entry
    assert manifest["models"]["policy"]["env"] == "upright"
    assert manifest["models"]["policy_goal"]["env"] == "goal"
    assert manifest["models"]["pose"]["trained"] is False and "UNTRAINED" in manifest["models"]["pose"]["warning"]
    assert manifest["parity"]["pass"] is True
    assert json.loads((out / "parity.json").read_text())["pass"] is True


def test_manifest_object_section(bundle, tmp_path):
    """`object`: the engine's names, mass, size and drop height read from the MJCF, the page's
    grab spring and push the values it had hand-tuned; another object's scale with its mass and size."""
    from types import SimpleNamespace

    from orient_jax.assets import mjcf
    from orient_jax.export.manifest import object_from_mjcf

    _, manifest = bundle
    obj = manifest["object"]
    assert obj["body"] == "engine" and obj["collision_mesh"] == "hull"
    assert obj["mass_kg"] == pytest.approx(5.04376) and obj["bounding_radius_m"] == pytest.approx(mjcf.bounding_radius(), abs=1e-6)
    assert obj["spawn"] == {"xy": 0.05, "height": pytest.approx(mjcf.initial_height(), abs=1e-6)}
    assert obj["drag"] == {"stiffness": 150.0, "damping": 6.0, "max_force": 120.0}
    assert obj["push"] == {"impulse": 3.0, "duration": 0.1}
    assert obj["goal_hold_margin"] == 0.7
    assert obj["view"] == {"ghost_lift": 0.45, "axes": 0.22, "target_height": 0.25, "look_at_height": 0.18}

    # The same engine at twice the mass: the grab spring and the push double.
    heavy = tmp_path / "heavy.xml"
    xml = mjcf.MJCF_PATH.read_text()
    assert xml.count('mass="5.04376"') == 1
    heavy.write_text(xml.replace('mass="5.04376"', 'mass="10.08752"'))
    cfg = SimpleNamespace(spawn_xy=0.1)
    other = object_from_mjcf(heavy, cfg, SimpleNamespace(goal_hold_margin=0.4))
    assert other["mass_kg"] == pytest.approx(10.08752)
    assert other["drag"] == {"stiffness": 300.0, "damping": 12.0, "max_force": 240.0}
    assert other["push"]["impulse"] == 6.0 and other["spawn"]["xy"] == 0.1 and other["goal_hold_margin"] == 0.4
    assert other["view"] == obj["view"]  # same size


@pytest.mark.parametrize("name", ["policy", "policy_goal", "pose"])
def test_contract(bundle, name):
    out, _ = bundle
    contract = (contract_lib.pose_contract(32, 32) if name == "pose"
                else contract_lib.policy_contract(name == "policy_goal"))
    assert contract_lib.check_contract(out / f"{name}.onnx", contract) == []
    assert contract_lib.embedded_contract(out / f"{name}.onnx") == contract.to_dict()
    model = onnx.load(str(out / f"{name}.onnx"))
    assert [i.name for i in model.graph.input] == list(contract.inputs)
    assert [o.name for o in model.graph.output] == list(contract.outputs)
    sess = contract_lib.session(out / f"{name}.onnx")
    for batch in (1, 2, 7):  # dynamic batch
        feeds = contract_lib.sample_inputs(contract, batch, np.random.default_rng(batch))
        (y,) = sess.run(None, feeds)
        assert y.shape == (batch, 3 if name != "pose" else 4) and y.dtype == np.float32


def test_policy_export_is_deterministic(shipped):
    a = onnx_export.policy_model(shipped).SerializeToString(deterministic=True)
    b = onnx_export.policy_model(shipped).SerializeToString(deterministic=True)
    assert a == b


def test_contract_check_finds_violations(tmp_path):
    from onnx import TensorProto, helper

    # A "policy" with a fixed batch, a misspelled input and a random op.
    inputs = [helper.make_tensor_value_info("q", TensorProto.FLOAT, [1, 4]),
              helper.make_tensor_value_info("ang_vel", TensorProto.FLOAT, [1, 3]),
              helper.make_tensor_value_info("prev_action", TensorProto.FLOAT, [1, 3])]
    out = helper.make_tensor_value_info("action", TensorProto.FLOAT, [1, 3])
    nodes = [helper.make_node("RandomUniform", [], ["r"], shape=[1, 3]),
             helper.make_node("Add", ["ang_vel", "r"], ["action"])]
    model = helper.make_model(helper.make_graph(nodes, "bad", inputs, [out]), opset_imports=[helper.make_opsetid("", 23)])
    path = tmp_path / "policy.onnx"
    onnx.save(model, str(path))
    failures = contract_lib.check_contract(path, contract_lib.policy_contract())
    text = "\n".join(failures)
    assert "forbidden ops in the graph: ['RandomUniform']" in text
    assert "input names are ['q', 'ang_vel', 'prev_action']" in text
    assert "does not carry its contract" in text


def _broken_policy_export(monkeypatch, damage):
    real = onnx_export.export_policy

    def export_then_damage(artifact, path, opset=contract_lib.OPSET):
        real(artifact, path, opset)
        model = onnx.load(str(path))
        damage(model)
        onnx_export.save(model, path)
        return path

    monkeypatch.setattr(gate.onnx_export, "export_policy", export_then_damage)


def _perturb_weights(model):
    from onnx import numpy_helper

    biggest = max(model.graph.initializer, key=lambda t: int(np.prod(t.dims)))
    w = numpy_helper.to_array(biggest).copy()
    w += np.float32(0.01) * np.sign(w)
    biggest.CopyFrom(numpy_helper.from_array(w, biggest.name))


def _rename_input(model):
    old, new = "quat", "orientation"
    model.graph.input[0].name = new
    for node in model.graph.node:
        node.input[:] = [new if i == old else i for i in node.input]


@pytest.mark.parametrize("damage, expect", [(_perturb_weights, "parity policy: action max abs error"),
                                            (_rename_input, "input names are ['orientation'")])
def test_gate_refuses_broken_model_and_keeps_old_files(bundle, shipped, tmp_path, monkeypatch, damage, expect):
    out = tmp_path / "bundle"
    shutil.copytree(bundle[0], out)
    before = _snapshot(out)
    _broken_policy_export(monkeypatch, damage)
    with pytest.raises(UserError) as err:
        gate.export_models(out, policy=shipped, policy_source=str(SHIPPED), **FAST)
    assert expect in str(err.value)
    assert "previous files" in str(err.value)
    assert _snapshot(out) == before, "a refused export must leave every old file byte-identical"


def test_gate_is_atomic_when_export_crashes(bundle, shipped, tmp_path, monkeypatch):
    out = tmp_path / "bundle"
    shutil.copytree(bundle[0], out)
    before = _snapshot(out)

    def crash(*a, **k):
        raise RuntimeError("simulated crash mid-export")

    monkeypatch.setattr(gate.onnx_export, "export_pose", crash)
    with pytest.raises(RuntimeError):
        gate.export_models(out, policy=shipped, pose=gate.random_pose_source(0, testing.tiny_pose_config()),
                           camera=testing.tiny_camera(32), **FAST)
    assert _snapshot(out) == before


def test_gate_refuses_camera_that_does_not_match_the_pose_input(shipped, tmp_path):
    with pytest.raises(UserError, match="camera: 128x128 px, but pose.onnx takes 32x32"):
        gate.export_models(tmp_path / "out", policy=shipped, pose=gate.random_pose_source(0, testing.tiny_pose_config()),
                           **FAST)
    assert not any((tmp_path / "out").iterdir())


def test_gate_refuses_policy_in_the_wrong_slot(shipped, tmp_path):
    with pytest.raises(UserError, match="--goal-policy: a policy of the 'upright' env is not goal-conditioned"):
        gate.export_models(tmp_path / "out", goal_policy=shipped)


def test_cli_parity_rechecks_the_export(bundle, tmp_path, capsys):
    from orient_jax.cli import main

    report = tmp_path / "parity.json"
    assert main(["parity", "--models", str(bundle[0]), "--out", str(report), "--episodes", "2"]) == 0
    text = capsys.readouterr().out
    assert "JAX/ORT" in text and "closed loop policy_goal" in text
    assert json.loads(report.read_text())["pass"] is True


def test_cli_parity_detects_a_changed_file(bundle, tmp_path, capsys):
    from orient_jax.cli import main

    out = tmp_path / "bundle"
    shutil.copytree(bundle[0], out)
    model = onnx.load(str(out / "policy.onnx"))
    _perturb_weights(model)
    onnx_export.save(model, out / "policy.onnx")
    assert main(["parity", "--models", str(out), "--out", str(tmp_path / "p.json"), "--episodes", "2"]) == 1
    text = capsys.readouterr().out
    assert "sha256 differs" in text and "action max abs error" in text


def test_cli_errors_are_one_line(tmp_path, capsys):
    from orient_jax.cli import main

    assert main(["export", "--out", str(tmp_path), "--pose", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: no pose model at")
    assert main(["parity", "--models", str(tmp_path)]) == 2
    assert "missing manifest.json" in capsys.readouterr().err
