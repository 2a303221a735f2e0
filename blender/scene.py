"""The thin bpy layer: build the engine (or import an object's visual.glb), camera, lights and
renderer settings in Blender.

All maths (meshes, camera frames, sampling) lives in `orient_jax.data` (plain numpy, tested
without Blender); this module only moves those numbers into bpy. Blender: Z up, metres.
Blender quaternions are [w, x, y, z]; ours are [x, y, z, w]: `_wxyz` is the one conversion.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import bpy
import numpy as np
from mathutils import Matrix

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo's orient_jax

from orient_jax.assets import engine_spec  # noqa: E402
from orient_jax.data import camera as camera_lib  # noqa: E402
from orient_jax.data import mesh as mesh_lib  # noqa: E402

ROOT_NAME = "engine"


def _wxyz(q_xyzw) -> tuple[float, float, float, float]:
    """Our [x, y, z, w] -> Blender's (w, x, y, z)."""
    x, y, z, w = (float(v) for v in q_xyzw)
    return (w, x, y, z)


def reset() -> bpy.types.Scene:
    """An empty scene (no default cube, camera or light)."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return bpy.context.scene


def build_materials() -> dict[str, bpy.types.Material]:
    """One Principled BSDF material per `engine_spec.MATERIALS` entry (linear base colour,
    metallic, roughness: what glTF's pbrMetallicRoughness stores). The viewport colour is set
    too, which is what Workbench's MATERIAL colour mode draws."""
    materials = {}
    for spec in engine_spec.MATERIALS.values():
        mat = bpy.data.materials.new(spec.name)
        mat.use_nodes = True
        bsdf = mat.node_tree.nodes.get("Principled BSDF")
        bsdf.inputs["Base Color"].default_value = spec.rgba
        bsdf.inputs["Metallic"].default_value = spec.metallic
        bsdf.inputs["Roughness"].default_value = spec.roughness
        mat.diffuse_color = spec.rgba
        mat.metallic, mat.roughness = spec.metallic, spec.roughness
        materials[spec.name] = mat
    return materials


def set_material_color(mat: bpy.types.Material, rgb) -> None:
    rgba = (*(float(c) for c in rgb), 1.0)
    mat.node_tree.nodes["Principled BSDF"].inputs["Base Color"].default_value = rgba
    mat.diffuse_color = rgba


def build_engine(scene: bpy.types.Scene) -> tuple[bpy.types.Object, dict[str, bpy.types.Object], dict]:
    """The engine: an empty `engine` (the body frame) with one mesh object per part, named as
    the part. Vertices are stored in the body frame (each part object sits at the origin), so
    rotating the root by the label quaternion poses the whole body."""
    materials = build_materials()
    root = bpy.data.objects.new(ROOT_NAME, None)
    root.rotation_mode = "QUATERNION"
    root["spec_sha256"] = mesh_lib.spec_fingerprint()
    scene.collection.objects.link(root)
    parts = {}
    for part in engine_spec.PARTS:
        verts, faces = mesh_lib.part_mesh(part)
        mesh = bpy.data.meshes.new(part.name)
        mesh.from_pydata(verts.tolist(), [], [list(f) for f in faces])
        mesh.validate()
        mesh.shade_smooth()
        mesh.set_sharp_from_angle(angle=math.radians(30))  # smooth cylinder sides, sharp edges elsewhere
        mesh.materials.append(materials[part.material])
        obj = bpy.data.objects.new(part.name, mesh)
        obj.parent = root
        scene.collection.objects.link(obj)
        parts[part.name] = obj
    return root, parts, materials


OBJECT_ROOT_NAME = "object"
JITTER_LABEL = "orient_jax colour jitter"
"""Label of the multiply node `add_color_jitter` puts in front of each Principled BSDF's base colour."""


def build_object(scene: bpy.types.Scene, visual_glb) -> tuple[bpy.types.Object, list[bpy.types.Material]]:
    """An imported object: `visual_glb` (an object folder's visual.glb: the body frame in glTF's
    Y-up axes) read by Blender's glTF importer, which turns glTF's Y up into Blender's Z up, so
    its coordinates are the body frame again. Every imported mesh is baked into the body frame
    (its node transforms applied to its vertices) and parented, at identity, under one empty
    `object` at the origin: `set_rotation(root, q)` poses the whole body. Other imported nodes
    (empties, cameras, lights) are removed.

    Returns (root, materials): each material once, in a fixed order (mesh objects by name, then
    material slot), each with a colour jitter node (`add_color_jitter`). A mesh without a
    material gets a plain grey one, so it is jittered too.
    """
    before = set(bpy.data.objects)
    result = bpy.ops.import_scene.gltf(filepath=str(visual_glb))
    if "FINISHED" not in result:
        raise RuntimeError(f"Blender's glTF importer could not read {visual_glb}")
    imported = [obj for obj in bpy.data.objects if obj not in before]
    meshes = sorted((obj for obj in imported if obj.type == "MESH"), key=lambda obj: obj.name)
    if not meshes:
        raise RuntimeError(f"{visual_glb} holds no mesh")
    root = bpy.data.objects.new(OBJECT_ROOT_NAME, None)
    root.rotation_mode = "QUATERNION"
    scene.collection.objects.link(root)
    worlds = {obj: obj.matrix_world.copy() for obj in meshes}
    for obj in meshes:
        if obj.data.users > 1:  # an instanced mesh: give each object its own copy to bake
            obj.data = obj.data.copy()
        obj.parent = None
        obj.data.transform(worlds[obj])
        if worlds[obj].determinant() < 0:  # a mirroring node: keep the faces facing out
            obj.data.flip_normals()
        obj.matrix_world = Matrix.Identity(4)
        obj.parent = root
        obj.matrix_parent_inverse = Matrix.Identity(4)
        if obj.name not in scene.collection.objects:
            scene.collection.objects.link(obj)
    for obj in imported:
        if obj.type != "MESH":
            bpy.data.objects.remove(obj, do_unlink=True)
    for obj in meshes:  # only in the scene's own collection (the importer may have made one)
        for collection in list(obj.users_collection):
            if collection != scene.collection:
                collection.objects.unlink(obj)

    materials, grey = [], None
    for obj in meshes:
        if not obj.material_slots or any(slot.material is None for slot in obj.material_slots):
            if grey is None:
                grey = bpy.data.materials.new("default")
                grey.use_nodes = True
            if not obj.material_slots:
                obj.data.materials.append(grey)
            for slot in obj.material_slots:
                if slot.material is None:
                    slot.material = grey
        for slot in obj.material_slots:
            if slot.material not in materials:
                materials.append(slot.material)
    for mat in materials:
        add_color_jitter(mat)
    return root, materials


def add_color_jitter(mat: bpy.types.Material) -> int:
    """Put a clamped multiply node in front of every Principled BSDF's Base Color: A is whatever
    fed it (an image texture, the importer's baseColorFactor multiply) or its constant colour,
    B the per-image gain (`set_material_gain`). Textures are kept: the jitter multiplies them.
    Returns how many BSDFs it jitters (0: the material is not a Principled BSDF; left as it is)."""
    if not mat.use_nodes:
        mat.use_nodes = True
    tree = mat.node_tree
    bsdfs = [node for node in tree.nodes if node.bl_idname == "ShaderNodeBsdfPrincipled"]
    for bsdf in bsdfs:
        base = bsdf.inputs["Base Color"]
        mix = tree.nodes.new("ShaderNodeMix")
        mix.data_type, mix.blend_type, mix.clamp_result = "RGBA", "MULTIPLY", True
        mix.label = JITTER_LABEL
        mix.location = (bsdf.location.x - 200, bsdf.location.y)
        _socket(mix.inputs, "Factor_Float").default_value = 1.0
        if base.is_linked:
            tree.links.new(base.links[0].from_socket, _socket(mix.inputs, "A_Color"))
        else:
            _socket(mix.inputs, "A_Color").default_value = base.default_value[:]
        _socket(mix.inputs, "B_Color").default_value = (1.0, 1.0, 1.0, 1.0)
        tree.links.new(_socket(mix.outputs, "Result_Color"), base)
    mat["base_rgb"] = list(bsdfs[0].inputs["Base Color"].default_value[:3]) if bsdfs else [0.8, 0.8, 0.8]
    return len(bsdfs)


def _socket(sockets, identifier: str):
    return next(s for s in sockets if s.identifier == identifier)


def set_material_gain(mat: bpy.types.Material, gain) -> None:
    """Multiply the material's base colour or texture by `gain` (per channel; the product is
    clamped to [0, 1] per texel, as the engine's jittered colours are)."""
    rgba = (*(float(c) for c in gain), 1.0)
    for node in mat.node_tree.nodes:
        if node.bl_idname == "ShaderNodeMix" and node.label == JITTER_LABEL:
            _socket(node.inputs, "B_Color").default_value = rgba
    base = np.asarray(mat.get("base_rgb", [0.8, 0.8, 0.8]), dtype=float)
    mat.diffuse_color = (*np.clip(base * np.asarray(gain, dtype=float), 0.0, 1.0).tolist(), 1.0)  # Workbench


def set_rotation(obj: bpy.types.Object, q_xyzw) -> None:
    obj.rotation_mode = "QUATERNION"
    obj.rotation_quaternion = _wxyz(q_xyzw)


def add_camera(scene: bpy.types.Scene) -> bpy.types.Object:
    cam = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
    cam.data.sensor_fit = "VERTICAL"
    cam.data.sensor_height = 24.0
    cam.data.clip_start, cam.data.clip_end = 0.01, 100.0
    scene.collection.objects.link(cam)
    scene.camera = cam
    return cam


def set_camera(cam: bpy.types.Object, position, look_at, up, fov_y_deg: float) -> None:
    """Place the camera: its rotation is `camera.look_at_rotation` (Blender cameras look down
    local -Z with local +Y up, the convention that function builds)."""
    cam.location = [float(v) for v in position]
    set_rotation(cam, camera_lib.matrix_to_quat_xyzw(camera_lib.look_at_rotation(position, look_at, up)))
    cam.data.lens = camera_lib.blender_lens_mm(fov_y_deg, cam.data.sensor_height)


def add_sun(scene: bpy.types.Scene) -> bpy.types.Object:
    sun = bpy.data.objects.new("sun", bpy.data.lights.new("sun", type="SUN"))
    sun.data.angle = math.radians(2.0)  # slightly soft shadows
    scene.collection.objects.link(sun)
    return sun


def set_sun(sun: bpy.types.Object, direction, strength: float, color) -> None:
    """A sun shines along its local -Z: point local +Z at `direction` (towards the sun)."""
    z = np.asarray(direction, dtype=float) / np.linalg.norm(direction)
    helper = np.array([1.0, 0.0, 0.0]) if abs(z[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    x = np.cross(helper, z)
    x /= np.linalg.norm(x)
    set_rotation(sun, camera_lib.matrix_to_quat_xyzw(np.stack([x, np.cross(z, x), z], axis=1)))
    sun.data.energy = float(strength)
    sun.data.color = [float(c) for c in color]


def add_world(scene: bpy.types.Scene) -> bpy.types.World:
    """The world colour is the weak ambient fill; the camera sees a transparent film (the
    background is composited afterwards in numpy, the same for every renderer)."""
    world = bpy.data.worlds.new("world")
    world.use_nodes = True
    world.cycles.sampling_method = "NONE"  # a uniform colour needs no importance map (rebuilt on every change otherwise)
    scene.world = world
    scene.render.film_transparent = True
    return world


def set_ambient(world: bpy.types.World, color) -> None:
    rgb = [float(c) for c in color]
    world.node_tree.nodes["Background"].inputs["Color"].default_value = (*rgb, 1.0)
    world.node_tree.nodes["Background"].inputs["Strength"].default_value = 1.0
    world.color = rgb


SKY_LABELS = ("orient_jax sky gradient", "orient_jax sky patches", "orient_jax sky noise")


def add_sky(world: bpy.types.World) -> None:
    """Make the world an image-like environment (the "sky" lighting family): a gradient from
    the colour below to the colour above along the view direction's z, with soft noise patches of
    a third colour mixed in (`set_sky`). Only shards that draw the sky family build it, so the
    others keep the plain ambient world's bytes."""
    tree = world.node_tree
    coords = tree.nodes.new("ShaderNodeTexCoord")
    split = tree.nodes.new("ShaderNodeSeparateXYZ")
    tree.links.new(coords.outputs["Generated"], split.inputs["Vector"])
    height = tree.nodes.new("ShaderNodeMapRange")
    height.inputs["From Min"].default_value, height.inputs["From Max"].default_value = -1.0, 1.0
    tree.links.new(split.outputs["Z"], height.inputs["Value"])
    gradient, patches = tree.nodes.new("ShaderNodeMix"), tree.nodes.new("ShaderNodeMix")
    noise = tree.nodes.new("ShaderNodeTexNoise")
    for node, label in zip((gradient, patches, noise), SKY_LABELS):
        node.label = label
    gradient.data_type = patches.data_type = "RGBA"
    tree.links.new(height.outputs["Result"], _socket(gradient.inputs, "Factor_Float"))
    tree.links.new(coords.outputs["Generated"], noise.inputs["Vector"])
    tree.links.new(_socket(gradient.outputs, "Result_Color"), _socket(patches.inputs, "A_Color"))
    patch_mask = tree.nodes.new("ShaderNodeMath")
    patch_mask.operation = "MULTIPLY"
    patch_mask.label = "orient_jax sky patchiness"
    tree.links.new(noise.outputs["Fac"], patch_mask.inputs[0])
    tree.links.new(patch_mask.outputs["Value"], _socket(patches.inputs, "Factor_Float"))
    tree.links.new(_socket(patches.outputs, "Result_Color"), tree.nodes["Background"].inputs["Color"])


def set_sky(world: bpy.types.World, top, bottom, patch, patchiness: float, scale: float) -> None:
    """The sky world's colours (linear RGB): straight up, straight down, its patches; how much of
    the patches shows (0: a plain gradient) and the noise's scale (`add_sky`)."""
    nodes = {node.label: node for node in world.node_tree.nodes}
    gradient, patches, noise = (nodes[label] for label in SKY_LABELS)
    _socket(gradient.inputs, "A_Color").default_value = (*(float(c) for c in bottom), 1.0)
    _socket(gradient.inputs, "B_Color").default_value = (*(float(c) for c in top), 1.0)
    _socket(patches.inputs, "B_Color").default_value = (*(float(c) for c in patch), 1.0)
    nodes["orient_jax sky patchiness"].inputs[1].default_value = 2.0 * float(patchiness)  # noise Fac is about 0.5
    noise.inputs["Scale"].default_value = float(scale)
    world.node_tree.nodes["Background"].inputs["Strength"].default_value = 1.0
    world.color = [float(c) for c in (np.asarray(top) + np.asarray(bottom)) / 2]


def configure_render(scene: bpy.types.Scene, renderer, width: int, height: int) -> None:
    """Renderer settings; colour management 'Standard' so PNGs hold plain sRGB (like three.js)."""
    scene.render.resolution_x, scene.render.resolution_y = width, height
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGBA"
    scene.render.image_settings.color_depth = "8"
    scene.display_settings.display_device = "sRGB"
    scene.view_settings.view_transform = "Standard"
    scene.view_settings.look = "None"
    scene.view_settings.exposure, scene.view_settings.gamma = 0.0, 1.0
    scene.render.threads_mode = "FIXED" if renderer.threads else "AUTO"
    if renderer.threads:
        scene.render.threads = renderer.threads
    if renderer.engine == "cycles":
        scene.render.engine = "CYCLES"
        cy = scene.cycles
        cy.device = "CPU"
        cy.samples = renderer.samples
        cy.use_adaptive_sampling = False
        cy.use_denoising = False
        cy.max_bounces = renderer.max_bounces
        cy.diffuse_bounces = cy.glossy_bounces = min(2, renderer.max_bounces)
        cy.transmission_bounces = cy.volume_bounces = cy.transparent_max_bounces = 0
        cy.caustics_reflective = cy.caustics_refractive = False
        scene.render.use_persistent_data = True  # keep the BVH between frames
    else:
        scene.render.engine = "BLENDER_WORKBENCH"
        shading = scene.display.shading
        shading.light = "STUDIO"
        shading.color_type = "MATERIAL"
        shading.show_specular_highlight = True
        scene.display.render_aa = "8"


def set_seed(scene: bpy.types.Scene, seed: int) -> None:
    if scene.render.engine == "CYCLES":
        scene.cycles.seed = int(seed)


def render_rgba(scene: bpy.types.Scene, png_path: Path) -> np.ndarray:
    """Render one frame to `png_path` and return it as straight-alpha RGBA uint8 (H, W, 4), row 0 at the top."""
    from PIL import Image

    scene.render.filepath = str(png_path)
    bpy.ops.render.render(write_still=True)
    with Image.open(png_path) as img:
        return np.asarray(img.convert("RGBA"))


def part_world_bounds() -> dict[str, list[list[float]]]:
    """(min, max) world-space vertex bounds of each part object, as Blender evaluates them."""
    bounds = {}
    for part in engine_spec.PARTS:
        obj = bpy.data.objects[part.name]
        m = np.array(obj.matrix_world)
        v = np.array([vert.co[:] for vert in obj.data.vertices])
        w = v @ m[:3, :3].T + m[:3, 3]
        bounds[part.name] = [w.min(0).tolist(), w.max(0).tolist()]
    return bounds
