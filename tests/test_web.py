"""The browser client in headless Chromium: loads, closes the loop, agrees with Python.

Needs /usr/bin/chromium, web/vendor (bash scripts/setup_browser.sh) and the playwright package.
Models: web/public/models when `orient-jax export` has filled it, else a development folder
built here (the shipped upright policy + an untrained pose net).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import web_helpers as wh

pytestmark = pytest.mark.browser

_why = wh.missing_prerequisites()
if _why:
    pytestmark = [pytest.mark.browser, pytest.mark.skip(reason=_why)]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return wh.exported_models() or wh.build_dev_models(tmp_path_factory.mktemp("dev-models"))


# A manifest `object` section unlike the engine's (values the page could not have made up).
OTHER_OBJECT = {"name": "engine", "body": "engine", "collision_mesh": "hull",
                "spawn": {"xy": 0.2, "height": 0.35},
                "drag": {"stiffness": 300.0, "damping": 9.0, "max_force": 200.0},
                "push": {"impulse": 1.5, "duration": 0.05}, "goal_hold_margin": 0.5,
                "view": {"ghost_lift": 0.6, "axes": 0.3, "target_height": 0.4, "look_at_height": 0.2}}


def _edit_manifest(folder, edit):
    path = folder / "manifest.json"
    m = json.loads(path.read_text())
    edit(m)
    path.write_text(json.dumps(m))


@pytest.fixture(scope="module")
def tree(tmp_path_factory, models):
    """Folders served at /models/: good, and broken copies (missing model, corrupt model, bad version,
    an object body the MJCF lacks); `object`: another object section, `legacy`: none (an older export)."""
    root = tmp_path_factory.mktemp("served-models")
    shutil.copytree(models, root / "good")
    for name, edit in (("object", lambda m: m.update(object=OTHER_OBJECT)),
                       ("legacy", lambda m: m.pop("object", None)),
                       ("badbody", lambda m: m.update(object={**OTHER_OBJECT, "body": "nope"}))):
        shutil.copytree(models, root / name)
        _edit_manifest(root / name, edit)
    shutil.copytree(models, root / "missing")
    (root / "missing" / "pose.onnx").unlink()
    shutil.copytree(models, root / "corrupt")
    (root / "corrupt" / "pose.onnx").write_bytes(b"this is not an onnx model" * 100)
    shutil.copytree(models, root / "badversion")
    m = json.loads((root / "badversion" / "manifest.json").read_text())
    m["version"] = 99
    (root / "badversion" / "manifest.json").write_text(json.dumps(m))
    return root


@pytest.fixture(scope="module")
def base_url(tree):
    from orient_jax.web.server import serving

    with serving(wh.WEB, tree) as server:
        yield f"http://127.0.0.1:{server.server_address[1]}/"


@pytest.fixture(scope="module")
def pw():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def ctx(pw):
    with wh.browser(pw=pw) as c:
        yield c


@pytest.fixture(scope="module")
def page(ctx, base_url):
    """One paused page on the good models, shared by the parity tests."""
    p, errors = wh.open_page(ctx, f"{base_url}?models=/models/good/&physics=paused&obs=truth&seed=1")
    yield p
    p.close()


def test_page_loads_and_runs_without_console_errors(ctx, base_url, tmp_path):
    page, errors = wh.open_page(ctx, f"{base_url}?models=/models/good/&seed=0&physics=lockstep")
    page.wait_for_function("orientApp.state().t > 0.2", timeout=30_000)
    s = page.evaluate("orientApp.state()")
    page.screenshot(path=str(tmp_path / "page.png"))
    page.close()
    assert errors == [], errors
    for key in ("t", "quat", "quatPred", "angVel", "action", "tiltDeg", "predErrDeg", "success", "fps",
                "poseMs", "policyMs", "physicsMs"):
        assert key in s, key
    assert len(s["quat"]) == 4 and s["quat"][3] >= 0
    assert abs(np.linalg.norm(s["quat"]) - 1) < 1e-6
    assert len(s["quatPred"]) == 4 and np.all(np.isfinite(s["quatPred"]))
    assert all(-1 <= a <= 1 for a in s["action"])


def test_test_hook_api(page):
    """window.orientApp keeps the API the tests and benchmarks drive (DESIGN.md), whatever module owns each part."""
    assert set(page.evaluate("Object.keys(orientApp)")) == {
        "ready", "error", "config", "state", "reset", "setTarget", "setMode", "setObservation", "setTask", "manifest", "debug"}
    assert set(page.evaluate("Object.keys(orientApp.debug)")) == {
        "rollout", "runModel", "policyMemory", "renderPose", "renderPoseAsync", "predict", "run", "push",
        "restartEpisode", "pause", "object", "physicsVersion", "backend", "threads"}
    assert page.evaluate("orientApp.ready") is True and page.evaluate("orientApp.config.seed") == 1


def _open_logging(ctx, url):
    """Open the page; returns (page, console messages as (type, text))."""
    page = ctx.new_page()
    logs = []
    page.on("console", lambda m: logs.append((m.type, m.text)))
    page.on("pageerror", lambda e: logs.append(("error", f"pageerror: {e}")))
    page.goto(url)
    page.wait_for_function("window.orientApp && (window.orientApp.ready || window.orientApp.error)", timeout=60_000)
    assert page.evaluate("orientApp.error") is None, logs
    return page, logs


def _drops(page, n):
    return np.array([page.evaluate("orientApp.reset()")["pos"] for _ in range(n)])


def test_page_takes_object_constants_from_the_manifest(ctx, base_url):
    """The object-sized constants (grab spring, push, spawn square and drop height, goal hold margin,
    view sizes, body name) are the manifest's `object` section's: another section changes them all."""
    page, logs = _open_logging(ctx, f"{base_url}?models=/models/object/&physics=paused&obs=truth&seed=3")
    got = page.evaluate("orientApp.debug.object")
    assert got["drag"] == OTHER_OBJECT["drag"] and got["push"] == OTHER_OBJECT["push"]
    assert got["spawn"] == OTHER_OBJECT["spawn"] and got["view"] == OTHER_OBJECT["view"]
    assert got["goalHoldMargin"] == 0.5 and got["body"] == "engine"
    assert got["missing"] == []
    pos = _drops(page, 12)
    np.testing.assert_allclose(pos[:, 2], 0.35)  # dropped from object.spawn.height
    assert np.abs(pos[:, :2]).max() <= 0.2 and np.abs(pos[:, :2]).max() > 0.05  # over object.spawn.xy, not 0.05
    impulse = np.array(page.evaluate("orientApp.debug.push()"))  # no size given: object.push.impulse
    assert impulse[2] == 0 and np.linalg.norm(impulse) == pytest.approx(1.5)
    s = page.evaluate("orientApp.debug.run(5)")
    assert np.linalg.norm(s["angVel"]) > 0.5  # the push moved it
    page.close()
    assert not [t for kind, t in logs if kind == "error"], logs
    assert not [t for kind, t in logs if "object" in t and kind == "warning"], logs


def test_page_without_an_object_section_warns_and_uses_the_engine_values(ctx, base_url, models):
    """An older manifest (no `object` section): the engine's constants, the MJCF's body with the free
    joint and its drop height, and a console warning saying so."""
    import mujoco

    page, logs = _open_logging(ctx, f"{base_url}?models=/models/legacy/&physics=paused&obs=truth&seed=3")
    got = page.evaluate("orientApp.debug.object")
    assert got["drag"] == {"stiffness": 150, "damping": 6, "max_force": 120}
    assert got["push"] == {"impulse": 3.0, "duration": 0.1} and got["spawn"]["xy"] == 0.05
    assert "spawn.height" in got["missing"] and "drag.stiffness" in got["missing"]
    z0 = float(mujoco.MjModel.from_xml_path(str(models / "engine.xml")).qpos0[2])
    pos = _drops(page, 6)
    np.testing.assert_allclose(pos[:, 2], z0)
    assert np.abs(pos[:, :2]).max() <= 0.05
    page.close()
    warnings = [t for kind, t in logs if kind == "warning" and 'no "object" section' in t]
    assert len(warnings) == 1, logs


def test_main_view_is_lean_on_a_software_rasterizer(ctx, base_url, page):
    """Headless Chromium draws with SwiftShader: ?quality=auto (default) turns the main view's MSAA
    off there (it costs the pose camera a third of the control rate); ?quality=high keeps it."""
    assert page.evaluate("orientApp.state().mainViewLean") is True
    assert "no MSAA" in page.locator("#timing, #readout, #panel").first.inner_text()
    high, errors = wh.open_page(ctx, f"{base_url}?models=/models/good/&physics=paused&quality=high")
    lean = high.evaluate("orientApp.state().mainViewLean")
    high.close()
    assert errors == [] and lean is False


def test_proxy_worker_runs_the_same_models(ctx, base_url, page):
    """?proxy=1 (ONNX Runtime in its worker): the loop runs, and the pose model predicts what the
    in-thread runtime predicts for the same frames (buffers transferred to a worker must not be
    reused afterwards: a regression here stops the loop with a size-mismatch error)."""
    proxied, errors = wh.open_page(ctx, f"{base_url}?models=/models/good/&physics=paused&obs=predicted&seed=1&proxy=1")
    quats = [[0.0, 0.0, 0.0, 1.0], [0.3, -0.5, 0.1, 0.8]]
    s = proxied.evaluate("orientApp.debug.run(15)")
    got = np.array(proxied.evaluate("([qs]) => orientApp.debug.predict(qs)", [quats]))
    proxied.close()
    want = np.array(page.evaluate("([qs]) => orientApp.debug.predict(qs)", [quats]))
    assert errors == [], errors
    assert s["t"] > 0.29 and np.all(np.isfinite(s["quatPred"]))
    np.testing.assert_allclose(np.abs(np.sum(got * want, axis=1)), 1.0, atol=1e-5)


def test_truth_loop_turns_seeded_starts_upright(page):
    """obs=truth: the whole loop (render, pose, policy, MuJoCo) must solve seeded starts.
    A broken loop (quaternion order, frame, action scale, substeps) solves none."""
    results = []
    for _ in range(4):
        page.evaluate("orientApp.reset()")
        s = page.evaluate("orientApp.debug.run(520, {untilDone: true})")
        results.append((s["success"], s["t"], s["tiltDeg"]))
    solved = sum(r[0] for r in results)
    assert solved >= 3, results
    assert all(r[1] < 10.0 for r in results if r[0]), results


@pytest.fixture(scope="module")
def vision_page(ctx, base_url):
    """A paused page on the shipped models, the policy seeing the pose model's prediction."""
    p, errors = wh.open_page(ctx, f"{base_url}?models=/models/good/&physics=paused&obs=predicted&seed=5")
    yield p
    assert errors == [], errors
    p.close()


