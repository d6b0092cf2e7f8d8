/**
 * Test material for the model-file readers: a tiny protobuf wire-format writer that does not use
 * protobufjs (so tests can build ONNX bytes by hand, field number by field number, from the
 * ONNX schema), and small valid models / files the unit and fuzz tests mutate.
 */
import { float32Tensor, int64Tensor, type OnnxModel } from './onnx_model.js';

// ---------------------------------------------------------------------------------------------
// Protobuf wire format by hand

export type Bytes = number[];

/** Unsigned LEB128 varint of the 64-bit two's-complement value (negative numbers take 10 bytes). */
export function varint(n: number | bigint): Bytes {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: Bytes = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
}

const key = (field: number, wire: number): Bytes => varint((field << 3) | wire);

/** Varint field (int32, int64, enum, bool). */
export function pbInt(field: number, n: number | bigint): Bytes {
  return [...key(field, 0), ...varint(n)];
}

/** Length-delimited field: a string (UTF-8), bytes, or an embedded message. */
export function pbBytes(field: number, content: string | Bytes | Uint8Array): Bytes {
  const b = typeof content === 'string' ? [...Buffer.from(content, 'utf8')] : [...content];
  return [...key(field, 2), ...varint(b.length), ...b];
}

/** Embedded message from its fields. */
export function pbMessage(field: number, ...parts: Bytes[]): Bytes {
  return pbBytes(field, parts.flat());
}

/** 32-bit float field (wire type 5). */
export function pbFloat(field: number, x: number): Bytes {
  const b = Buffer.alloc(4);
  b.writeFloatLE(x);
  return [...key(field, 5), ...b];
}

/** Packed repeated field from the elements' encodings. */
export function pbPacked(field: number, elements: Bytes[]): Bytes {
  return pbBytes(field, elements.flat());
}

export function le32f(values: number[]): Bytes {
  return [...Buffer.from(new Float32Array(values).buffer)];
}

export function le64f(values: number[]): Bytes {
  return [...Buffer.from(new Float64Array(values).buffer)];
}

// ---------------------------------------------------------------------------------------------
// Small valid files

/** A small conv net in the shape apc's ONNX export writes (opset 13, FLOAT raw_data, INT64 shape). */
export function sampleOnnxModel(): OnnxModel {
  const w = Float32Array.from({ length: 2 * 1 * 3 * 3 }, (_, i) => (i - 8) / 8);
  return {
    irVersion: 7,
    opsetImports: [{ domain: '', version: 13 }],
    producerName: 'apc',
    producerVersion: '0.1.0',
    graph: {
      name: 'tiny',
      nodes: [
        {
          name: 'conv', opType: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['c'],
          attributes: [
            { name: 'kernel_shape', type: 'ints', value: [3, 3] },
            { name: 'pads', type: 'ints', value: [1, 1, 1, 1] },
            { name: 'strides', type: 'ints', value: [1, 1] },
          ],
        },
        { name: 'relu', opType: 'Relu', inputs: ['c'], outputs: ['r'], attributes: [] },
        { name: 'flat', opType: 'Reshape', inputs: ['r', 'shape'], outputs: ['f'], attributes: [] },
        {
          name: 'fc', opType: 'Gemm', inputs: ['f', 'fw', 'fb'], outputs: ['y'],
          attributes: [{ name: 'alpha', type: 'float', value: 1 }, { name: 'transB', type: 'int', value: 1 }],
        },
      ],
      initializers: [
        float32Tensor('w', [2, 1, 3, 3], w),
        float32Tensor('b', [2], [0.5, -0.25]),
        int64Tensor('shape', [2], [0, -1]),
        float32Tensor('fw', [3, 32], Float32Array.from({ length: 96 }, (_, i) => Math.sin(i))),
        float32Tensor('fb', [3], [0, 1, 2]),
      ],
      inputs: [{ name: 'x', type: { kind: 'tensor', elemType: 'FLOAT', shape: ['batch', 1, 4, 4] } }],
      outputs: [{ name: 'y', type: { kind: 'tensor', elemType: 'FLOAT', shape: ['batch', 3] } }],
      valueInfo: [{ name: 'r', type: { kind: 'tensor', elemType: 'FLOAT', shape: ['batch', 2, 4, 4] } }],
    },
  };
}
