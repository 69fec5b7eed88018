'use strict'
/**
 * Starts `argon serve --json` as its own process (as an operator would) and resolves with
 * what it printed (`{ uri, port, host, database, branches }`) plus the child process and
 * its stderr so far. Used by the endpoint tests, benchmark scenario 11 and the memory probe.
 */
const path = require('node:path')
const { spawn } = require('node:child_process')

const BIN = path.join(__dirname, '..', 'bin', 'argon.js')

function startServe({ uri, db, args = [] }) {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--json', ...args, '--uri', uri, '--db', db], { stdio: ['ignore', 'pipe', 'pipe'] })
  const state = { stderr: '' }
  child.stderr.on('data', (d) => (state.stderr += d))
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)))
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
      try {
        resolve({ ...JSON.parse(out), child, exited, state })
      } catch {}
    })
    exited.then((code) => reject(new Error(`argon serve exited ${code}: ${state.stderr}`)))
  })
}

module.exports = { startServe }
