/**
 * A small builder over onnx-proto's generated ONNX schema: named values, initialisers (float32, or stored
 * as float16 / int8 and decoded in the graph by Cast / DequantizeLinear), nodes, and the encoded model.
 * Everything below goes through the protobuf messages; no byte is written by hand.
 */
import onnxProto from "onnx-proto";
import { float16Bits } from "../engine/codecs/float16.js";
import { quantizeInt8 } from "../engine/codecs/int8.js";

const { onnx } = onnxProto;
type Attribute = InstanceType<typeof onnx.AttributeProto>;

/** How tables are stored in an exported file: float32, float16 (decoded by Cast) or int8 (DequantizeLinear). */
export type OnnxPrecision = "f32" | "f16" | "int8";

/** The operator set the exported graphs use (per-axis DequantizeLinear needs 13, ReduceSum axes as input 13). */
export const OPSET = 17;

/** A graph input or output: its name, element type, shape (strings are symbolic dimensions) and meaning. */
export interface OnnxValue {
  name: string;
  type: "float32" | "int64";
  shape: (number | string)[];
  doc: string;
}

type AttributeValue = number | number[] | string;

function elemType(type: OnnxValue["type"]): number {
  return type === "float32" ? onnx.TensorProto.DataType.FLOAT : onnx.TensorProto.DataType.INT64;
}

function valueInfo(value: OnnxValue): InstanceType<typeof onnx.ValueInfoProto> {
  return onnx.ValueInfoProto.create({
    name: value.name,
    docString: value.doc,
    type: {
      tensorType: {
        elemType: elemType(value.type),
        shape: { dim: value.shape.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
}

function attribute(name: string, value: AttributeValue): Attribute {
  const { AttributeType } = onnx.AttributeProto;
  if (typeof value === "string") {
    return onnx.AttributeProto.create({ name, type: AttributeType.STRING, s: new TextEncoder().encode(value) });
  }
  if (Array.isArray(value)) return onnx.AttributeProto.create({ name, type: AttributeType.INTS, ints: value });
  if (Number.isInteger(value)) return onnx.AttributeProto.create({ name, type: AttributeType.INT, i: value });
  return onnx.AttributeProto.create({ name, type: AttributeType.FLOAT, f: value });
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice();
}

/** One graph under construction. */
export class GraphBuilder {
  private readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  private readonly initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  private readonly names = new Set<string>();
  private counter = 0;

  constructor(readonly precision: OnnxPrecision = "f32") {}

  /** A fresh value name with this prefix. */
  fresh(prefix: string): string {
    let name = prefix;
    while (this.names.has(name)) name = `${prefix}_${++this.counter}`;
    this.names.add(name);
    return name;
  }

  /** Add a node; returns its (first) output's name. */
  node(op: string, inputs: string[], attributes: Record<string, AttributeValue> = {}, output?: string): string {
    const out = output ?? this.fresh(op.toLowerCase());
    this.names.add(out);
    this.nodes.push(
      onnx.NodeProto.create({
        opType: op,
        name: this.fresh(`${op}_node`),
        input: inputs,
        output: [out],
        attribute: Object.entries(attributes).map(([k, v]) => attribute(k, v)),
      }),
    );
    return out;
  }

  /** A float32 constant stored as is, whatever the precision (small parameters: biases, queries). */
  floats(name: string, data: Float32Array, dims: number[]): string {
    const n = this.fresh(name);
    this.initializers.push(
      onnx.TensorProto.create({ name: n, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: bytesOf(data) }),
    );
    return n;
  }

  /** An int64 constant (shapes, axes, slice bounds). */
  int64s(name: string, values: number[]): string {
    const n = this.fresh(name);
    this.initializers.push(
      onnx.TensorProto.create({
        name: n,
        dims: [values.length],
        dataType: onnx.TensorProto.DataType.INT64,
        rawData: bytesOf(BigInt64Array.from(values, (v) => BigInt(v))),
      }),
    );
    return n;
  }

  /** A scalar constant of one float. */
  scalar(name: string, value: number): string {
    const n = this.fresh(name);
    this.initializers.push(
      onnx.TensorProto.create({
        name: n,
        dims: [],
        dataType: onnx.TensorProto.DataType.FLOAT,
        rawData: bytesOf(new Float32Array([value])),
      }),
    );
    return n;
  }

  /**
   * A [rows, dim] float table stored at the graph's precision; returns the name of its float32 value
   * (float16: a Cast; int8: DequantizeLinear with one scale per row, axis 0).
   */
  table(name: string, data: Float32Array, rows: number, dim: number): string {
    const { DataType } = onnx.TensorProto;
    if (this.precision === "f32") return this.floats(name, data, [rows, dim]);
    if (this.precision === "f16") {
      const half = this.fresh(`${name}_f16`);
      const bits = Uint16Array.from(data, (v) => float16Bits(v));
      this.initializers.push(
        onnx.TensorProto.create({ name: half, dims: [rows, dim], dataType: DataType.FLOAT16, rawData: bytesOf(bits) }),
      );
      return this.node("Cast", [half], { to: DataType.FLOAT }, this.fresh(name));
    }
    const q = quantizeInt8(data, rows, dim);
    const codes = this.fresh(`${name}_int8`);
    const zero = this.fresh(`${name}_zero`);
    this.initializers.push(
      onnx.TensorProto.create({ name: codes, dims: [rows, dim], dataType: DataType.INT8, rawData: bytesOf(q.data) }),
      onnx.TensorProto.create({ name: zero, dims: [rows], dataType: DataType.INT8, rawData: new Uint8Array(rows) }),
    );
    const scales = this.floats(`${name}_scale`, q.scales, [rows]);
    return this.node("DequantizeLinear", [codes, scales, zero], { axis: 0 }, this.fresh(name));
  }

  /** The encoded model with these inputs and outputs (outputs name values the nodes produce). */
  encode(options: {
    name: string;
    doc: string;
    inputs: OnnxValue[];
    outputs: OnnxValue[];
    metadata?: Record<string, string>;
  }): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: "distillrec",
      producerVersion: "0.1.0",
      docString: options.doc,
      opsetImport: [{ domain: "", version: OPSET }],
      metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
      graph: {
        name: options.name,
        docString: options.doc,
        node: this.nodes,
        initializer: this.initializers,
        input: options.inputs.map(valueInfo),
        output: options.outputs.map(valueInfo),
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
