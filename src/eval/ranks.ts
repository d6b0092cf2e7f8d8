/**
 * Sorting and mid-ranks of numeric arrays: the one ranking routine shared by the pixel ROC-AUC
 * (Mann–Whitney, `roc_auc.ts`), Spearman's correlation (`agreement.ts`) and average precision
 * (`average_precision.ts`).
 *
 * Speed: a 227×227 map has 51,529 values. Sorting an index array with a JS comparator is several
 * times slower than V8's native numeric sort of a typed array, so values that are exactly
 * representable as float32 (every Float32Array, and plain numbers that survive `Math.fround`)
 * are sorted as packed keys: the float32 bit pattern is mapped to an unsigned 32-bit key whose
 * unsigned order is the numeric order, and `key · 2^b + index` (< 2^53, exact in a float64) is
 * sorted with `Float64Array.prototype.sort()`. Other inputs (or more than 2^21 values) fall
 * back to sorting a Uint32Array of indices with a comparator. Both paths give the same result:
 * ascending by value, ties ordered by index (a stable order).
 *
 * NaN has no place in an order: every function here throws a RangeError on NaN. ±Infinity is
 * ordered normally. −0 and +0 are equal (a tie).
 */

/** Largest length sorted with packed keys: 32 key bits + 21 index bits ≤ 53 mantissa bits. */
const MAX_PACKED_LENGTH = 1 << 21;

function nanError(index: number): RangeError {
  return new RangeError(`ranks: value at index ${index} is NaN`);
}

/** True when every value is exactly a float32 (so the packed-key path is lossless). */
function allFloat32Exact(values: ArrayLike<number>): boolean {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Math.fround(v) !== v) return false; // also catches NaN (the comparator path rejects it)
  }
  return true;
}

function argsortPacked(values: Float32Array): Uint32Array {
  const n = values.length;
  const bits = new Uint32Array(values.buffer, values.byteOffset, n);
  let indexBits = 1;
  while (1 << indexBits < n) indexBits++;
  const scale = 2 ** indexBits;
  const packed = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v !== v) throw nanError(i);
    let b = bits[i];
    if (v === 0) b = 0; // −0 → +0 so that the two zeros tie
    // Sign set: flip all bits (more negative → smaller key); sign clear: set the sign bit.
    const key = b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0;
    packed[i] = key * scale + i;
  }
  packed.sort();
  const order = new Uint32Array(n);
  for (let r = 0; r < n; r++) order[r] = packed[r] % scale;
  return order;
}

function argsortComparator(values: ArrayLike<number>): Uint32Array {
  const n = values.length;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    if (values[i] !== values[i]) throw nanError(i);
    order[i] = i;
  }
  order.sort((i, j) => {
    const a = values[i];
    const b = values[j];
    return a < b ? -1 : a > b ? 1 : i - j;
  });
  return order;
}

/**
 * Indices that sort `values` ascending; tied values keep index order. O(n log n).
 * Throws RangeError if a value is NaN.
 */
export function argsortAscending(values: ArrayLike<number>): Uint32Array {
  const n = values.length;
  if (n <= MAX_PACKED_LENGTH) {
    if (values instanceof Float32Array) return argsortPacked(values);
    if (allFloat32Exact(values)) return argsortPacked(Float32Array.from(values));
  }
  return argsortComparator(values);
}

/**
 * Mid-ranks (1-based, ascending): value i gets rank `#{j : v_j < v_i} + (#{j : v_j = v_i} + 1)/2`,
 * so tied values share the mean of the ranks they occupy. Ranks are half-integers; their sum is
 * n(n+1)/2. O(n log n). Throws RangeError if a value is NaN.
 *
 * Example: (0, 0, 1, 2) → (1.5, 1.5, 3, 4).
 */
export function midRanks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const order = argsortAscending(values);
  const ranks = new Float64Array(n);
  let start = 0;
  while (start < n) {
    const v = values[order[start]];
    let end = start + 1; // exclusive end of the tie group
    while (end < n && values[order[end]] === v) end++;
    const rank = (start + 1 + end) / 2; // mean of the 1-based ranks start+1 … end
    for (let t = start; t < end; t++) ranks[order[t]] = rank;
    start = end;
  }
  return ranks;
}
