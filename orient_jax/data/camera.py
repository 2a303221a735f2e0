"""The dataset camera: look-at -> rotation, intrinsics and projection (numpy, no bpy).

Conventions (the same in Blender and three.js, so the browser reproduces the camera exactly):
  - world is Z up; the camera dict holds `position`, `look_at`, `up` (world), `fov_y_deg`
    (full vertical field of view), `width`, `height` (pixels);
  - a camera looks down its local -Z axis with local +Y up and local +X to the right of the
    image (Blender's camera object and three.js's `Object3D.lookAt` for cameras agree);
  - pixel coordinates (u, v): u to the right, v down, pixel (row r, col c) has its centre at
    (c, r) — the convention of matplotlib's `imshow` and of PIL's drawing.
"""

from __future__ import annotations

import math

import numpy as np

DEFAULT_CAMERA: dict = {
    "position": [0.45, -0.45, 0.36],
    "look_at": [0.0, 0.0, 0.0],
    "up": [0.0, 0.0, 1.0],
    "fov_y_deg": 40.0,
    "width": 128,
    "height": 128,
}


def look_at_rotation(position, look_at, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """Camera-to-world rotation (3, 3) of a camera at `position` looking at `look_at`.

    Its columns are the camera's local axes in world coordinates: the camera looks down local
    -Z, so local +Z points from the target back to the camera; local +X = up x Z (image
    right), local +Y = Z x X (image up, the projection of `up`). Raises ValueError when the
    view direction is parallel to `up` (the roll is then undefined).
    """
    position, look_at, up = (np.asarray(a, dtype=np.float64) for a in (position, look_at, up))
    z = position - look_at
    if np.linalg.norm(z) < 1e-9:
        raise ValueError("camera position and look_at coincide")
    z = z / np.linalg.norm(z)
    x = np.cross(up, z)
    if np.linalg.norm(x) < 1e-9:
        raise ValueError("camera view direction is parallel to its up vector")
    x = x / np.linalg.norm(x)
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=1)


def matrix_to_quat_xyzw(m: np.ndarray) -> np.ndarray:
    """Rotation matrix (3, 3) -> unit quaternion [x, y, z, w] with w >= 0 (numpy)."""
    m = np.asarray(m, dtype=np.float64)
    t = np.trace(m)
    if t > 0:
        s = 2.0 * math.sqrt(1.0 + t)
        q = [(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, 0.25 * s]
    else:
        i = int(np.argmax(np.diag(m)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * math.sqrt(max(1.0 + m[i, i] - m[j, j] - m[k, k], 1e-300))
        q = [0.0, 0.0, 0.0, (m[k, j] - m[j, k]) / s]
        q[i] = 0.25 * s
        q[j] = (m[j, i] + m[i, j]) / s
        q[k] = (m[k, i] + m[i, k]) / s
    q = np.array(q)
    q /= np.linalg.norm(q)
    return -q if q[3] < 0 else q


def quat_to_matrix(q_xyzw) -> np.ndarray:
    """Unit quaternion(s) [x, y, z, w] (..., 4) -> rotation matrices (..., 3, 3) (numpy)."""
    q = np.asarray(q_xyzw, dtype=np.float64)
    x, y, z, w = np.moveaxis(q, -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def focal_px(camera: dict) -> float:
    """Focal length in pixels from the vertical field of view."""
    return 0.5 * camera["height"] / math.tan(math.radians(camera["fov_y_deg"]) / 2)


def blender_lens_mm(fov_y_deg: float, sensor_height_mm: float = 24.0) -> float:
    """Blender `lens` (mm) for a vertical field of view, with `sensor_fit = 'VERTICAL'`."""
    return 0.5 * sensor_height_mm / math.tan(math.radians(fov_y_deg) / 2)


def project(camera: dict, points_world) -> np.ndarray:
    """World points (..., 3) -> pixel coordinates (..., 2) (u right, v down, pixel centres on integers).

    Points behind the camera give meaningless coordinates; the engine never is.
    """
    pts = np.asarray(points_world, dtype=np.float64)
    rot = look_at_rotation(camera["position"], camera["look_at"], camera.get("up", (0, 0, 1)))
    local = (pts - np.asarray(camera["position"], dtype=np.float64)) @ rot  # = R^T (p - c)
    f = focal_px(camera)
    depth = -local[..., 2]
    u = 0.5 * camera["width"] - 0.5 + f * local[..., 0] / depth
    v = 0.5 * camera["height"] - 0.5 - f * local[..., 1] / depth
    return np.stack([u, v], axis=-1)


def project_axes(camera: dict, quat_xyzw, length: float = 0.15, origin=(0.0, 0.0, 0.0)):
    """The body's X, Y, Z axes (of `length` metres) drawn from the body origin, in pixels.

    Returns (origin (2,), tips (3, 2)): tips[0] is the end of body +X, tips[1] +Y, tips[2] +Z.
    """
    origin = np.asarray(origin, dtype=np.float64)
    axes_world = quat_to_matrix(quat_xyzw).T * length  # rows: body axes in world
    pix = project(camera, np.concatenate([origin[None], origin + axes_world]))
    return pix[0], pix[1:]
