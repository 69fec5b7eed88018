/**
 * `argondb/dashboard`: the web dashboard (health, branches, time travel) as a request
 * handler for Express, Connect or a bare `node:http` server, or on a port of its own.
 *
 * ```js
 * const { argonDashboard } = require('argondb/dashboard')
 * app.use('/argon', argonDashboard(argon, { auth: (req) => req.user?.isAdmin === true, readOnly: true }))
 * ```
 *
 * Read-only by default. Every request passes `auth` when given (401 otherwise). The one
 * mutation, a reset (`readOnly: false`), is a POST with a JSON body and an anti-CSRF token
 * bound to a SameSite=Strict cookie. Responses carry a strict Content-Security-Policy (no
 * inline script); the page inserts values from the database as text, never as HTML.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Argon } from './index'

export interface DashboardOptions {
  /** Called for every request; a false (or rejected) answer is 401 UNAUTHORIZED. Default: allow. */
  auth?: (req: IncomingMessage) => boolean | Promise<boolean>
  /** Default true: no restore preview and no reset (403 READ_ONLY). */
  readOnly?: boolean
  /** The slow-operations tab's default threshold, ms. Default 100. */
  slowMs?: number
  /**
   * A refused request asks the browser for HTTP Basic credentials in this realm
   * (`WWW-Authenticate`): for an `auth` hook that checks the `authorization` header.
   */
  realm?: string
}

/** A request handler: `(req, res, next?)`. Paths it does not know go to `next` when given. */
export type DashboardHandler = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => Promise<void>

export declare function argonDashboard(argon: Argon, options?: DashboardOptions): DashboardHandler

export interface StartDashboardOptions extends DashboardOptions {
  /** Default 4000; 0 picks a free port. */
  port?: number
  /** Default '127.0.0.1'. */
  host?: string
}

/** Serves the dashboard on its own port (what `npx argon dashboard` runs). */
export declare function startDashboard(
  argon: Argon,
  options?: StartDashboardOptions,
): Promise<{ url: string; server: Server; close(): Promise<void> }>
