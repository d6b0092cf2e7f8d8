/**
 * The part of the ONNX protobuf schema (onnx/onnx.proto, IR version 10) that apc reads and
 * writes, as .proto text that protobufjs parses on first use. Field numbers and wire types are
 * the standard ones, so files from any ONNX writer decode; fields left out here (training info,
 * local functions, quantization annotations …) are skipped as unknown fields.
 *
 * Two deliberate differences from onnx.proto, neither visible on the wire:
 *   - enum-typed fields (AttributeProto.type, TensorProto.data_location) are declared int32, so a
 *     value this schema does not know reaches our checks instead of vanishing into protobufjs's
 *     unknown-field list (proto2 enums are closed);
 *   - TensorProto.segment and the sparse-tensor messages are declared only so that we can tell
 *     they are present and say they are not supported.
 */
import protobuf from 'protobufjs';

export const ONNX_PROTO_TEXT = `
syntax = "proto2";
package onnx;

message AttributeProto {
  optional string name = 1;
  optional string ref_attr_name = 21;
  optional string doc_string = 13;
  optional int32 type = 20;
  optional float f = 2;
  optional int64 i = 3;
  optional bytes s = 4;
  optional TensorProto t = 5;
  optional GraphProto g = 6;
  optional SparseTensorProto sparse_tensor = 22;
  optional TypeProto tp = 14;
  repeated float floats = 7;
  repeated int64 ints = 8;
  repeated bytes strings = 9;
  repeated TensorProto tensors = 10;
  repeated GraphProto graphs = 11;
  repeated SparseTensorProto sparse_tensors = 23;
  repeated TypeProto type_protos = 15;
}

message ValueInfoProto {
  optional string name = 1;
  optional TypeProto type = 2;
  optional string doc_string = 3;
  repeated StringStringEntryProto metadata_props = 4;
}

message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  optional string name = 3;
  optional string op_type = 4;
  optional string domain = 7;
  optional string overload = 8;
  repeated AttributeProto attribute = 5;
  optional string doc_string = 6;
  repeated StringStringEntryProto metadata_props = 9;
}

message ModelProto {
  optional int64 ir_version = 1;
  repeated OperatorSetIdProto opset_import = 8;
  optional string producer_name = 2;
  optional string producer_version = 3;
  optional string domain = 4;
  optional int64 model_version = 5;
  optional string doc_string = 6;
  optional GraphProto graph = 7;
  repeated StringStringEntryProto metadata_props = 14;
}

message StringStringEntryProto {
  optional string key = 1;
  optional string value = 2;
}

message GraphProto {
  repeated NodeProto node = 1;
  optional string name = 2;
  repeated TensorProto initializer = 5;
  repeated SparseTensorProto sparse_initializer = 15;
  optional string doc_string = 10;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
  repeated ValueInfoProto value_info = 13;
  repeated StringStringEntryProto metadata_props = 16;
}

message TensorProto {
  repeated int64 dims = 1;
  optional int32 data_type = 2;
  message Segment {
    optional int64 begin = 1;
    optional int64 end = 2;
  }
  optional Segment segment = 3;
  repeated float float_data = 4 [packed = true];
  repeated int32 int32_data = 5 [packed = true];
  repeated bytes string_data = 6;
  repeated int64 int64_data = 7 [packed = true];
  optional string name = 8;
  optional string doc_string = 12;
  optional bytes raw_data = 9;
  repeated StringStringEntryProto external_data = 13;
  optional int32 data_location = 14;
  repeated double double_data = 10 [packed = true];
  repeated uint64 uint64_data = 11 [packed = true];
  repeated StringStringEntryProto metadata_props = 16;
}

message SparseTensorProto {
  optional TensorProto values = 1;
  optional TensorProto indices = 2;
  repeated int64 dims = 3;
}

message TensorShapeProto {
  message Dimension {
    oneof value {
      int64 dim_value = 1;
      string dim_param = 2;
    }
    optional string denotation = 3;
  }
  repeated Dimension dim = 1;
}

message TypeProto {
  message Tensor {
    optional int32 elem_type = 1;
    optional TensorShapeProto shape = 2;
  }
  message Sequence {
    optional TypeProto elem_type = 1;
  }
  message Map {
    optional int32 key_type = 1;
    optional TypeProto value_type = 2;
  }
  message Optional {
    optional TypeProto elem_type = 1;
  }
  message SparseTensor {
    optional int32 elem_type = 1;
    optional TensorShapeProto shape = 2;
  }
  oneof value {
    Tensor tensor_type = 1;
    Sequence sequence_type = 4;
    Map map_type = 5;
    Optional optional_type = 9;
    SparseTensor sparse_tensor_type = 8;
  }
  optional string denotation = 6;
}

message OperatorSetIdProto {
  optional string domain = 1;
  optional int64 version = 2;
}
`;

