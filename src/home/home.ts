import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import envPaths from 'env-paths'
import { z } from 'zod'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { CONFIG_FILE, CONTROL_SOCKET, DATABASE_FILE, IDENTITY_FILE, MAX_CONFIG_BYTES } from './constants.js'
import { HomeNotInitializedError, InvalidConfigError, InvalidIdentityError } from './errors.js'
import { openDatabase, type Db } from '../store/database.js'

const multiaddrText = z.string().refine(text => {
  try {
    multiaddr(text)
    return true
  } catch {
    return false
  }
}, 'not a valid multiaddr')

export const ConfigSchema = z.strictObject({
  /** Addresses to listen on when `daemon --listen` is not given. */
  listen: z.array(multiaddrText).default(['/ip4/0.0.0.0/tcp/0']),
  /** Peers to dial at start when `daemon --peer` is not given. */
  peers: z.array(multiaddrText).default([])
})
export type Config = z.infer<typeof ConfigSchema>

/** A node's home directory: identity, config, database and control socket. */
export class Home {
  constructor (readonly dir: string) {}

  get identityFile (): string { return path.join(this.dir, IDENTITY_FILE) }
  get configFile (): string { return path.join(this.dir, CONFIG_FILE) }
  get databaseFile (): string { return path.join(this.dir, DATABASE_FILE) }
  get socketPath (): string { return path.join(this.dir, CONTROL_SOCKET) }

  /** The home named by `--home`, else GITMESH_HOME, else the platform's per-user data directory. */
  static resolve (flag?: string): Home {
    const dir = flag ?? process.env.GITMESH_HOME ?? envPaths('gitmesh', { suffix: '' }).data
    return new Home(path.resolve(dir))
  }

  async isInitialized (): Promise<boolean> {
    try {
      await stat(this.identityFile)
      return true
    } catch {
      return false
    }
  }

  /** Creates whatever is missing; an existing identity, config and database are left as they are. */
  async init (): Promise<{ created: boolean, peerId: string }> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 })
    let created = false
    if (!await this.isInitialized()) {
      const key = await generateKeyPair('Ed25519')
      await writeFile(this.identityFile, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' })
      created = true
    }
    try {
      await stat(this.configFile)
    } catch {
      await writeFile(this.configFile, JSON.stringify(ConfigSchema.parse({}), null, 2) + '\n', { mode: 0o600 })
      created = true
    }
    openDatabase(this.databaseFile).close()
    const key = await this.loadIdentity()
    return { created, peerId: peerIdFromPrivateKey(key).toString() }
  }

  async loadIdentity (): Promise<PrivateKey> {
    let bytes: Buffer
    try {
      bytes = await readFile(this.identityFile)
    } catch {
      throw new HomeNotInitializedError(this.dir)
    }
    // Keep the key private even if it was copied in with a loose mode.
    await chmod(this.identityFile, 0o600)
    try {
      return privateKeyFromProtobuf(bytes)
    } catch (err) {
      throw new InvalidIdentityError(this.identityFile, `not a libp2p private key (${(err as Error).message})`)
    }
  }

  async loadConfig (): Promise<Config> {
    let text: string
    try {
      const info = await stat(this.configFile)
      if (info.size > MAX_CONFIG_BYTES) throw new InvalidConfigError(this.configFile, `larger than ${MAX_CONFIG_BYTES} bytes`)
      text = await readFile(this.configFile, 'utf8')
    } catch (err) {
      if (err instanceof InvalidConfigError) throw err
      if (!await this.isInitialized()) throw new HomeNotInitializedError(this.dir)
      return ConfigSchema.parse({})
    }
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch (err) {
      throw new InvalidConfigError(this.configFile, `not valid JSON (${(err as Error).message})`)
    }
    const result = ConfigSchema.safeParse(value)
    if (!result.success) {
      const issue = result.error.issues[0]
      throw new InvalidConfigError(this.configFile, `${issue?.path.join('.') || 'config'}: ${issue?.message ?? 'invalid'}`)
    }
    return result.data
  }

  async openDatabase (): Promise<Db> {
    if (!await this.isInitialized()) throw new HomeNotInitializedError(this.dir)
    return openDatabase(this.databaseFile)
  }
}