def test_async_readback_gives_the_synchronous_frame(vision_page):
    """The loop's readback (pixel-pack buffer + fence, collected a task later) returns exactly
    the frame a synchronous readPixels of the same orientation returns."""
    for q in ([0.0, 0.0, 0.0, 1.0], [0.3, -0.5, 0.1, 0.8]):
        sync = np.array(vision_page.evaluate("([q]) => orientApp.debug.renderPose(q)", [q]))
        async_ = vision_page.evaluate("([q]) => orientApp.debug.renderPoseAsync(q)", [q])
        assert async_ is not None
        np.testing.assert_array_equal(np.array(async_), sync)
        assert sync.std() > 0.01  # a drawn engine, not a blank frame


def test_page_pose_error_on_page_frames(vision_page):
    """The shipped pose model on frames the page renders (benchmark: 200 orientations, 2.2 deg
    median). A frame / colour-space / quaternion-order slip gives tens of degrees."""
    rng = np.random.default_rng(11)
    q = rng.normal(size=(24, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    q[q[:, 3] < 0] *= -1
    pred = np.array(vision_page.evaluate("([qs]) => orientApp.debug.predict(qs)", [q.tolist()]))
    err = np.degrees(2 * np.arccos(np.clip(np.abs(np.sum(q * pred, axis=1)), -1, 1)))
    assert np.median(err) <= 5.0, np.round(err, 1)


def test_vision_loop_turns_seeded_starts_upright(vision_page):
    """Vision in the loop (render -> pose.onnx -> policy.onnx -> MuJoCo, asynchronous readback with
    the one-step carry-forward): the benchmark solves 20 of 20; here 6 seeded starts, >= 5, and
    the prediction the policy saw at the end is close to the truth."""
    r = wh.episodes(vision_page, 6, "predicted")
    s = vision_page.evaluate("orientApp.state()")
    assert r["success_rate"] >= 5 / 6, r
    assert s["readback"] == "async" and s["predErrDeg"] < 8.0, s


def test_vision_loop_recovers_from_pushes(vision_page):
    """A shove (3 N m s about a random horizontal axis, over 0.1 s, against the policy's own torque)
    throws the upright engine over, onto a side or its top; the loop must right it again within
    5 s (benchmark: 10 trials; here 3, >= 2)."""
    r = wh.push_recovery(vision_page, 3, impulse=3.0, seed=21, obs="predicted")
    assert r["recovery_rate"] >= 2 / 3, r
    assert r["peak_tilt_median_deg"] > 45.0, r  # the pushes really knock it over


def test_goal_mode_targets_are_holdable_and_reached(ctx, base_url):
    """Goal mode (obs = truth, the shipped goal policy): "New target" samples what training
    samples, orientations the engine can hold (lever <= margin * torque / (m g), checked here
    against the Python asset); the policy reaches >= 2 of 4 (90 % over 1000 in evaluation).
    The goal policy has memory: the page feeds each call's memory_out back (after n steps each
    rate's weight is 1 - d^n) and starts it from zeros on a new target."""
    import jax.numpy as jnp

    from orient_jax import sim
    from orient_jax.sim import memory, reflex

    env = sim.load("goal")
    p, errors = wh.open_page(ctx, f"{base_url}?models=/models/good/&physics=paused&obs=truth&task=goal&seed=4")
    manifest = p.evaluate("orientApp.manifest")
    assert "memory" in manifest["models"]["policy_goal"]["inputs"]
    dt = manifest["physics"]["control_dt"]
    reached, levers = 0, []
    for _ in range(4):
        p.click("#btn-target")
        p.evaluate("orientApp.reset()")
        assert not any(p.evaluate("orientApp.debug.policyMemory()")["data"])
        s = p.evaluate("orientApp.debug.run(520, {untilDone: true})")
        assert s["task"] == "goal" and s["target"] is not None
        levers.append(float(env.holding_lever(jnp.asarray(s["target"], jnp.float32))))
        reached += bool(s["success"]) and s["goalErrDeg"] < 10.0
        mem = p.evaluate("orientApp.debug.policyMemory()")
        rows = np.asarray(mem["data"], np.float64).reshape(mem["dims"])[0]
        k = len(memory.DECAYS)
        np.testing.assert_allclose(rows[:k, -1], 1.0 - np.asarray(memory.DECAYS) ** round(s["t"] / dt), rtol=1e-4)
        if rows.shape[0] > k:  # the stall reflex's row: whole push counts, fed back like the rest
            pushes = rows[k, reflex.PUSHES]
            push_left = rows[k, reflex.PUSH_LEFT]
            assert pushes >= 0 and pushes == round(pushes) and 0 <= push_left <= round(5.0 / dt), rows[k]  # push_s <= 5 s
    p.close()
    assert errors == [], errors
    assert max(levers) <= env._max_lever + 1e-4, (levers, env._max_lever)
    assert reached >= 2, reached


def test_sync_readback_still_runs_the_loop(ctx, base_url):
    """?readback=sync (render, wait, read in the same step): the loop runs and predicts well."""
    p, errors = wh.open_page(ctx, f"{base_url}?models=/models/good/&physics=paused&obs=predicted&seed=2&readback=sync")
    s = p.evaluate("orientApp.debug.run(40)")
    p.close()
    assert errors == [], errors
    assert s["readback"] == "sync" and s["t"] > 0.79
    assert s["predErrDeg"] < 10.0, s


def _physics_gaps_deg(page, models, start_z: float, trials: int, seed: int = 0) -> np.ndarray:
    """Per trial, the worst orientation gap (deg) over 2 s between the page's MuJoCo (WASM) and C
    MuJoCo (Python): the same random torque sequence (a new ctrl every control step, up to the
    motors' limits) from the same state. (trials,) float64."""
    import mujoco

    model = mujoco.MjModel.from_xml_path(str(models / "engine.xml"))
    substeps = 4
    limit = model.actuator_ctrlrange[:, 1]
    rng = np.random.default_rng(seed)
    gaps = []
    for _ in range(trials):
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        qpos0 = np.concatenate([[0.0, 0.0, start_z], q])  # MuJoCo order: w, x, y, z
        ctrl = rng.uniform(-1, 1, size=(100, 3)) * limit  # 100 control steps = 2 s
        page_q = np.array(page.evaluate("([q, c, n]) => orientApp.debug.rollout(q, c, n)",
                                        [qpos0.tolist(), ctrl.tolist(), substeps]))
        data = mujoco.MjData(model)
        data.qpos[:] = qpos0
        mujoco.mj_forward(model, data)
        ref = []
        for c in ctrl:
            data.ctrl[:] = c
            mujoco.mj_step(model, data, nstep=substeps)
            ref.append(data.qpos.copy())
        gaps.append(float(np.max(_geodesic_deg(page_q[:, 3:7], np.array(ref)[:, 3:7]))))
    return np.array(gaps)


def _geodesic_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle (deg) between quaternions (..., 4) [w, x, y, z] of either sign, accurate near 0
    (atan2 of the relative rotation's vector part and scalar part, not arccos of a dot)."""
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    vec = a[..., :1] * b[..., 1:] - b[..., :1] * a[..., 1:] - np.cross(a[..., 1:], b[..., 1:])
    return np.degrees(2 * np.arctan2(np.linalg.norm(vec, axis=-1), np.abs(np.sum(a * b, -1))))


def test_page_runs_the_python_sides_mujoco_release(page):
    """One engine from training to the page: the page's WebAssembly build is the release the
    `mujoco` package pins (pyproject.toml, web/package.json)."""
    import mujoco

    assert page.evaluate("String(orientApp.debug.physicsVersion)") == mujoco.__version__


def test_page_physics_matches_c_mujoco_in_flight(page, models):
    """Free tumbling under random body torques (started 30 m up: no contact in 2 s): integrator,
    actuators, gyroscopic terms and the quaternion order agree within 0.1 deg."""
    gaps = _physics_gaps_deg(page, models, start_z=30.0, trials=3)
    assert gaps.max() <= 0.1, f"page vs C MuJoCo in flight: {gaps.max():.4f} deg over 2 s"


def test_page_physics_matches_c_mujoco_on_the_floor(page, models):
    """DESIGN's bound with contact: 100 seeded drops from the spawn height at random orientations,
    random torques, 2 s on the floor each; page vs C MuJoCo within 0.1 deg in at least 95."""
    import mujoco

    z0 = float(mujoco.MjModel.from_xml_path(str(models / "engine.xml")).qpos0[2])
    gaps = _physics_gaps_deg(page, models, start_z=z0, trials=100, seed=1)
    within = int(np.sum(gaps <= 0.1))
    quantiles = np.percentile(gaps, [50, 90, 100])
    assert within >= 95, f"{within}/100 drops within 0.1 deg; gap median/p90/max {quantiles} deg"


def _page_closed_loop(page, start: np.ndarray, steps: int) -> tuple[np.ndarray, bool]:
    """The page's own loop (ONNX policy on ORT Web, true observations, its MuJoCo) from `start`
    [x, y, z, w] dropped at the centre, until the episode is decided: (quats (T, 4) [x, y, z, w]
    after each control step, success)."""
    rows = np.array(page.evaluate("""async ([q, n]) => {
        orientApp.reset(q);
        const out = [];
        for (let i = 0; i < n; i++) {
          const s = await orientApp.debug.run(1);
          out.push([...s.quat, s.success ? 1 : 0]);
          if (s.success || s.failed) break;
        }
        return out; }""", [start.tolist(), steps]))
    return rows[:, :4], bool(rows[-1, 4])


def test_page_closed_loop_matches_c_mujoco(page, models):
    """The same seeded starts through the page's loop (ORT Web, WASM MuJoCo) and through C MuJoCo
    with onnxruntime (export/parity.closed_loop): identical success at the same control step, and
    the trajectories' orientation gap within the physics bound until then."""
    from types import SimpleNamespace

    from orient_jax.export import parity

    manifest = json.loads((models / "manifest.json").read_text())
    success, physics = manifest["success"], manifest["physics"]
    env = SimpleNamespace(control_dt=physics["control_dt"], episode_s=success["within_s"], spawn_xy=0.0,
                          success_angle_deg=success["tilt_deg"], success_ang_vel=success["ang_vel"],
                          success_hold_s=success["hold_s"])
    steps = round(success["within_s"] / physics["control_dt"])
    rng = np.random.default_rng(7)
    starts = rng.normal(size=(4, 4))
    starts /= np.linalg.norm(starts, axis=1, keepdims=True)
    ref = parity.closed_loop("upright", env, {"onnx": parity.onnx_runner(models / "policy.onnx")}, episodes=len(starts),
                             mjcf_path=models / "engine.xml", starts=starts)["onnx"]
    # closed_loop records the observation before each step: the state after step t is row t + 1.
    c_q = np.concatenate([ref["quat"][:, 1:], ref["final_quat"][:, None]], axis=1)
    page.evaluate("orientApp.setObservation('truth')")
    gaps, oks = [], []
    for i, start in enumerate(starts):
        page_q, page_ok = _page_closed_loop(page, start, steps)
        oks.append(page_ok)
        assert page_ok == ref["success"][i], (i, page_ok, ref["success"][i])
        if page_ok:  # decided at the same control step
            hold = round(env.success_hold_s / env.control_dt)
            assert len(page_q) - hold == round(ref["time_to_success_s"][i] / env.control_dt), i
        gaps.append(float(_geodesic_deg(page_q[:, [3, 0, 1, 2]], c_q[i, :len(page_q)][:, [3, 0, 1, 2]]).max()))
    print(f"page vs C MuJoCo closed loop: success {oks} / {ref['success'].tolist()}, worst gap per episode {gaps} deg")
    assert np.mean(ref["success"]) >= 0.5, ref["success"]  # the loop works at all (the shipped policy: all)
    assert max(gaps) <= 0.1, f"page vs C MuJoCo closed loop, worst gap per episode: {gaps} deg"


def test_ort_web_matches_onnxruntime(page, models):
    import onnxruntime as ort

    rng = np.random.default_rng(1)
    policy = ort.InferenceSession(str(models / "policy.onnx"), providers=["CPUExecutionProvider"])
    for n in (1, 7):
        quat = rng.normal(size=(n, 4)).astype(np.float32)
        quat /= np.linalg.norm(quat, axis=1, keepdims=True)
        feeds = {"quat": quat, "ang_vel": rng.normal(0, 3, (n, 3)).astype(np.float32),
                 "prev_action": rng.uniform(-1, 1, (n, 3)).astype(np.float32)}
        want = policy.run(["action"], feeds)[0]
        got = page.evaluate("([f]) => orientApp.debug.runModel('policy', f)",
                            [{k: [v.ravel().tolist(), list(v.shape)] for k, v in feeds.items()}])
        np.testing.assert_allclose(np.array(got["action"]).reshape(n, 3), want, atol=1e-5, rtol=0)

    pose = ort.InferenceSession(str(models / "pose.onnx"), providers=["CPUExecutionProvider"])
    # A page-rendered frame and a random one, batch 2.
    frame = np.array(page.evaluate("orientApp.debug.renderPose([0.2, -0.3, 0.1, 0.9])"), np.float32)
    images = np.stack([frame.reshape(128, 128, 3), rng.uniform(0, 1, (128, 128, 3)).astype(np.float32)])
    want = pose.run(["quat"], {"image": images})[0]
    got = page.evaluate("([x, d]) => orientApp.debug.runModel('pose', {image: [x, d]})",
                        [images.ravel().tolist(), list(images.shape)])
    np.testing.assert_allclose(np.array(got["quat"]).reshape(2, 4), want, atol=1e-4, rtol=0)


@pytest.mark.parametrize("folder,expect", [
    ("missing", "pose model"),
    ("corrupt", "could not be opened"),
    ("badversion", "version 99"),
    ("badbody", 'no body named "nope"'),
])
def test_bad_models_folder_shows_an_error(ctx, base_url, folder, expect):
    page, _ = wh.open_page(ctx, f"{base_url}?models=/models/{folder}/", expect_error=True)
    err = page.evaluate("orientApp.error")
    assert err and expect in err, err
    box = page.locator("#error")
    assert box.is_visible()
    assert expect in box.inner_text()
    assert page.evaluate("orientApp.ready") is False
    page.close()


def test_webgpu_path_loads_and_runs(pw, base_url, models):
    """WebGPU under --enable-unsafe-webgpu (SwiftShader's software adapter here): correctness only.
    1. ?ep=webgpu: the pose model on ORT's WebGPU EP agrees with onnxruntime (CPU).
    2. ?backend=webgpu: three's WebGPURenderer + WebGPU EP; where the device is lost (headless
       software adapters lose it for canvases) the page falls back to WebGL2 / wasm and keeps running."""
    import onnxruntime as ort

    with wh.browser(webgpu=True, pw=pw) as c:
        page, _ = wh.open_page(c, f"{base_url}?models=/models/good/&ep=webgpu&physics=paused", timeout_s=120)
        frame = np.array(page.evaluate("orientApp.debug.renderPose([0.2, -0.3, 0.1, 0.9])"), np.float32)
        got = page.evaluate("([x]) => orientApp.debug.runModel('pose', {image: [x, [1, 128, 128, 3]]})", [frame.tolist()])
        assert page.evaluate("orientApp.state().poseEp") == "webgpu"
        want = ort.InferenceSession(str(models / "pose.onnx")).run(["quat"], {"image": frame.reshape(1, 128, 128, 3)})[0]
        np.testing.assert_allclose(np.array(got["quat"]).reshape(1, 4), want, atol=1e-3, rtol=0)
        page.close()

        page, _ = wh.open_page(c, f"{base_url}?models=/models/good/&backend=webgpu&physics=paused", timeout_s=120)
        assert page.evaluate("orientApp.debug.backend") == "webgpu"
        s = page.evaluate("orientApp.debug.run(3)")
        assert page.evaluate("orientApp.error") is None
        assert s["t"] > 0 and np.all(np.isfinite(s["quatPred"])) and np.all(np.isfinite(s["action"]))
        page.close()