// ---------------------------------------------------------------------------------------------
// The decoded messages as protobufjs hands them over (field names as in the .proto text). An
// optional field is an own property only when it was present; int64 fields are long.js Longs
// (plain numbers if protobufjs runs without long.js); bytes fields are Uint8Array views.

/** int64 as protobufjs decodes it. */
export type PbLong = number | { low: number; high: number; unsigned?: boolean };

export interface PbStringEntry { key?: string; value?: string }
export interface PbOpset { domain?: string; version?: PbLong }
export interface PbDimension { dim_value?: PbLong; dim_param?: string; denotation?: string }
export interface PbShape { dim?: PbDimension[] }
export interface PbTypeTensor { elem_type?: number; shape?: PbShape }
export interface PbType {
  tensor_type?: PbTypeTensor;
  sequence_type?: { elem_type?: PbType };
  map_type?: { key_type?: number; value_type?: PbType };
  optional_type?: { elem_type?: PbType };
  sparse_tensor_type?: PbTypeTensor;
  denotation?: string;
}
export interface PbValueInfo { name?: string; type?: PbType; doc_string?: string }
export interface PbTensor {
  dims?: PbLong[];
  data_type?: number;
  segment?: { begin?: PbLong; end?: PbLong };
  float_data?: number[];
  int32_data?: number[];
  string_data?: Uint8Array[];
  int64_data?: PbLong[];
  name?: string;
  doc_string?: string;
  raw_data?: Uint8Array;
  external_data?: PbStringEntry[];
  data_location?: number;
  double_data?: number[];
  uint64_data?: PbLong[];
}
export interface PbAttribute {
  name?: string;
  ref_attr_name?: string;
  doc_string?: string;
  type?: number;
  f?: number;
  i?: PbLong;
  s?: Uint8Array;
  t?: PbTensor;
  g?: PbGraph;
  sparse_tensor?: unknown;
  tp?: unknown;
  floats?: number[];
  ints?: PbLong[];
  strings?: Uint8Array[];
  tensors?: PbTensor[];
  graphs?: PbGraph[];
  sparse_tensors?: unknown[];
  type_protos?: unknown[];
}
export interface PbNode {
  input?: string[];
  output?: string[];
  name?: string;
  op_type?: string;
  domain?: string;
  overload?: string;
  attribute?: PbAttribute[];
  doc_string?: string;
}
export interface PbGraph {
  node?: PbNode[];
  name?: string;
  initializer?: PbTensor[];
  sparse_initializer?: unknown[];
  doc_string?: string;
  input?: PbValueInfo[];
  output?: PbValueInfo[];
  value_info?: PbValueInfo[];
}
export interface PbModel {
  ir_version?: PbLong;
  opset_import?: PbOpset[];
  producer_name?: string;
  producer_version?: string;
  domain?: string;
  model_version?: PbLong;
  doc_string?: string;
  graph?: PbGraph;
  metadata_props?: PbStringEntry[];
}

let modelType: protobuf.Type | undefined;

/** The `onnx.ModelProto` message type, parsed from ONNX_PROTO_TEXT on first use. */
export function onnxModelType(): protobuf.Type {
  if (!modelType) {
    const { root } = protobuf.parse(ONNX_PROTO_TEXT, { keepCase: true });
    modelType = root.lookupType('onnx.ModelProto');
  }
  return modelType;
}
