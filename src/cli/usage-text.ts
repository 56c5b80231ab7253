/** Tokens and cost as the CLI prints them: `12.3k in, 345 out, $0.0123`; figures not reported are left out. */
export function usageText (usage: { inputTokens: number | null, outputTokens: number | null, costUsd: number | null } | null): string {
  if (usage === null) return ''
  const parts: string[] = []
  if (usage.inputTokens !== null) parts.push(`${tokens(usage.inputTokens)} in`)
  if (usage.outputTokens !== null) parts.push(`${tokens(usage.outputTokens)} out`)
  if (usage.costUsd !== null) parts.push(`$${usage.costUsd < 1 ? usage.costUsd.toFixed(4) : usage.costUsd.toFixed(2)}`)
  return parts.join(', ')
}

function tokens (n: number): string {
  if (n < 1000) return String(n)
  if (n < 1_000_000) return `${(n / 1000).toFixed(1)}k`
  return `${(n / 1_000_000).toFixed(1)}M`
}
