"""Objects other than the engine: `orient-jax object import MESH --out objects/NAME`.

- `load`: read a mesh file (trimesh) and clean its geometry;
- `mass`: mass, centre of mass and inertia of the uniform solid (mesh or convex hull);
- `collision`: the convex collision hull within MJX's vertex budget;
- `torque`: the motors' torque limit from the object's simulated rests;
- `mjcf`: the MJCF, the engine's scene around the new body;
- `folder`: the object folder's layout, written atomically, and read back;
- `preview`: preview.png, Blender renders from the pose camera (upright and 5 random views);
- `importer`: the steps in order (`import_object`);
- `commands`: the CLI.
"""
