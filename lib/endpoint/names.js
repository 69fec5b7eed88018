'use strict'
/**
 * What a client's database name selects: `shop` is branch `main`; `shop@feature-x` is
 * branch `feature-x`; `shop@feature-x~1500` is that branch as of LSN 1500 and
 * `shop@main~v1-release` as of a tag (both read-only); an ISO date after `~` is a time.
 * The branch part ends at the last `~`, so branch names may contain `@`; a branch name with
 * `~` is not reachable through the endpoint.
 */

/** `{ branch, at }` for a database name of project `project`, or null if it is not one. */
function parseDbName(project, name) {
  if (name === project) return { branch: 'main', at: undefined }
  if (!name.startsWith(project + '@')) return null
  let rest = name.slice(project.length + 1)
  let at
  const tilde = rest.lastIndexOf('~')
  if (tilde >= 0) {
    const point = rest.slice(tilde + 1)
    rest = rest.slice(0, tilde)
    if (!point) return null
    if (/^\d+$/.test(point)) at = Number(point)
    else if (/^\d{4}-\d{2}-\d{2}T/.test(point) && !Number.isNaN(Date.parse(point))) at = new Date(point)
    else at = point
  }
  if (!rest) return null
  return { branch: rest, at }
}

/** The database name for `branch` (optionally at a point) of project `project`. */
function dbNameFor(project, branch, at) {
  let name = branch === 'main' && at === undefined ? project : `${project}@${branch}`
  if (at !== undefined) name += '~' + (at instanceof Date ? at.toISOString() : String(at))
  return name
}

/**
 * A connection string for the endpoint at `host:port` selecting `dbName`. The database
 * name is percent-encoded: drivers read an unencoded `@` as the end of credentials.
 */
function uriFor(host, port, dbName) {
  const h = host.includes(':') ? `[${host}]` : host
  const path = dbName ? '/' + encodeURIComponent(dbName) : '/'
  return `mongodb://${h}:${port}${path}?directConnection=true`
}

module.exports = { parseDbName, dbNameFor, uriFor }
