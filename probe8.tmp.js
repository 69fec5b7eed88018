const { Argon } = require('.');
(async () => {
  const uri = process.argv[2]
  const db = 'probe8_' + Date.now()
  const a = await Argon.connect(uri, { database: db })
  const c = a.branch('main').collection('c')
  for (let i = 0; i < 10; i++) await c.insertMany(Array.from({ length: 1000 }, (_, j) => ({ _id: i * 1000 + j, k: j })))
  const ch = await a.createBranch('ch')
  await ch.collection('c').updateOne({ _id: 5 }, { $set: { v: 1 } })
  const b = await Argon.connect(uri, { database: db })
  for (const [label, arg] of [['holder', a], ['other', b]]) {
    for (let round = 0; round < 3; round++) {
      const t = process.hrtime.bigint()
      for (let i = 0; i < 20; i++) await arg.branch('ch').collection('c').findOne({ _id: i })
      console.log(label, Number(process.hrtime.bigint() - t) / 20e6, 'ms')
      await new Promise(r => setTimeout(r, 600))
    }
  }
  const raw = new (require('mongodb').MongoClient)(uri); await raw.connect()
  console.log(await raw.db(db).collection('__argon.meta').findOne({ _id: 'captureState' }))
  await raw.close(); await a.close(); await b.close()
})().catch(e => { console.error(e); process.exit(1); });
