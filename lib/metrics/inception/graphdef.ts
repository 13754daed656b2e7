/**
 * TensorFlow GraphDef files (frozen graphs such as inception-2015-12-05's
 * classify_image_graph_def.pb), decoded with protobufjs from a schema that declares only the fields
 * this project reads. Field numbers follow tensorflow/core/framework/{graph,node_def,attr_value,
 * tensor,tensor_shape,types}.proto; fields not declared here are skipped by the decoder.
 */
import protobuf from "protobufjs";

const SCHEMA = `
syntax = "proto3";
package tensorflow;

message TensorShapeProto {
  message Dim {
    int64 size = 1;
    string name = 2;
  }
  repeated Dim dim = 2;
  bool unknown_rank = 3;
}

message TensorProto {
  int32 dtype = 1;
  TensorShapeProto tensor_shape = 2;
  int32 version_number = 3;
  bytes tensor_content = 4;
  repeated float float_val = 5 [packed = true];
  repeated double double_val = 6 [packed = true];
  repeated int32 int_val = 7 [packed = true];
  repeated bytes string_val = 8;
  repeated int64 int64_val = 10 [packed = true];
  repeated bool bool_val = 11 [packed = true];
}

message AttrValue {
  message ListValue {
    repeated bytes s = 2;
    repeated int64 i = 3 [packed = true];
    repeated float f = 4 [packed = true];
    repeated bool b = 5 [packed = true];
    repeated int32 type = 6 [packed = true];
    repeated TensorShapeProto shape = 7;
    repeated TensorProto tensor = 8;
  }
  oneof value {
    ListValue list = 1;
    bytes s = 2;
    int64 i = 3;
    float f = 4;
    bool b = 5;
    int32 type = 6;
    TensorShapeProto shape = 7;
    TensorProto tensor = 8;
  }
}

message NodeDef {
  string name = 1;
  string op = 2;
  repeated string input = 3;
  string device = 4;
  map<string, AttrValue> attr = 5;
}

message GraphDef {
  repeated NodeDef node = 1;
}
`;

/** TensorFlow's DataType enum values used here (types.proto). */
export const DataType = {
  FLOAT: 1,
  DOUBLE: 2,
  INT32: 3,
  UINT8: 4,
  INT16: 5,
  INT8: 6,
  STRING: 7,
  INT64: 9,
  BOOL: 10,
} as const;

export interface TensorShapeProto {
  dim?: { size?: number; name?: string }[];
  unknownRank?: boolean;
}

export interface TensorProto {
  dtype?: number;
  tensorShape?: TensorShapeProto;
  tensorContent?: Uint8Array;
  floatVal?: number[];
  doubleVal?: number[];
  intVal?: number[];
  stringVal?: Uint8Array[];
  int64Val?: number[];
  boolVal?: boolean[];
}

export interface AttrValue {
  list?: {
    s?: Uint8Array[];
    i?: number[];
    f?: number[];
    b?: boolean[];
    type?: number[];
    shape?: TensorShapeProto[];
    tensor?: TensorProto[];
  };
  s?: Uint8Array;
  i?: number;
  f?: number;
  b?: boolean;
  type?: number;
  shape?: TensorShapeProto;
  tensor?: TensorProto;
}

export interface NodeDef {
  name: string;
  op: string;
  input?: string[];
  device?: string;
  attr?: Record<string, AttrValue>;
}

export interface GraphDef {
  node: NodeDef[];
}

let graphDefType: protobuf.Type | undefined;
function graphType(): protobuf.Type {
  graphDefType ??= protobuf.parse(SCHEMA, { keepCase: false }).root.lookupType(
    "tensorflow.GraphDef",
  );
  return graphDefType;
}

/** Decodes GraphDef bytes. int64 values become numbers (shapes and attributes are small). */
export function decodeGraphDef(bytes: Uint8Array): GraphDef {
  const type = graphType();
  const message = type.decode(bytes);
  const graph = type.toObject(message, { longs: Number, arrays: true }) as GraphDef;
  return { node: graph.node ?? [] };
}

/** Encodes a GraphDef (used by tests to build small graphs with the real op types). */
export function encodeGraphDef(graph: GraphDef): Uint8Array {
  const type = graphType();
  return type.encode(type.fromObject(graph)).finish();
}

/** Number of elements of a shape. */
function numElements(shape: number[]): number {
  return shape.reduce((p, s) => p * s, 1);
}

export function shapeOf(proto: TensorShapeProto | undefined): number[] {
  return (proto?.dim ?? []).map((d) => d.size ?? 0);
}

/** A decoded constant: float data as Float32Array, integer data as Int32Array (tfjs has no int64). */
export interface ConstValue {
  dtype: "float32" | "int32" | "bool";
  shape: number[];
  values: Float32Array | Int32Array | Uint8Array;
}

