// Copy the few browser files the page imports from node_modules/ into vendor/ (git-ignored).
// The page has no bundler: index.html's importmap points at these paths. Run after `npm ci`:
//   cd web && npm ci && node scripts/vendor.mjs
// vendor/VERSIONS.json records the package versions copied, so setup can tell when it is stale.
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = join(dirname(fileURLToPath(import.meta.url)), '..');
const nm = join(web, 'node_modules');

// [package, file inside the package, destination inside vendor/]
const FILES = [
  // three.js: the core split in two files since r170, plus the WebGPU build and three addons.
  ['three', 'build/three.module.js', 'three/build/three.module.js'],
  ['three', 'build/three.core.js', 'three/build/three.core.js'],
  ['three', 'build/three.webgpu.js', 'three/build/three.webgpu.js'],
  ['three', 'build/three.tsl.js', 'three/build/three.tsl.js'],
  ['three', 'examples/jsm/controls/OrbitControls.js', 'three/addons/controls/OrbitControls.js'],
  ['three', 'examples/jsm/loaders/GLTFLoader.js', 'three/addons/loaders/GLTFLoader.js'],
  ['three', 'examples/jsm/utils/BufferGeometryUtils.js', 'three/addons/utils/BufferGeometryUtils.js'],
  ['three', 'examples/jsm/utils/SkeletonUtils.js', 'three/addons/utils/SkeletonUtils.js'],
  // onnxruntime-web: the wasm-only build and its threaded wasm side by side; the WebGPU build
  // loads the asyncify (JSEP-free) wasm.
  ['onnxruntime-web', 'dist/ort.wasm.min.mjs', 'onnxruntime-web/ort.wasm.min.mjs'],
  ['onnxruntime-web', 'dist/ort-wasm-simd-threaded.mjs', 'onnxruntime-web/ort-wasm-simd-threaded.mjs'],
  ['onnxruntime-web', 'dist/ort-wasm-simd-threaded.wasm', 'onnxruntime-web/ort-wasm-simd-threaded.wasm'],
  ['onnxruntime-web', 'dist/ort.webgpu.min.mjs', 'onnxruntime-web/ort.webgpu.min.mjs'],
  ['onnxruntime-web', 'dist/ort-wasm-simd-threaded.asyncify.mjs', 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.mjs'],
  ['onnxruntime-web', 'dist/ort-wasm-simd-threaded.asyncify.wasm', 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm'],
  // @mujoco/mujoco: MuJoCo's own WebAssembly build (single-threaded), the release Python pins;
  // the module finds mujoco.wasm beside itself (new URL('mujoco.wasm', import.meta.url)).
  ['@mujoco/mujoco', 'mujoco.js', 'mujoco/mujoco.js'],
  ['@mujoco/mujoco', 'mujoco.wasm', 'mujoco/mujoco.wasm'],
];

const versions = {};
for (const pkg of new Set(FILES.map(([p]) => p))) {
  const meta = join(nm, pkg, 'package.json');
  if (!existsSync(meta)) {
    console.error(`vendor: ${pkg} is not installed; run \`npm ci\` in web/ first`);
    process.exit(1);
  }
  versions[pkg] = JSON.parse(readFileSync(meta, 'utf8')).version;
}

// Build into a temp folder, then swap it in, so a failed copy never leaves a half vendor/.
const tmp = join(web, 'vendor.tmp');
rmSync(tmp, { recursive: true, force: true });
for (const [pkg, src, dst] of FILES) {
  const to = join(tmp, dst);
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(join(nm, pkg, src), to);
}
writeFileSync(join(tmp, 'VERSIONS.json'), JSON.stringify(versions, null, 2) + '\n');
rmSync(join(web, 'vendor'), { recursive: true, force: true });
renameSync(tmp, join(web, 'vendor'));
console.log(`vendor: ${FILES.length} files from ${Object.entries(versions).map(([k, v]) => `${k}@${v}`).join(', ')}`);
