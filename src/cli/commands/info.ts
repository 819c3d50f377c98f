// `distillrec info`: what the compute core has to work with on this machine.
import { availableParallelism, totalmem } from "node:os";
import { Command } from "commander";
import { runtime } from "../../engine/runtime.js";

/** Facts about the runtime, as printed by `distillrec info`. */
export function runtimeInfo(): Record<string, string | number> {
  const rt = runtime();
  return {
    node: process.version,
    kernels: Object.keys(rt.kernels).filter((k) => k !== "memory").length,
    simd: "wasm simd128 (f32x4)",
    sharedMemory: rt.memory.buffer instanceof SharedArrayBuffer ? "yes" : "no",
    wasmMemoryMiB: Math.round(rt.memory.buffer.byteLength / 2 ** 20),
    cores: availableParallelism(),
    systemMemoryGiB: Math.round(totalmem() / 2 ** 30),
  };
}

export function infoCommand(): Command {
  return new Command("info")
    .description("print facts about the compute core on this machine (kernels, SIMD, threads, memory)")
    .option("--json", "print JSON")
    .action((opts: { json?: boolean }) => {
      const info = runtimeInfo();
      if (opts.json) console.log(JSON.stringify(info, null, 2));
      else for (const [k, v] of Object.entries(info)) console.log(`${k.padEnd(16)} ${v}`);
    });
}
