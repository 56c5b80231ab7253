/** commander helper for repeatable options: `--peer A --peer B` → ['A', 'B']. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value]
