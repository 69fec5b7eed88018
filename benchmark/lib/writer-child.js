'use strict'
/**
 * Child process of scenario 6's two-process rows: W concurrent `updateOne($inc)` on
 * random documents of `main`, through argon or the driver.
 *
 *   node benchmark/lib/writer-child.js '{"mode":"ours"|"raw","uri":..,"db":..,"coll":..,"docs":N,"writers":W}'
 *
 * Prints `ready` once connected; then each stdin line `go <seed> <ops>` runs <ops>
 * updates with W in flight and prints `done`; stdin closing ends it.
 */
const path = require('node:path')
const readline = require('node:readline')
const { pick } = require('./fixtures')

async function main() {
  const a = JSON.parse(process.argv[2])
  let coll
  let close
  if (a.mode === 'ours') {
    const { Argon } = require(path.join(__dirname, '..', '..'))
    const argon = await Argon.connect(a.uri, { database: a.db, capture: 'off' })
    coll = argon.branch('main').collection(a.coll)
    close = () => argon.close()
  } else {
    const { MongoClient } = require('mongodb')
    const client = await MongoClient.connect(a.uri)
    coll = client.db(a.db).collection(a.coll)
    close = () => client.close()
  }
  const lines = readline.createInterface({ input: process.stdin })
  process.stdout.write('ready\n')
  for await (const line of lines) {
    const [cmd, seed, ops] = line.trim().split(/\s+/)
    if (cmd !== 'go') continue
    let k = 0
    const s = Number(seed)
    const worker = async () => {
      while (k < Number(ops)) {
        const i = k++
        await coll.updateOne({ _id: pick(i, a.docs, s) }, { $inc: { v: 1 } })
      }
    }
    await Promise.all(Array.from({ length: a.writers }, worker))
    process.stdout.write('done\n')
  }
  await close()
}

main().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`)
  process.exit(1)
})
