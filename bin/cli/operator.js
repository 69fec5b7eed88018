'use strict'
/**
 * The operator's commands: `argon status`, `argon health`, `argon metrics`. They read what
 * every connected process of the project publishes every 10 s (`argon.processes()`), so
 * they see the application's processes without a port on the application. Each takes
 * `--json` (one JSON document on stdout); `health` exits 2 when the project is unhealthy.
 */
const { Command, Option } = require('commander')
const { withArgon, print, printJson, table, cliError } = require('./common')
// How processes are judged and summed: shared with `argon top` and the dashboard.
const { withStatus, overall, reporting, operationsOf, sumOperations } = require('../../lib/fleet')

const ago = (date, now = Date.now()) => (date ? `${Math.max(0, Math.round((now - new Date(date).getTime()) / 1000))}s ago` : '-')
const ms = (v) => (v == null || Number.isNaN(v) ? '-' : `${Number(v).toFixed(2)} ms`)
const pct = (v) => (v == null || Number.isNaN(v) ? '-' : `${(v * 100).toFixed(1)}%`)

function commands() {
  const status = new Command('status')
    .description('connection and server, current LSN, branches, the processes reporting, overall health')
    .action((opts, cmd) =>
      withArgon(cmd, async (argon, o) => {
        const [{ server, now, processes }, branches] = await Promise.all([reporting(argon), argon.listBranches()])
        const doc = {
          server,
          lsn: server.lsn,
          branches: branches.map((b) => ({ name: b.name, parent: b.parent, headLsn: b.headLsn, protected: b.protected })),
          processes: processes.map((p) => ({ id: p.id, pid: p.pid, host: p.host, app: p.app, reportedAt: p.reportedAt, startedAt: p.startedAt, status: p.status, silent: p.silent })),
          health: overall(processes),
        }
        if (o.json) return printJson(doc)
        print(`server     MongoDB ${server.version} (${server.kind}${server.setName ? ` ${server.setName}` : ''}), transactions ${server.transactions ? 'available' : 'unavailable'}`)
        print(`project    ${o.db}, LSN ${server.lsn}, ${branches.length} branch${branches.length === 1 ? '' : 'es'}: ${branches.map((b) => b.name).join(', ')}`)
        print(`health     ${doc.health}`)
        print('')
        if (processes.length === 0) print('no process has reported (processes publish every 10 s while their monitor is on)')
        else print(table(['PROCESS', 'PID', 'HOST', 'APP', 'STATUS', 'REPORTED'], doc.processes.map((p) => [p.id, p.pid, p.host || '-', p.app || '-', p.silent ? 'unhealthy (silent)' : p.status, ago(p.reportedAt, now)])))
      }),
    )

  const health = new Command('health')
    .description('health of every reporting process: each check with its value and threshold, active alerts (exit code 2 when unhealthy)')
    .action((opts, cmd) =>
      withArgon(cmd, async (argon, o) => {
        const { now, processes } = await reporting(argon)
        const status = overall(processes)
        const doc = {
          status,
          processes: processes.map((p) => ({ id: p.id, pid: p.pid, reportedAt: p.reportedAt, status: p.status, silent: p.silent, checks: p.health?.checks ?? {}, alerts: p.alerts ?? [] })),
        }
        if (o.json) printJson(doc)
        else {
          print(`health: ${status}`)
          for (const p of doc.processes) {
            print(`\nprocess ${p.id} (pid ${p.pid}, reported ${ago(p.reportedAt, now)}): ${p.status}${p.silent ? ' (silent: no report for three intervals)' : ''}`)
            const rows = Object.entries(p.checks).map(([name, c]) => [name, c.status ?? '-', c.value ?? c.latencyMs ?? '-', c.threshold ?? '-', c.consecutiveFailures ?? '-'])
            if (rows.length) print(table(['CHECK', 'STATUS', 'VALUE', 'THRESHOLD', 'FAILURES'], rows))
            const alerts = p.alerts.map((a) => [a.name ?? a.rule ?? '-', a.severity ?? '-', a.since ? new Date(a.since).toISOString() : '-', a.summary ?? a.message ?? ''])
            print(alerts.length ? table(['ALERT', 'SEVERITY', 'SINCE', 'SUMMARY'], alerts) : 'no active alerts')
          }
        }
        if (status === 'unhealthy') process.exitCode = 2
      }),
    )

  const metrics = new Command('metrics')
    .description('per operation: count, success rate, average / p50 / p99 latency, errors by code; summed over the reporting processes')
    .addOption(new Option('--process <id>', 'one process (its id or pid)'))
    .option('--prometheus', "the Prometheus text format (one process's, or every process's one after the other; with --json: [{ id, pid, prometheus }])")
    .action((opts, cmd) =>
      withArgon(cmd, async (argon, o) => {
        let processes = await argon.processes()
        if (opts.process !== undefined) {
          processes = processes.filter((p) => p.id === opts.process || String(p.pid) === String(opts.process))
          if (processes.length === 0) throw cliError('INVALID_ARGUMENT', `no reporting process ${opts.process}`)
        }
        if (opts.prometheus) {
          // With --json too, still one JSON document: each process's text in it.
          if (o.json) return printJson(processes.map((p) => ({ id: p.id, pid: p.pid, prometheus: p.prometheus || '' })))
          process.stdout.write(processes.map((p) => `# process ${p.id} pid ${p.pid}\n${p.prometheus || ''}`).join('\n'))
          return
        }
        const operations = sumOperations(processes)
        const doc = { processes: processes.map((p) => ({ id: p.id, pid: p.pid, reportedAt: p.reportedAt })), operations }
        if (o.json) return printJson(doc)
        if (Object.keys(operations).length === 0) return print('no operations reported yet')
        print(
          table(
            ['OPERATION', 'COUNT', 'SUCCESS', 'AVG', 'P50', 'P99', 'ERRORS BY CODE'],
            Object.entries(operations)
              .sort((a, b) => b[1].count - a[1].count)
              .map(([name, s]) => [name, s.count, pct(s.successRate), ms(s.avgMs), ms(s.p50Ms), ms(s.p99Ms), Object.entries(s.errorsByCode).map(([c, n]) => `${c} ${n}`).join(', ') || '-']),
          ),
        )
        print(`\n${processes.length} process${processes.length === 1 ? '' : 'es'} reporting; p50 and p99 over several processes are the highest of theirs`)
      }),
    )
  return [status, health, metrics]
}

module.exports = { commands }
