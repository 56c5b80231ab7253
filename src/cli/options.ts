import { InvalidArgumentError } from 'commander'
import ms from 'ms'

/** commander helper for repeatable options: `--peer A --peer B` → ['A', 'B']. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value]

/** commander parser for a duration such as `30s`, `5m` or `1500` (milliseconds). */
export function parseDuration (value: string): number {
  const parsed = /^\d+$/.test(value) ? Number(value) : ms(value as ms.StringValue)
  if (typeof parsed !== 'number' || !Number.isFinite(parsed) || parsed < 0) throw new InvalidArgumentError(`${JSON.stringify(value)} is not a duration: give one such as 30s, 5m or 1500 (milliseconds)`)
  return parsed
}

/** commander parser for a whole number option: `3abc`, `1.5` and `` are refused, not read as 3, 1 or NaN. */
export function wholeNumber (flag: string): (value: string) => number {
  return (value) => {
    if (!/^[+-]?\d+$/.test(value.trim())) throw new InvalidArgumentError(`${flag} must be a whole number, not ${JSON.stringify(value)}`)
    return Number(value)
  }
}
