// Child process of bundle.ts: bundles one function with the plugin that leaves shared/ to the layer.
// Input: one JSON argument { options, sharedDir, layerMount }. Plain JS so it runs without a TS loader.
import { relative, resolve, sep } from 'node:path';
import { build } from 'esbuild';

const { options, sharedDir, layerMount } = JSON.parse(process.argv[2] ?? '{}');

/** Every relative import that lands in shared/ becomes an external import of its layer copy. */
const sharedFromLayer = {
  name: 'shared-from-layer',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      const target = resolve(args.resolveDir, args.path);
      if (!target.startsWith(sharedDir + sep)) return undefined;
      const inLayer = relative(sharedDir, target).split(sep).join('/').replace(/\.ts$/, '.js');
      return { path: `${layerMount}/${inLayer}`, external: true };
    });
  },
};

await build({ ...options, plugins: [sharedFromLayer] });
