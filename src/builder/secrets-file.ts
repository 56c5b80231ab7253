import { constants as fsConstants } from 'node:fs'
import { open } from 'node:fs/promises'
import { ENV_NAME_PATTERN, MAX_SECRETS_FILE_BYTES } from './constants.js'
import { variableNameProblem } from './environment-rules.js'
import { SecretsFileError } from './errors.js'

/**
 * Reads a builder's secrets file (`<home>/secrets.env`): `KEY=value` lines for the job commands,
 * kept out of the daemon's own environment. No file means no secrets.
 *
 * The file must be a regular file owned by the daemon's user and readable by nobody else (mode
 * 0600 or stricter), or nothing is read: keys in a file others can read are not secret. Format,
 * simple and strict: blank lines and lines starting with `#` are skipped; every other line is
 * `KEY=value`, the value taken literally to the end of the line (no quotes, no escapes, no
 * `export`). Errors name the line, never its value.
 */
export async function readSecretsFile (file: string): Promise<Map<string, string>> {
  let handle
  try {
    handle = await open(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map()
    throw new SecretsFileError(file, `cannot be read (${(err as Error).message})`)
  }
  try {
    // Checked on the open file, so what is checked is what is read.
    const info = await handle.stat()
    if (!info.isFile()) throw new SecretsFileError(file, 'is not a regular file')
    const uid = process.getuid?.()
    if (uid !== undefined && info.uid !== uid) throw new SecretsFileError(file, `is owned by uid ${info.uid}, not by the daemon's user (uid ${uid}): chown it to that user`)
    const mode = info.mode & 0o777
    if ((mode & 0o077) !== 0) throw new SecretsFileError(file, `has mode ${mode.toString(8).padStart(4, '0')}, so other users can read it; run \`chmod 600 ${file}\``)
    if (info.size > MAX_SECRETS_FILE_BYTES) throw new SecretsFileError(file, `is larger than ${MAX_SECRETS_FILE_BYTES} bytes`)
    const text = await handle.readFile('utf8')
    return parseSecrets(file, text)
  } finally {
    await handle.close()
  }
}

/** Parses the secrets file's text (see `readSecretsFile`); `file` only names it in errors. */
export function parseSecrets (file: string, text: string): Map<string, string> {
  const secrets = new Map<string, string>()
  const firstLine = new Map<string, number>()
  const lines = text.split(/\r?\n/)
  for (const [index, line] of lines.entries()) {
    const number = index + 1
    const fail = (detail: string): never => { throw new SecretsFileError(file, `line ${number}: ${detail}`) }
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue
    if (/^\s*export\s/.test(line)) fail('write KEY=value without `export`')
    const equals = line.indexOf('=')
    if (equals === -1) fail('not a KEY=value line')
    const name = line.slice(0, equals)
    const value = line.slice(equals + 1)
    // Not echoed: a pasted key ending in `=` (base64) would have most of it before the `=`.
    if (!ENV_NAME_PATTERN.test(name)) fail('the text before the first `=` is not a variable name (letters, digits and _, not starting with a digit)')
    const problem = variableNameProblem(name)
    if (problem !== undefined) fail(problem)
    if (value === '') fail(`${name} has an empty value`)
    if (/^["']/.test(value)) fail(`${name}'s value starts with a quote: values are taken literally, so write it without quotes`)
    if (/^\s|\s$/.test(value)) fail(`${name}'s value starts or ends with white space, which would be part of it: remove it`)
    if (value.includes('\0')) fail(`${name}'s value contains a NUL byte`)
    const first = firstLine.get(name)
    if (first !== undefined) fail(`${name} is set again (first on line ${first})`)
    firstLine.set(name, number)
    secrets.set(name, value)
  }
  return secrets
}
