// ONNX in and out: students exported as ONNX graphs, ONNX teachers scored through onnxruntime-node.
export { exportOnnx, onnxPaths, OnnxExportError, type OnnxIdsFile, type OnnxStudent } from "./onnx-export.js";
export { GraphBuilder, OPSET, type OnnxPrecision, type OnnxValue } from "./onnx-graph.js";
export {
  loadIdMap,
  loadOnnxTeacher,
  OnnxTeacherError,
  resolveIdMap,
  type OnnxTeacherData,
  type OnnxTeacherSpec,
  type TeacherIdMap,
} from "./onnx-teacher.js";
export { exportWeb, type WebStudent } from "./web-export.js";
