"""Orientation errors modulo an object's symmetry: the page's `web/src/symmetry.js` (in headless
Chromium) against `orient_jax.symmetry`, and the manifest's `symmetry` key the export writes.

The browser test needs /usr/bin/chromium, web/vendor (bash scripts/setup_browser.sh) and the
playwright package; it loads only symmetry.js (and frames.js, three.js under it), not the page.
"""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import web_helpers as wh
from orient_jax import symmetry
from orient_jax.symmetry import TRIVIAL, Symmetry

N_PAIRS = 200
TOL_DEG = 1e-3


def _axis_angle(axis, deg):
    axis = np.asarray(axis, np.float64) / np.linalg.norm(axis)
    h = np.deg2rad(deg) / 2
    q = np.array([*(axis * np.sin(h)), np.cos(h)])
    return tuple(q if q[3] >= 0 else -q)


def _box() -> Symmetry:
    """A box with a square cross-section about z (z:4, x:2): 8 elements, 7 besides the identity."""
    turns = [_axis_angle((0, 0, 1), d) for d in (90, 180, 270)]
    halves = [_axis_angle(a, 180) for a in ((1, 0, 0), (0, 1, 0), (1, 1, 0), (1, -1, 0))]
    return Symmetry(discrete=tuple(turns + halves))


GROUPS = {
    "trivial": TRIVIAL,
    "box": _box(),
    "can": Symmetry(axis=(0.0, 0.0, 1.0)),
    "can_flip": Symmetry(discrete=(_axis_angle((1, 0, 0), 180),), axis=(0.0, 0.0, 1.0)),
    "tilted_axis": Symmetry(axis=tuple(np.array([1.0, 0.0, 1.0]) / np.sqrt(2))),
}


def _pairs(sym: Symmetry, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, 4) float32 pairs: half independent uniform rotations, half near look-alikes (q1 * S *
    a turn about the axis * a small rotation), where the minimum over the group matters most."""
    rng = np.random.default_rng(seed)
    q1 = rng.normal(size=(N_PAIRS, 4))
    q1 /= np.linalg.norm(q1, axis=-1, keepdims=True)
    q2 = rng.normal(size=(N_PAIRS, 4))
    q2 /= np.linalg.norm(q2, axis=-1, keepdims=True)
    half = N_PAIRS // 2
    near = np.asarray(symmetry.random_equivalent(jax.random.key(seed), jnp.asarray(q1[half:], jnp.float32), sym))
    small = np.array([_axis_angle(rng.normal(size=3), deg) for deg in rng.uniform(0.0, 5.0, size=N_PAIRS - half)])
    q2[half:] = _multiply(near, small)
    q2 /= np.linalg.norm(q2, axis=-1, keepdims=True)
    return q1.astype(np.float32), q2.astype(np.float32)


def _multiply(a, b):
    from orient_jax import rotations

    return np.asarray(rotations.multiply(jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32)))


_HARNESS = """<!DOCTYPE html><html><head><meta charset="utf-8">
<script type="importmap">{"imports": {"three": "/vendor/three/build/three.module.js"}}</script>
</head><body>symmetry.js harness</body></html>"""

# One evaluate call: every case, plus the trivial group's identity with frames.js and the panel lines.
_EVALUATE = """async (cases) => {
  const S = await import('/src/symmetry.js');
  const F = await import('/src/frames.js');
  const out = {};
  for (const [name, c] of Object.entries(cases)) {
    const sym = S.parseSymmetry(c.card);
    out[name] = {
      trivial: sym.trivial,
      angle: c.q1.map((q, i) => S.angleDegModulo(q, c.q2[i], sym)),
      tilt: c.q1.map((q) => S.tiltDegModulo(q, sym)),
      describe: S.describeSymmetry(sym),
    };
  }
  const t = cases.trivial;
  out.sameAsFrames = [null, {}, {discrete: [], continuous: []}].every((card) => {
    const sym = S.parseSymmetry(card);
    return t.q1.every((q, i) => S.angleDegModulo(q, t.q2[i], sym) === F.angleDeg(q, t.q2[i])
                              && S.tiltDegModulo(q, sym) === F.tiltDeg(q));
  });
  out.refused = [{continuous: [{axis: [0, 0, 1]}, {axis: [1, 0, 0]}]}, {discrete: [[0, 0, 1]]},
                 {continuous: [{axis: [0, 0, 0]}]}].map((card) => {
    try { S.parseSymmetry(card); return null; } catch (e) { return e.message; }
  });
  return out;
}"""


@pytest.mark.browser
def test_page_symmetry_matches_python(tmp_path):
    why = wh.missing_prerequisites()
    if why:
        pytest.skip(why)
    from orient_jax.web.server import serving

    cases, want = {}, {}
    for k, (name, sym) in enumerate(GROUPS.items()):
        q1, q2 = _pairs(sym, seed=k)
        card = None if sym.trivial else sym.to_card()
        page_sym = Symmetry.from_card(card)  # exactly the group the page reads (6-decimal card)
        cases[name] = {"card": card, "q1": q1.tolist(), "q2": q2.tolist()}
        want[name] = {"angle": np.rad2deg(np.asarray(symmetry.error_angle(jnp.asarray(q1), jnp.asarray(q2), page_sym))),
                      "tilt": np.rad2deg(np.asarray(symmetry.tilt(jnp.asarray(q1), page_sym)))}

    (tmp_path / "harness.html").write_text(_HARNESS)
    with serving(wh.WEB, tmp_path) as server, wh.browser() as ctx:
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/models/harness.html")
        got = page.evaluate(_EVALUATE, cases)
    assert not errors, errors

    assert got["sameAsFrames"] is True  # the trivial group is frames.js's angleDeg / tiltDeg, bit for bit
    assert all(msg and "manifest symmetry" in msg for msg in got["refused"]), got["refused"]
    for name, sym in GROUPS.items():
        assert got[name]["trivial"] == sym.trivial, name
        for key in ("angle", "tilt"):
            diff = np.abs(np.asarray(got[name][key]) - want[name][key])
            assert diff.max() < TOL_DEG, f"{name} {key}: max |page - python| {diff.max():.2e} deg at {diff.argmax()}"
        # The group's minimum is taken: never more than the plain angle, and near look-alikes are near.
        assert np.all(want[name]["angle"][N_PAIRS // 2:] < 5.0 + TOL_DEG), name
    assert got["trivial"]["describe"] is None
    assert got["box"]["describe"] == "symmetry: 8 look-alike orientations"
    assert got["can"]["describe"] == "symmetry: any turn about z"
    assert got["can_flip"]["describe"] == "symmetry: any turn about z, and 1 more turn"
    assert got["tilted_axis"]["describe"] == "symmetry: any turn about (0.707, 0, 0.707)"


@pytest.mark.browser
def test_page_judges_success_modulo_the_manifest_symmetry(tmp_path):
    """The page reads the manifest's `symmetry`: the engine dropped upside down, policy off,
    comes to rest on its top, which the box group (a half turn about x) calls upright: the
    state's tilt is taken modulo it, the episode succeeds, and the panel names the group."""
    why = wh.missing_prerequisites() or (None if wh.exported_models() else "no exported models")
    if why:
        pytest.skip(why)
    from orient_jax.web.server import serving

    box = _box()
    shutil.copytree(wh.exported_models(), tmp_path / "box")
    manifest = json.loads((tmp_path / "box" / "manifest.json").read_text())
    (tmp_path / "box" / "manifest.json").write_text(json.dumps({**manifest, "symmetry": box.to_card()}))
    with serving(wh.WEB, tmp_path) as server, wh.browser() as ctx:
        page, errors = wh.open_page(ctx, f"http://127.0.0.1:{server.server_address[1]}/?models=/models/box/"
                                         "&physics=paused&mode=off&obs=truth&seed=1")
        page.evaluate("orientApp.reset([1, 0, 0, 0])")
        s = page.evaluate("orientApp.debug.run(120, {untilDone: true})")
        panel = page.evaluate("[document.getElementById('symmetry').hidden, document.getElementById('symmetry').textContent]")
    assert not [e for e in errors if "pageerror" in e], errors
    q = jnp.asarray(s["quat"], jnp.float32)
    assert np.rad2deg(float(symmetry.tilt(q))) > 150  # on its top: upside down without the group
    assert s["tiltDeg"] == pytest.approx(np.rad2deg(float(symmetry.tilt(q, Symmetry.from_card(box.to_card())))), abs=TOL_DEG)
    assert s["tiltDeg"] < 10 and s["success"] is True, s
    assert panel == [False, "symmetry: 8 look-alike orientations"]


