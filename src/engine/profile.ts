// Micro-benchmarks of the compute core (used by the engine benchmark, not by tests).
import { runtime } from "./runtime.js";

/** GFLOPS of repeated size×size×size NN matrix multiplies, timed for about `seconds`. */
export function matmulGflops(size: number, seconds: number): number {
  const rt = runtime();
  const k = rt.kernels;
  // Heap buffers, so the caller's scratch tensors are left alone.
  const bytes = size * size * 4;
  const packedBytes = k.matmulScratchBytes(size, size);
  const [a, b, c] = [rt.alloc(bytes), rt.alloc(bytes), rt.alloc(bytes)];
  const scratch = rt.alloc(packedBytes);
  const f32 = rt.f32;
  for (let i = 0; i < size * size; i++) {
    f32[(a >>> 2) + i] = Math.sin(i);
    f32[(b >>> 2) + i] = Math.cos(i);
  }
  const multiply = (): void => void k.matmulNN(a, b, c, size, size, size, 0, scratch);
  multiply(); // warm up: compile the kernel and touch every page
  let reps = 0;
  const start = performance.now();
  let elapsed: number;
  do {
    multiply();
    reps++;
    elapsed = (performance.now() - start) / 1000;
  } while (elapsed < seconds);
  for (const ptr of [a, b, c]) rt.free(ptr, bytes);
  rt.free(scratch, packedBytes);
  return (2 * size * size * size * reps) / elapsed / 1e9;
}
