import { z } from 'zod'
import { multiaddr } from '@multiformats/multiaddr'
import { DEFAULT_LISTEN } from '../net/constants.js'

const multiaddrText = z.string().refine(text => {
  try {
    multiaddr(text)
    return true
  } catch {
    return false
  }
}, 'not a valid multiaddr')

/** The node's config.json; docs/config.md describes every key. */
export const ConfigSchema = z.strictObject({
  /** Addresses to listen on when `daemon --listen` is not given. */
  listen: z.array(multiaddrText).default([DEFAULT_LISTEN]),
  /** Peers to dial at start, besides `daemon --peer`. */
  peers: z.array(multiaddrText).default([])
})
export type Config = z.infer<typeof ConfigSchema>