/** Copies `count` little-endian elements out of tensor_content (which may be unaligned). */
function readContent(bytes: Uint8Array, count: number, width: number): DataView {
  if (bytes.length !== count * width) {
    throw new Error(`tensor_content holds ${bytes.length} bytes, expected ${count * width}`);
  }
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Fills a typed array from a repeated *_val field. TensorFlow stores a constant tensor whose
 * trailing values repeat with those values left out: the last given value fills the rest.
 */
function fillRepeated<T extends Float32Array | Int32Array | Uint8Array>(
  out: T,
  vals: ArrayLike<number | boolean>,
): T {
  if (vals.length > out.length) {
    throw new Error(`constant has ${vals.length} values for ${out.length} elements`);
  }
  for (let i = 0; i < out.length; i++) {
    const v = i < vals.length ? vals[i] : vals[vals.length - 1];
    out[i] = Number(v ?? 0);
  }
  return out;
}

/** Decodes a TensorProto (Const node value) into typed data; throws for types the executor lacks. */
export function decodeTensor(proto: TensorProto): ConstValue {
  const shape = shapeOf(proto.tensorShape);
  const count = numElements(shape);
  const content = proto.tensorContent && proto.tensorContent.length > 0
    ? proto.tensorContent
    : null;
  switch (proto.dtype) {
    case DataType.FLOAT:
    case DataType.DOUBLE: {
      const out = new Float32Array(count);
      if (content) {
        const width = proto.dtype === DataType.FLOAT ? 4 : 8;
        const view = readContent(content, count, width);
        for (let i = 0; i < count; i++) {
          out[i] = width === 4 ? view.getFloat32(i * 4, true) : view.getFloat64(i * 8, true);
        }
        return { dtype: "float32", shape, values: out };
      }
      const vals = proto.dtype === DataType.FLOAT ? proto.floatVal : proto.doubleVal;
      return { dtype: "float32", shape, values: fillRepeated(out, vals ?? []) };
    }
    case DataType.INT32:
    case DataType.INT64:
    case DataType.UINT8:
    case DataType.INT16:
    case DataType.INT8: {
      const out = new Int32Array(count);
      if (content) {
        const width = {
          [DataType.INT32]: 4,
          [DataType.INT64]: 8,
          [DataType.UINT8]: 1,
          [DataType.INT16]: 2,
          [DataType.INT8]: 1,
        }[proto.dtype];
        const view = readContent(content, count, width);
        for (let i = 0; i < count; i++) {
          const p = i * width;
          out[i] = width === 4
            ? view.getInt32(p, true)
            : width === 8
            ? Number(view.getBigInt64(p, true))
            : width === 2
            ? view.getInt16(p, true)
            : proto.dtype === DataType.INT8
            ? view.getInt8(p)
            : view.getUint8(p);
        }
        return { dtype: "int32", shape, values: out };
      }
      const vals = proto.dtype === DataType.INT64 ? proto.int64Val : proto.intVal;
      return { dtype: "int32", shape, values: fillRepeated(out, vals ?? []) };
    }
    case DataType.BOOL: {
      const out = new Uint8Array(count);
      if (content) out.set(content.subarray(0, count));
      else fillRepeated(out, proto.boolVal ?? []);
      return { dtype: "bool", shape, values: out };
    }
    default:
      throw new Error(`constants of TensorFlow dtype ${proto.dtype} are not supported`);
  }
}

/** The tfjs dtype for a TensorFlow DataType (Cast's DstT). */
export function tfjsDtype(type: number | undefined): "float32" | "int32" | "bool" {
  if (type === DataType.FLOAT || type === DataType.DOUBLE) return "float32";
  if (type === DataType.BOOL) return "bool";
  if (
    type === DataType.INT32 || type === DataType.INT64 || type === DataType.UINT8 ||
    type === DataType.INT16 || type === DataType.INT8
  ) return "int32";
  throw new Error(`TensorFlow dtype ${type} has no tfjs counterpart here`);
}

/** A float32 constant as a TensorProto with tensor_content (little-endian), for building graphs. */
export function floatTensorProto(values: ArrayLike<number>, shape: number[]): TensorProto {
  const data = Float32Array.from(values);
  if (data.length !== numElements(shape)) throw new RangeError("floatTensorProto: shape mismatch");
  const bytes = new Uint8Array(data.length * 4);
  const view = new DataView(bytes.buffer);
  data.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return {
    dtype: DataType.FLOAT,
    tensorShape: { dim: shape.map((size) => ({ size })) },
    tensorContent: bytes,
  };
}

/** An int32 constant as a TensorProto with int_val, for building graphs. */
export function intTensorProto(values: number[], shape: number[]): TensorProto {
  return {
    dtype: DataType.INT32,
    tensorShape: { dim: shape.map((size) => ({ size })) },
    intVal: values,
  };
}
