// WebAssembly kernels (AssemblyScript). Every pointer is a byte offset into the shared linear memory;
// kernels never allocate, so one compiled module serves every worker thread.
export * from "./elementwise";
export * from "./embedding";
export * from "./activations";
export * from "./softmax";
export * from "./reduce";
export * from "./optim";
export * from "./bags";
export * from "./matmul";
export * from "./quantized";
export * from "./retrieval";
export * from "./transformer";
