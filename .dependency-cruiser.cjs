// The layering of src/, checked by `npm run lint` (dependency-cruiser): each folder may import only
// from itself and the folders before it, and no module may import itself back through a cycle.
// docs/ARCHITECTURE.md draws the same order.
const LAYERS = [
  "engine",
  "data",
  "models",
  "eval",
  "train",
  "distill",
  "browser",
  "interop",
  "run",
  "serve",
  "online",
  "cli",
];

const upward = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `${layer}-not-above`,
  comment: `src/${layer}/ sits below ${LAYERS.slice(i + 1).join(", ")}: it may not import them`,
  severity: "error",
  from: { path: `^src/${layer}/` },
  to: { path: `^src/(${LAYERS.slice(i + 1).join("|")})/` },
}));

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "an import cycle ties modules that should stand one above the other",
      severity: "error",
      from: { path: "^src/" },
      to: { circular: true },
    },
    ...upward,
    {
      name: "browser-no-node",
      comment:
        "src/browser/ is bundled for the browser: no Node built-ins, and nothing but the kernel table from below",
      severity: "error",
      from: { path: "^src/browser/" },
      to: { pathNot: "^src/(browser/|engine/kernel-table\\.ts$)" },
    },
    {
      name: "no-entry-point-imports",
      comment: "src/index.ts is the public surface: nothing inside src/ imports it",
      severity: "error",
      from: { path: "^src/" },
      to: { path: "^src/index\\.ts$" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^src/engine/kernels/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".js"] },
  },
};
