/**
 * Small statistics and formatting helpers for `npm run bench`.
 *
 * Benchmarks on a shared machine are noisy, so figures are reported as medians over several runs
 * rather than means: one slow run (a page-cache miss, a scheduler hiccup) should not move them.
 */

/** Summary of a list of samples. */
export interface Summary {
  n: number
  min: number
  median: number
  p90: number
  max: number
  mean: number
}

/** The median of `values` (the mean of the two middle values when the count is even). */
export function median (values: readonly number[]): number {
  return percentile(values, 50)
}

/**
 * The `p`th percentile (0–100) of `values`, linearly interpolated between the two nearest ranks,
 * so small sample counts still give a value between real samples rather than jumping between them.
 */
export function percentile (values: readonly number[], p: number): number {
  if (values.length === 0) throw new RangeError('percentile of an empty list')
  if (p < 0 || p > 100) throw new RangeError(`percentile ${p} is outside 0..100`)
  const sorted = [...values].sort((a, b) => a - b)
  const rank = (p / 100) * (sorted.length - 1)
  const low = Math.floor(rank)
  const high = Math.ceil(rank)
  const lowValue = sorted[low]!
  return lowValue + (sorted[high]! - lowValue) * (rank - low)
}

/** Count, min, median, 90th percentile, max and mean of `values`. */
export function summarize (values: readonly number[]): Summary {
  if (values.length === 0) throw new RangeError('summary of an empty list')
  return {
    n: values.length,
    min: Math.min(...values),
    median: median(values),
    p90: percentile(values, 90),
    max: Math.max(...values),
    mean: values.reduce((sum, v) => sum + v, 0) / values.length
  }
}

/** A value together with the wall-clock milliseconds it took to produce. */
export interface Timed<T> {
  ms: number
  value: T
}

/** Runs `fn` once and measures it with the monotonic clock (immune to wall-clock adjustments). */
export async function timed<T> (fn: () => Promise<T>): Promise<Timed<T>> {
  const start = performance.now()
  const value = await fn()
  return { ms: performance.now() - start, value }
}

export interface RunsOptions {
  /** Runs made first and thrown away, so caches and lazy initialisation do not count. @default 0 */
  warmup?: number
}

/**
 * Calls `fn` `n` times one after another (never concurrently: parallel runs would compete for
 * the same CPU and disk and measure each other) and returns the results in order.
 * `fn` gets the run's index, counting warm-up runs first, so each run can use fresh paths.
 */
export async function runs<T> (n: number, fn: (index: number) => Promise<T>, options: RunsOptions = {}): Promise<T[]> {
  const warmup = options.warmup ?? 0
  const results: T[] = []
  for (let i = 0; i < warmup + n; i++) {
    const result = await fn(i)
    if (i >= warmup) results.push(result)
  }
  return results
}

/** Milliseconds for people: `0.42 ms`, `12.3 ms`, `1.23 s`. */
export function formatMs (ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`
  if (ms >= 10) return `${ms.toFixed(1)} ms`
  return `${ms.toFixed(2)} ms`
}

/** Bytes in binary units: `512 B`, `3.4 KiB`, `12.1 MiB`. */
export function formatBytes (bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`
}

/**
 * `ours / baseline` as `0.42×`. Targets in DESIGN.md are written this way (≤ 0.5 × git fetch),
 * so below 1 means gitmesh is cheaper than git.
 */
export function formatRatio (ours: number, baseline: number): string {
  if (baseline === 0) return ours === 0 ? '1.00×' : '∞×'
  return `${(ours / baseline).toFixed(2)}×`
}
