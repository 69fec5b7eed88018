'use strict'
/**
 * The web dashboard: `argonDashboard(argon, { auth, readOnly })` is a request handler
 * (`(req, res, next)`) for Express, Connect or a bare `node:http` server, and
 * `startDashboard(argon, { port, host })` serves it on its own (`npx argon dashboard`).
 *
 * Security: read-only by default. Every request passes the `auth` hook when one is given.
 * Mutations (a reset) are POSTs with a JSON body that carry an anti-CSRF token bound to a
 * SameSite=Strict cookie; with `readOnly` they are refused (403 READ_ONLY). Responses carry
 * a strict Content-Security-Policy (scripts and styles from this origin only, no inline
 * script); the page builds its DOM with textContent, never HTML from the database.
 */
const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')
const http = require('node:http')
const { ArgonError } = require('../errors')
const api = require('./api')

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

const PUBLIC = path.join(__dirname, 'public')
const UPLOT = path.dirname(require.resolve('uplot/package.json'))

/** The page's files: name → [path on disk, content type]. Nothing else is served. */
const ASSETS = {
  'index.html': [path.join(PUBLIC, 'index.html'), 'text/html; charset=utf-8'],
  'app.js': [path.join(PUBLIC, 'app.js'), 'text/javascript; charset=utf-8'],
  'app.css': [path.join(PUBLIC, 'app.css'), 'text/css; charset=utf-8'],
  'uplot.js': [path.join(UPLOT, 'dist', 'uPlot.iife.min.js'), 'text/javascript; charset=utf-8'],
  'uplot.css': [path.join(UPLOT, 'dist', 'uPlot.min.css'), 'text/css; charset=utf-8'],
}

const STATUS = {
  INVALID_ARGUMENT: 400,
  INVALID_FILTER: 400,
  INVALID_POINT: 400,
  UNAUTHORIZED: 401,
  READ_ONLY: 403,
  CSRF: 403,
  BRANCH_NOT_FOUND: 404,
  TAG_NOT_FOUND: 404,
  NOT_FOUND: 404,
  LSN_OUT_OF_RANGE: 404,
  METHOD_NOT_ALLOWED: 405,
  PAYLOAD_TOO_LARGE: 413,
}

const GETS = {
  overview: (argon, q, s) => api.overview(argon, q, s),
  branches: (argon) => api.branches(argon),
  timeline: (argon, q) => api.timeline(argon, q),
  collections: (argon, q) => api.collections(argon, q),
  documents: (argon, q) => api.documents(argon, q),
  history: (argon, q) => api.history(argon, q),
  diff: (argon, q) => api.diff(argon, q),
}

function checkOptions(argon, options) {
  if (!argon || typeof argon.listBranches !== 'function') throw new ArgonError('INVALID_ARGUMENT', 'argonDashboard needs a connected Argon instance')
  if (options === null || typeof options !== 'object') throw new ArgonError('INVALID_ARGUMENT', 'dashboard options must be an object')
  const { auth, readOnly = true, slowMs = 100, realm } = options
  if (auth !== undefined && typeof auth !== 'function') throw new ArgonError('INVALID_ARGUMENT', 'auth must be a function (req) => boolean | Promise<boolean>')
  if (realm !== undefined && (typeof realm !== 'string' || !/^[\w .-]{1,64}$/.test(realm))) throw new ArgonError('INVALID_ARGUMENT', 'realm must be a short name (letters, digits, space, . _ -)')
  if (typeof readOnly !== 'boolean') throw new ArgonError('INVALID_ARGUMENT', 'readOnly must be a boolean')
  if (!Number.isInteger(slowMs) || slowMs < 0) throw new ArgonError('INVALID_ARGUMENT', 'slowMs must be a non-negative integer')
  return { auth, readOnly, slowMs, realm }
}

function cookies(req) {
  const out = {}
  for (const part of String(req.headers.cookie || '').split(';')) {
    const i = part.indexOf('=')
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim()
  }
  return out
}

function readBody(req, limit = 64 * 1024) {
  if (req.body !== undefined && typeof req.body === 'object' && !Buffer.isBuffer(req.body)) return Promise.resolve(req.body)
  return new Promise((resolve, reject) => {
    let size = 0
    const chunks = []
    req.on('data', (c) => {
      size += c.length
      if (size > limit) {
        reject(new ArgonError('PAYLOAD_TOO_LARGE', `request body over ${limit} bytes`))
        req.destroy()
      } else chunks.push(c)
    })
    req.on('end', () => {
      try {
        resolve(chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {})
      } catch {
        reject(new ArgonError('INVALID_ARGUMENT', 'the request body is not JSON'))
      }
    })
    req.on('error', reject)
  })
}

/**
 * The dashboard as a request handler. Mount it with `app.use('/argon', argonDashboard(argon))`
 * or call it from `http.createServer`. Options: `auth(req)` (every request must pass it),
 * `readOnly` (default true: no restore preview, no reset), `slowMs` (the slow-operations
 * tab's default threshold, ms; default 100), `realm` (a refused request asks the browser
 * for HTTP Basic credentials in this realm: for an `auth` that checks them).
 */
