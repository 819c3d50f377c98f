// Model compression: post-training quantisation.
export { quantizeInt8, dequantizeInt8, int8MatVec, toFloat16, fromFloat16, type Int8Matrix } from "./quantize.js";
