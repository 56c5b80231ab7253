/**
 * Whether an index file has entries git would not look at in the working tree: assume-unchanged
 * (the "assume valid" bit) or skip-worktree (an extended flag, index version 3). A snapshot
 * staged into a copy of such an index would miss edits to those files, so the caller starts
 * from an empty index instead. Returns undefined when the format cannot be scanned here
 * (version 4 compresses path names), and the caller asks git.
 */
export function hasHiddenEntries (index: Buffer): boolean | undefined {
  if (index.length < 12 || index.toString('latin1', 0, 4) !== 'DIRC') return undefined
  const version = index.readUInt32BE(4)
  if (version !== 2 && version !== 3) return undefined
  const count = index.readUInt32BE(8)
  let offset = 12
  for (let i = 0; i < count; i++) {
    if (offset + 62 > index.length) return undefined
    const flags = index.readUInt16BE(offset + 60)
    if ((flags & 0x8000) !== 0) return true
    const extended = (flags & 0x4000) !== 0
    let nameStart = offset + 62
    if (extended) {
      if ((index.readUInt16BE(nameStart) & 0x4000) !== 0) return true
      nameStart += 2
    }
    const nameEnd = index.indexOf(0, nameStart)
    if (nameEnd < 0) return undefined
    // Entries are padded with 1–8 NULs to a multiple of 8 bytes.
    offset += Math.floor((nameEnd - offset + 8) / 8) * 8
  }
  return false
}
