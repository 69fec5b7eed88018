'use strict'
/**
 * One soak worker (started by scripts/soak.js): mixed writes on two branches, forever,
 * until it is killed. Before each write it prints `T <op> <branch> <ids>` (attempted) and
 * after its acknowledgement `A <op> <branch> <ids>`; errors (an outage, a restart) print
 * `E <code>` and the loop goes on. Ids are unique per incarnation: `<worker>.<run>.<seq>`.
 */
const { Argon } = require('..')

const [uri, database, worker, run] = process.argv.slice(2)
const BRANCHES = ['main', 'soak-b']
const out = (line) => process.stdout.write(line + '\n')

async function main() {
  // As an application under a supervisor would: keep trying to connect while the server
  // restarts (up to a minute), instead of dying at start-up.
  let argon
  for (let attempt = 0; ; attempt++) {
    try {
      argon = await Argon.connect(uri, { database, monitor: false, serverSelectionTimeoutMs: 2000, retry: { maxAttempts: 2 } })
      break
    } catch (e) {
      if (attempt >= 30 || e.code !== 'SERVER_UNREACHABLE') throw e
      out(`E ${e.code}`)
      await new Promise((r) => setTimeout(r, 2000))
    }
  }
  const colls = Object.fromEntries(BRANCHES.map((b) => [b, argon.branch(b).collection('soak')]))
  const mine = Object.fromEntries(BRANCHES.map((b) => [b, []]))
  let seq = 0
  const nextId = () => `${worker}.${run}.${seq++}`
  for (;;) {
    const branch = BRANCHES[Math.floor(Math.random() * BRANCHES.length)]
    const c = colls[branch]
    const roll = Math.random()
    let op
    let ids
    let call
    if (roll < 0.3) {
      op = 'insertOne'
      ids = [nextId()]
      call = () => c.insertOne({ _id: ids[0], w: worker })
    } else if (roll < 0.45) {
      op = 'insertMany'
      ids = [nextId(), nextId(), nextId()]
      call = () => c.insertMany(ids.map((_id) => ({ _id, w: worker })))
    } else if (roll < 0.7) {
      op = 'inc'
      ids = ['ctr']
      call = () => c.updateOne({ _id: 'ctr' }, { $inc: { n: 1 } })
    } else if (roll < 0.85) {
      op = 'inc'
      ids = ['ctr']
      call = () => c.findOneAndUpdate({ _id: 'ctr' }, { $inc: { n: 1 } }, { returnDocument: 'after' })
    } else if (mine[branch].length > 0) {
      op = 'delete'
      ids = [mine[branch].splice(Math.floor(Math.random() * mine[branch].length), 1)[0]]
      call = () => c.deleteOne({ _id: ids[0] })
    } else {
      continue
    }
    out(`T ${op} ${branch} ${ids.join(',')}`)
    try {
      await call()
      out(`A ${op} ${branch} ${ids.join(',')}`)
      if (op === 'insertOne' || op === 'insertMany') mine[branch].push(...ids)
    } catch (e) {
      out(`E ${e.code || e.codeName || 'ERROR'}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }
}

main().catch((e) => {
  process.stderr.write(`soak worker ${worker}: ${e && e.stack}\n`)
  process.exit(1)
})
