import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import envPaths from 'env-paths'
import type { PrivateKey } from '@libp2p/interface'
import { CONFIG_FILE, CONTROL_SOCKET, DATABASE_FILE, IDENTITY_FILE, MAX_CONFIG_BYTES, MAX_SOCKET_PATH_BYTES, SECRETS_FILE } from './constants.js'
import { HomeNotInitializedError, InvalidConfigError, InvalidIdentityError } from './errors.js'
import type { Config } from './config.js'
import type { Db } from '../store/database.js'

/**
 * A node's home directory: identity, config, database and control socket.
 * Heavy modules (crypto, schemas, the database) load on first use, so a CLI command that only
 * talks to the daemon starts fast.
 */
export class Home {
  constructor (readonly dir: string) {}

  get identityFile (): string { return path.join(this.dir, IDENTITY_FILE) }
  get configFile (): string { return path.join(this.dir, CONFIG_FILE) }
  get databaseFile (): string { return path.join(this.dir, DATABASE_FILE) }
  get socketPath (): string { return path.join(this.dir, CONTROL_SOCKET) }
  /** A builder's secrets for its job commands (src/builder/secrets-file.ts); gitmesh never writes it. */
  get secretsFile (): string { return path.join(this.dir, SECRETS_FILE) }

  /** A Unix socket path longer than the kernel allows cannot be created: say so plainly. */
  checkSocketPath (): void {
    if (Buffer.byteLength(this.socketPath) > MAX_SOCKET_PATH_BYTES) {
      throw new InvalidConfigError(this.dir, `the control socket path would be longer than ${MAX_SOCKET_PATH_BYTES} bytes; choose a shorter --home`)
    }
  }

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
    const { generateKeyPair, privateKeyToProtobuf } = await import('@libp2p/crypto/keys')
    const { peerIdFromPrivateKey } = await import('@libp2p/peer-id')
    const { ConfigSchema } = await import('./config.js')
    const { openDatabase } = await import('../store/database.js')
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
    const { privateKeyFromProtobuf } = await import('@libp2p/crypto/keys')
    try {
      return privateKeyFromProtobuf(bytes)
    } catch (err) {
      throw new InvalidIdentityError(this.identityFile, `not a libp2p private key (${(err as Error).message})`)
    }
  }

  async loadConfig (): Promise<Config> {
    const { ConfigSchema } = await import('./config.js')
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
    const { openDatabase } = await import('../store/database.js')
    return openDatabase(this.databaseFile)
  }
}
