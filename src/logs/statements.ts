import type { Db } from '../store/database.js'

function prepare (db: Db, sql: string) {
  return db.prepare<unknown[]>(sql)
}

export type Statement = ReturnType<typeof prepare>

/**
 * Prepared statements of one database, each prepared once: live output arrives in hundreds of
 * batches a second, and preparing a statement costs more than running it.
 */
export class Statements {
  private readonly prepared = new Map<string, Statement>()

  constructor (private readonly db: Db) {}

  get (sql: string): Statement {
    let statement = this.prepared.get(sql)
    if (statement === undefined) {
      statement = prepare(this.db, sql)
      this.prepared.set(sql, statement)
    }
    return statement
  }
}