function argonDashboard(argon, options = {}) {
  const settings = checkOptions(argon, options)
  const secret = crypto.randomBytes(32)
  const tokenFor = (sid) => crypto.createHmac('sha256', secret).update(sid).digest('hex')
  const files = new Map()
  const asset = (name) => {
    if (!files.has(name)) files.set(name, fs.readFileSync(ASSETS[name][0]))
    return files.get(name)
  }

  return async function dashboard(req, res, next) {
    const send = (status, type, body, extra = {}) => {
      res.writeHead(status, {
        'content-type': type,
        'content-security-policy': CSP,
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'DENY',
        'referrer-policy': 'no-referrer',
        'cross-origin-resource-policy': 'same-origin',
        'cache-control': 'no-store',
        ...extra,
      })
      res.end(body)
    }
    const json = (status, value, extra) => send(status, 'application/json; charset=utf-8', argon._codec.EJSON.stringify(value, { relaxed: true }), extra)
    const fail = (err) => {
      const code = err instanceof ArgonError || (err && typeof err.code === 'string') ? err.code : 'INTERNAL'
      const status = STATUS[code] ?? (code === 'INTERNAL' ? 500 : 400)
      json(status, { error: { code, message: status === 500 && !(err instanceof ArgonError) ? 'internal error' : String(err.message) } })
    }
    try {
      const url = new URL(req.url, 'http://dashboard.invalid')
      const route = url.pathname.replace(/^\/+/, '')
      if (settings.auth && !(await settings.auth(req))) {
        // With a realm, the browser asks for HTTP Basic credentials.
        if (settings.realm) res.setHeader('www-authenticate', `Basic realm="${settings.realm}", charset="UTF-8"`)
        return fail(new ArgonError('UNAUTHORIZED', 'the dashboard refused this request (auth hook)'))
      }
      if (route === '' || route === 'index.html') {
        // Served at the mount point with a trailing slash, so the page's relative URLs resolve.
        const original = req.originalUrl ?? req.url
        if (route === '' && !new URL(original, 'http://x').pathname.endsWith('/')) {
          return send(308, 'text/plain; charset=utf-8', 'moved', { location: new URL(original, 'http://x').pathname + '/' + url.search })
        }
        return send(200, ASSETS['index.html'][1], asset('index.html'))
      }
      if (route.startsWith('assets/')) {
        const name = route.slice('assets/'.length)
        if (!Object.hasOwn(ASSETS, name) || name === 'index.html') return fail(new ArgonError('NOT_FOUND', 'no such asset'))
        return send(200, ASSETS[name][1], asset(name), { 'cache-control': 'public, max-age=300' })
      }
      if (!route.startsWith('api/')) {
        if (typeof next === 'function') return next()
        return fail(new ArgonError('NOT_FOUND', `no page ${route}`))
      }
      const name = route.slice(4)
      const q = Object.fromEntries(url.searchParams)
      if (req.method === 'GET' || req.method === 'HEAD') {
        if (name === 'session') {
          // The anti-CSRF token: bound to a random cookie the page cannot send cross-site.
          let sid = cookies(req).argon_sid
          const extra = {}
          if (!sid || !/^[0-9a-f]{32}$/.test(sid)) {
            sid = crypto.randomBytes(16).toString('hex')
            extra['set-cookie'] = `argon_sid=${sid}; HttpOnly; SameSite=Strict; Path=/`
          }
          return json(200, { csrfToken: tokenFor(sid), readOnly: settings.readOnly, slowMs: settings.slowMs, project: argon.database }, extra)
        }
        if (name === 'export/metrics.json') {
          return json(200, { exportedAt: new Date(), project: argon.database, rows: await api.metricsRows(argon) }, { 'content-disposition': 'attachment; filename="argon-metrics.json"' })
        }
        if (name === 'export/metrics.csv') {
          return send(200, 'text/csv; charset=utf-8', api.csv(await api.metricsRows(argon)), { 'content-disposition': 'attachment; filename="argon-metrics.csv"' })
        }
        if (name === 'preview') {
          if (settings.readOnly) throw new ArgonError('READ_ONLY', 'the dashboard is read-only: restore preview and reset are off')
          return json(200, await api.preview(argon, q))
        }
        if (!Object.hasOwn(GETS, name)) throw new ArgonError('NOT_FOUND', `no endpoint ${name}`)
        return json(200, await GETS[name](argon, q, settings))
      }
      if (req.method !== 'POST') throw new ArgonError('METHOD_NOT_ALLOWED', `${req.method} is not allowed`)
      if (name !== 'reset') throw new ArgonError('NOT_FOUND', `no endpoint ${name}`)
      const sid = cookies(req).argon_sid
      const token = String(req.headers['x-argon-csrf'] || '')
      const expected = sid ? tokenFor(sid) : ''
      if (!sid || token.length !== expected.length || !crypto.timingSafeEqual(Buffer.from(token), Buffer.from(expected))) {
        throw new ArgonError('CSRF', 'missing or wrong anti-CSRF token')
      }
      if (!/^application\/json\b/.test(String(req.headers['content-type'] || ''))) throw new ArgonError('INVALID_ARGUMENT', 'the request body must be application/json')
      const body = await readBody(req)
      if (settings.readOnly) throw new ArgonError('READ_ONLY', 'the dashboard is read-only: reset is off')
      return json(200, await api.reset(argon, body))
    } catch (err) {
      if (res.headersSent) return res.destroy()
      return fail(err)
    }
  }
}

/**
 * Serves the dashboard alone on `host:port` (default 127.0.0.1:4000). Resolves
 * `{ url, server, close() }`.
 */
async function startDashboard(argon, options = {}) {
  const { port = 4000, host = '127.0.0.1', ...rest } = options
  const handler = argonDashboard(argon, rest)
  const server = http.createServer((req, res) => handler(req, res))
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, resolve)
  })
  const addr = server.address()
  const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address
  return {
    url: `http://${shown}:${addr.port}/`,
    server,
    close: () => new Promise((resolve) => {
      server.closeAllConnections?.()
      server.close(() => resolve())
    }),
  }
}

module.exports = { argonDashboard, startDashboard, ASSETS, CSP }
