const { Argon } = require('.');
(async () => {
  const uri = process.argv[2]
  const a = await Argon.connect(uri, { database: 'probe9_' + Date.now() })
  await a.branch('main').collection('c').insertOne({ _id: 1 })
  const ch = await a.createBranch('ch')
  for (let i = 0; i < 5; i++) {
    const t = Date.now()
    const p = ch.collection('c').findOne({ _id: 1 })
    const timer = setTimeout(() => console.log('still waiting after 3s'), 3000)
    await p; clearTimeout(timer)
    console.log('read', Date.now() - t, 'ms')
    await a.branch('main').collection('c').updateOne({ _id: 1 }, { $inc: { n: 1 } })
  }
  await a.close()
})().catch(e => { console.error(e); process.exit(1); });
