/**
 * RGBA bytes (a decoded PNG/JPEG, a canvas's ImageData) → the datasets' image layout, H·W·3 float32
 * in [0,1] with alpha dropped. No Node imports: the browser viewer bundles it too, so an image
 * reads the same in the page as in `apc explain --image`.
 */
export function rgbaToUnitRgb(rgba: ArrayLike<number>, width: number, height: number): Float32Array {
  const image = new Float32Array(width * height * 3);
  for (let i = 0, j = 0; i < width * height; i++, j += 4) {
    image[3 * i] = rgba[j] / 255;
    image[3 * i + 1] = rgba[j + 1] / 255;
    image[3 * i + 2] = rgba[j + 2] / 255;
  }
  return image;
}
