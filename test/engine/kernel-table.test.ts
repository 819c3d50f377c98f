import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { KERNEL_ARITY, KERNEL_NAMES, bindKernels } from "../../src/engine/kernel-table.js";
import { compiledKernels, runtime } from "../../src/engine/runtime.js";

/** WebAssembly.Module.exports (the typings in use do not declare it). */
const moduleExports = (
  WebAssembly.Module as unknown as {
    exports(module: WebAssembly.Module): { name: string; kind: string }[];
  }
).exports;

describe("kernel table", () => {
  test("names exactly the compiled module's function exports", () => {
    const exported = moduleExports(compiledKernels())
      .filter((e) => e.kind === "function")
      .map((e) => e.name);
    assert.deepEqual([...KERNEL_NAMES].sort(), exported.sort());
  });

  test("every kernel of the runtime takes the parameters the table names", () => {
    const kernels = runtime().kernels as unknown as Record<string, (...args: number[]) => unknown>;
    for (const name of KERNEL_NAMES) assert.equal(kernels[name]!.length, KERNEL_ARITY[name], name);
  });

  test("a module lacking a kernel is refused, naming it", () => {
    const exports: Record<string, unknown> = { ...(runtime().kernels as unknown as Record<string, unknown>) };
    delete exports.matVec;
    assert.throws(() => bindKernels(exports), /does not export matVec/);
  });

  test("a kernel with another parameter count is refused, naming it", () => {
    const exports: Record<string, unknown> = { ...(runtime().kernels as unknown as Record<string, unknown>) };
    exports.dot = (a: number, b: number) => a + b;
    assert.throws(() => bindKernels(exports), /kernel dot takes 2 parameters, the kernel table says 3/);
  });

  test("a module exporting a function the table does not name is refused, naming it", () => {
    const exports: Record<string, unknown> = { ...(runtime().kernels as unknown as Record<string, unknown>) };
    exports.matVec2 = (a: number) => a;
    assert.throws(() => bindKernels(exports), /exports matVec2, which the kernel table does not name/);
  });
});
