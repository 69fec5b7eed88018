'use strict'
/**
 * 2. The same reads on a child branch of `main` on which 1% of the documents were
 * changed (every 100th `_id`, `$inc: {v: 1}`). A branch read is one aggregation: the
 * branch's own rows, `$unionWith` main's rows, minus the ids the branch has touched. The
 * baseline is the driver on a plain collection with the same (changed) documents.
 */
const { targets } = require('../lib/harness')
const { COLL, baseProject } = require('../lib/fixtures')
const { readCases } = require('./01-reads-main')

async function childWithChanges(ctx, fx, name, fraction) {
  const key = `child:${fx.db}:${name}`
  if (ctx.fixtures.has(key)) return ctx.fixtures.get(key)
  const argon = await ctx.direct.argon(fx.db)
  await argon.createBranch(name, { from: 'main' })
  const step = Math.round(1 / fraction)
  const ids = []
  for (let i = 0; i < fx.n; i += step) ids.push(i)
  const c = argon.branch(name).collection(COLL)
  for (let j = 0; j < ids.length; j += 500) {
    const chunk = ids.slice(j, j + 500)
    await c.updateMany({ _id: { $in: chunk } }, { $inc: { v: 1 } })
  }
  if (fx.rawDb) await ctx.direct.client.db(fx.rawDb).collection(COLL).updateMany({ _id: { $in: ids } }, { $inc: { v: 1 } })
  const check = await c.findOne({ _id: ids[0] })
  if (!check || check.v !== 1) throw new Error(`branch change not visible: ${JSON.stringify(check)}`)
  const info = { name, changed: ids.length }
  ctx.fixtures.set(key, info)
  return info
}

module.exports = {
  number: 2,
  name: 'reads-branch',
  title: 'reads on a child branch with 1% of documents changed',
  async run(ctx) {
    const fx = await baseProject(ctx, 'reads', ctx.opts.docs)
    const child = await childWithChanges(ctx, fx, 'feature', 0.01)
    const rows = await readCases(ctx, { scenario: '2', fx, branch: child.name, target: targets.atMost(1.5), label: 'child, 1% changed' })
    for (const r of rows) r.params.changedOnBranch = child.changed
    return rows
  },
  childWithChanges,
}
