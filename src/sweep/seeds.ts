/** `--seeds`: a list `0,1,2`, a range `0-4` (inclusive), or both `0-2,7`. */
export function parseSeeds(spec: string, where = '--seeds'): number[] {
  const seeds: number[] = [];
  for (const part of spec.split(',').map((s) => s.trim())) {
    const range = /^(\d+)-(\d+)$/.exec(part);
    if (range) {
      const [a, b] = [Number(range[1]), Number(range[2])];
      if (b < a) throw new Error(`${where}: range '${part}' runs backwards; write it as ${b}-${a}`);
      for (let s = a; s <= b; s++) seeds.push(s);
    } else if (/^\d+$/.test(part)) {
      seeds.push(Number(part));
    } else {
      throw new Error(`${where}: '${part}' is not a seed (a non-negative integer) or a range such as 0-4`);
    }
  }
  return [...new Set(seeds)];
}
