/** Index of the greatest of the first `count` ascending `values` that is <= `target`, or -1. */
export function floorIndex(values: ArrayLike<number>, count: number, target: number): number {
  let low = 0;
  let high = count - 1;
  let found = -1;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    if (values[mid]! <= target) {
      found = mid;
      low = mid + 1;
    } else {
      high = mid - 1;
    }
  }
  return found;
}
