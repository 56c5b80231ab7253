/**
 * @packageDocumentation
 *
 * The object exchange `/gitmesh/objects/1.0.0` (see protocol/objects.md).
 *
 * @example
 * ```ts
 * const node = await createLibp2p({ services: { exchange: exchange({ grants, trust }) } })
 * const report = await node.services.exchange.fetch(peerId, [commit], '/path/to/repo')
 * console.log(report.objects, report.bytes, report.roundTrips)
 * ```
 */
export { Exchange, exchange, type ExchangeInit, type ExchangeComponents, type FetchReport } from './exchange.js'
export { OBJECTS_PROTOCOL } from './constants.js'
export { RefusedError, ObjectMismatchError, ProtocolError, PeerUnreachableError } from './errors.js'