def test_manifest_symmetry_key_only_for_symmetric_objects(tmp_path):
    from orient_jax.export import gate
    from orient_jax.export import manifest as manifest_lib

    box = _box()
    legacy = SimpleNamespace()  # an env config from before `EnvConfig.symmetry`
    assert manifest_lib.symmetry_from_env(legacy) is None
    assert manifest_lib.symmetry_from_env(SimpleNamespace(symmetry=TRIVIAL)) is None
    card = manifest_lib.symmetry_from_env(SimpleNamespace(symmetry=box))
    assert card == box.to_card() and Symmetry.from_card(json.loads(json.dumps(card))).order() == 8

    shutil.copy(wh.REPO / "orient_jax" / "assets" / "engine.xml", tmp_path / "engine.xml")
    common = dict(physics={}, camera={}, success={}, models={}, parity={}, glb=False, object_section={})
    plain = manifest_lib.build_manifest(tmp_path, **common)
    assert "symmetry" not in plain
    assert plain == manifest_lib.build_manifest(tmp_path, **common, symmetry=None)
    symmetric = manifest_lib.build_manifest(tmp_path, **common, symmetry=card)
    assert symmetric["symmetry"] == card and {k: v for k, v in symmetric.items() if k != "symmetry"} == plain

    # Upright and goal policies must agree: the manifest has one group for both tasks.
    art = lambda sym: SimpleNamespace(env_config=SimpleNamespace(symmetry=sym))  # noqa: E731
    assert gate._check_symmetry({"policy": art(box), "policy_goal": art(box)}) == []
    assert gate._check_symmetry({"policy": art(box)}) == []
    assert gate._check_symmetry({"policy": SimpleNamespace(env_config=legacy), "policy_goal": art(TRIVIAL)}) == []
    (msg,) = gate._check_symmetry({"policy": art(box), "policy_goal": art(TRIVIAL)})
    assert "different symmetry groups" in msg
