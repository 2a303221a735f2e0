"""Mass, centre of mass and inertia of an imported object, from its closed surface.

A uniform solid is assumed (density given, or implied by the mass given). The solid is the mesh
itself when it encloses a volume (watertight, consistently wound, positive volume, and its
parts do not overlap), else its convex hull: a hull always encloses a volume, and for a scan
with holes or a model made of open sheets it is the best guess there is. object.json says which
was used and why.

The integrals are trimesh's (exact for a closed triangle mesh: the divergence theorem over the
triangles), the same as MuJoCo's own `<mesh inertia="exact">` (or "convex" for the hull),
which the tests check.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from orient_jax.errors import UserError

DEFAULT_DENSITY = 500.0
"""kg/m^3 when neither --mass nor --density is given: light wood, dense foam, a hollow plastic
part; an object's mass sets only the time scale of its motions (the torque limit is derived from it)."""


@dataclasses.dataclass(frozen=True)
class MassProperties:
    mass: float
    """kg."""
    density: float
    """kg/m^3 (given, or mass / volume)."""
    volume: float
    """m^3 of the solid used."""
    com: np.ndarray
    """Centre of mass (3,), in the mesh's frame."""
    inertia: np.ndarray
    """Inertia tensor about the centre of mass (3, 3), kg m^2, in the mesh's axes."""
    source: str
    """"mesh" (the mesh encloses a volume) or "convex_hull"."""
    note: str | None
    """Why the hull was used, when it was."""


def solid_for_mass(mesh):
    """(trimesh.Trimesh enclosing a volume, "mesh" | "convex_hull", note or None).

    Two common defects are repaired rather than sent to the hull: a closed mesh that is inside
    out (every face wound inward: negative volume) is turned outside in, and one wound both ways
    is re-wound when trimesh can (that needs networkx, an optional trimesh dependency)."""
    reason = _why_not_a_volume(mesh)
    if reason is None:
        return mesh, "mesh", None
    if reason in (_INSIDE_OUT, _MIXED_WINDING):
        fixed = mesh.copy()
        try:
            fixed.invert() if reason == _INSIDE_OUT else fixed.fix_normals()
        except ImportError:
            pass
        else:
            if _why_not_a_volume(fixed) is None:
                return fixed, "mesh", None
    hull = convex_hull_mesh(mesh)
    return hull, "convex_hull", f"mass and inertia from the convex hull: the mesh {reason}"


_MIXED_WINDING = "has faces that are not consistently wound"
_INSIDE_OUT = "is inside out (negative volume)"


def _why_not_a_volume(mesh) -> str | None:
    if not mesh.is_watertight:
        return "is not watertight (open edges or holes)"
    if not mesh.is_winding_consistent:
        return _MIXED_WINDING
    if not mesh.volume > 0:
        return _INSIDE_OUT
    bodies = mesh.split(only_watertight=False)
    if len(bodies) > 1:  # inner shells (hollows) are wound inward: their volume is negative
        total = sum(max(float(b.volume), 0.0) for b in bodies)
        if total > convex_hull_mesh(mesh).volume * (1 + 1e-6):
            return f"has {len(bodies)} closed parts that overlap (their volumes add up to more than their hull's)"
    return None


def convex_hull_mesh(mesh):
    """The convex hull of `mesh` as a closed, outward-wound trimesh.Trimesh (a UserError when it
    has no volume). Built from scipy's Qhull directly: trimesh's own `convex_hull` repairs the
    winding with networkx, which is not a dependency."""
    import trimesh
    from scipy.spatial import ConvexHull, QhullError

    points = np.asarray(mesh.vertices, np.float64)
    try:
        hull = ConvexHull(points)
    except QhullError as exc:
        raise UserError("the mesh has zero volume (all its points lie on a plane or a line)") from exc
    faces = hull.simplices.copy()
    a, b, c = (points[faces[:, k]] for k in range(3))
    inward = np.einsum("ij,ij->i", np.cross(b - a, c - a), hull.equations[:, :3]) < 0
    faces[inward] = faces[inward][:, ::-1]
    solid = trimesh.Trimesh(vertices=points, faces=faces, process=True)
    extent = float(np.ptp(points, axis=0).max())
    if not solid.volume > 1e-9 * extent ** 3:
        raise UserError("the mesh has zero volume (all its points lie on a plane or a line)")
    return solid


def mass_properties(mesh, mass: float | None = None, density: float | None = None) -> MassProperties:
    """Mass properties of `mesh` (metres) as a uniform solid of `mass` kg or `density` kg/m^3
    (DEFAULT_DENSITY if neither)."""
    if mass is not None and density is not None:
        raise UserError("give --mass or --density, not both")
    solid, source, note = solid_for_mass(mesh)
    volume = float(solid.volume)
    if not volume > 1e-9 * float(np.ptp(mesh.vertices, axis=0).max()) ** 3:
        raise UserError("the mesh has zero volume")
    if mass is None:
        density = DEFAULT_DENSITY if density is None else float(density)
        mass = density * volume
    else:
        density = float(mass) / volume
    props = solid.mass_properties  # at the mesh's own density (trimesh's default: 1)
    inertia = np.asarray(props.inertia, np.float64) * (density / float(props.density))
    inertia = (inertia + inertia.T) / 2
    return MassProperties(mass=float(mass), density=float(density), volume=volume,
                          com=np.asarray(props.center_mass, np.float64), inertia=inertia, source=source, note=note)
