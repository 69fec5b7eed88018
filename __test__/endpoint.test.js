'use strict'
/**
 * The MongoDB endpoint (issue 13): the official driver, mongoose and mongosh use branches
 * and past points through `argon.serve()` and `argon serve`, over real TCP, against the test
 * server; isolation is checked through the endpoint and through the JS API; malformed and
 * truncated messages never stop the endpoint from serving other clients.
 */
const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const net = require('node:net')
const path = require('node:path')
const { MongoClient } = require('mongodb')
const { serialize, deserialize } = require('bson')
const { Argon } = require('..')
const { serverAndDriver, freshDb } = require('./helpers')
const { run } = require('./run')
const wire = require('../lib/endpoint/wire')
const { startServe } = require('../scripts/serve-process')

const env = serverAndDriver()
const open = (database = freshDb('ep')) => Argon.connect(env.srv.uri, { database, serverSelectionTimeoutMs: 5000, monitor: false })
const clients = []
async function client(uri) {
  const c = await MongoClient.connect(uri, { serverSelectionTimeoutMS: 5000 })
  clients.push(c)
  return c
}
after(async () => {
  for (const c of clients) await c.close().catch(() => {})
})

test('the driver through the endpoint: CRUD, cursors across getMore, sorts, projections, duplicate keys, listDatabases', async () => {
  const argon = await open()
  const ep = await argon.serve({ port: 0 })
  try {
    assert.match(ep.uri, /^mongodb:\/\/127\.0\.0\.1:\d+\/\?directConnection=true$/)
    const c = await client(ep.uri)
    const users = c.db(argon.database).collection('users')
    const docs = Array.from({ length: 7 }, (_, i) => ({ _id: i + 1, name: `u${i + 1}`, n: (i * 3) % 7, tags: ['a', 'b'] }))
    assert.equal((await users.insertMany(docs)).insertedCount, 7)
    // Written through the endpoint = written through Argon.
    assert.equal(await argon.branch('main').collection('users').countDocuments(), 7)
    // A cursor across several getMores, sorted and projected.
    const cur = users.find({ n: { $gte: 0 } }, { batchSize: 2, sort: { n: -1 }, projection: { name: 1, _id: 0 } })
    const got = await cur.toArray()
    assert.deepEqual(got, docs.sort((a, b) => b.n - a.n).map((d) => ({ name: d.name })))
    // A cursor closed early is killed on the endpoint.
    const early = users.find({}, { batchSize: 2 })
    assert.ok(await early.next())
    assert.equal(ep.cursors.map.size, 1)
    await early.close()
    assert.equal(ep.cursors.map.size, 0)
    // Updates, deletes, findOneAndUpdate, counts, distinct, aggregate.
    assert.deepEqual(await users.updateMany({ n: { $lt: 3 } }, { $set: { low: true } }).then((r) => [r.matchedCount, r.modifiedCount]), [3, 3])
    assert.equal((await users.findOneAndUpdate({ _id: 1 }, { $inc: { n: 100 } }, { returnDocument: 'after' })).n, 100)
    assert.equal((await users.deleteOne({ _id: 7 })).deletedCount, 1)
    assert.equal(await users.countDocuments({ low: true }), 3)
    assert.deepEqual((await users.distinct('tags')).sort(), ['a', 'b'])
    assert.deepEqual(await users.aggregate([{ $match: { low: true } }, { $count: 'k' }]).toArray(), [{ k: 3 }])
    assert.deepEqual((await users.replaceOne({ _id: 2 }, { name: 'two' })).modifiedCount, 1)
    assert.deepEqual((await users.updateOne({ _id: 42 }, { $set: { up: 1 } }, { upsert: true })).upsertedId, 42)
    // A duplicate key is the driver's MongoServerError 11000 with keyValue.
    const dup = await users.insertOne({ _id: 3 }).catch((e) => e)
    assert.equal(dup.code, 11000)
    assert.deepEqual(dup.keyValue, { _id: 3 })
    const bulk = await users.insertMany([{ _id: 100 }, { _id: 3 }, { _id: 101 }], { ordered: false }).catch((e) => e)
    assert.equal(bulk.code, 11000)
    assert.equal(bulk.result.insertedCount, 2)
    // Indexes.
    await users.deleteMany({ name: { $exists: false } })
    assert.equal(await users.createIndex({ name: 1 }, { unique: true }), 'name_1')
    assert.ok((await users.indexes()).some((i) => i.name === 'name_1' && i.unique))
    assert.equal((await users.insertOne({ name: 'u3' }).catch((e) => e)).code, 11000)
    await users.dropIndex('name_1')
    // listDatabases shows every branch, including one made after the endpoint started.
    await argon.createBranch('later')
    const dbs = (await c.db('admin').admin().listDatabases()).databases.map((d) => d.name)
    assert.deepEqual(dbs.sort(), [argon.database, `${argon.database}@later`].sort())
    assert.deepEqual((await c.db(argon.database).listCollections().toArray()).map((x) => x.name), ['users'])
    // Unknown commands are MongoDB's CommandNotFound.
    const nf = await c.db(argon.database).command({ frobnicate: 1 }).catch((e) => e)
    assert.equal(nf.code, 59)
  } finally {
    await ep.close()
    await argon.close()
  }
})

test('branches and past points through their connection strings: isolation, read-only points, unknown branches', async () => {
  const argon = await open()
  const ep = await argon.serve({ port: 0 })
  try {
    const main = argon.branch('main').collection('items')
    await main.insertMany([{ _id: 1, v: 'a' }, { _id: 2, v: 'b' }])
    const lsn = (await argon.branch('main').info()).headLsn
    await argon.tag('v1', { branch: 'main' })
    await argon.createBranch('pr-42')
    // The encoded form is what drivers need ('@' would end the credentials).
    assert.ok(ep.uriFor('pr-42').includes(`${argon.database}%40pr-42`))
    const pr = (await client(ep.uriFor('pr-42'))).db()
    assert.equal(pr.databaseName, `${argon.database}@pr-42`)
    await pr.collection('items').updateOne({ _id: 1 }, { $set: { v: 'changed' } })
    await pr.collection('items').insertOne({ _id: 3, v: 'new' })
    // Isolation, through the endpoint and through the JS API.
    const onMain = (await client(ep.uri)).db(argon.database).collection('items')
    assert.deepEqual(await onMain.find().sort({ _id: 1 }).toArray(), [{ _id: 1, v: 'a' }, { _id: 2, v: 'b' }])
    assert.deepEqual(await main.find().sort({ _id: 1 }).toArray(), [{ _id: 1, v: 'a' }, { _id: 2, v: 'b' }])
    assert.deepEqual(await argon.branch('pr-42').collection('items').find().sort({ _id: 1 }).toArray(), [{ _id: 1, v: 'changed' }, { _id: 2, v: 'b' }, { _id: 3, v: 'new' }])
    // main moves on; a past point (LSN or tag) still shows the old state, read-only.
    await main.deleteOne({ _id: 2 })
    for (const at of [lsn, 'v1']) {
      const past = (await client(ep.uriFor('main', { at }))).db().collection('items')
      assert.deepEqual(await past.find().sort({ _id: 1 }).toArray(), [{ _id: 1, v: 'a' }, { _id: 2, v: 'b' }], `at ${at}`)
      const w = await past.insertOne({ _id: 9 }).catch((e) => e)
      assert.equal(w.code, 166, `a write at ${at} is refused as a write to a view: ${w.message}`)
      assert.match(w.message, /READ_ONLY/)
    }
    assert.equal(await main.countDocuments({ _id: 9 }), 0, 'nothing was written')
    // An unknown branch is NamespaceNotFound; another database is not served.
    const unknown = (await client(ep.uriFor('no-such-branch'))).db().collection('items')
    assert.equal((await unknown.findOne({}).catch((e) => e)).code, 26)
    const other = (await client(ep.uri)).db('not_this_project').collection('x')
    assert.equal((await other.findOne({}).catch((e) => e)).code, 26)
  } finally {
    await ep.close()
    await argon.close()
  }
})

test('transactions through the endpoint commit atomically, abort leaves no trace', async () => {
  const argon = await open()
  const ep = await argon.serve({ port: 0 })
  try {
    const c = await client(ep.uri)
    const accounts = c.db(argon.database).collection('accounts')
    await accounts.insertMany([{ _id: 'a', balance: 100 }, { _id: 'b', balance: 0 }])
    const s = c.startSession()
    await s.withTransaction(async () => {
      await accounts.updateOne({ _id: 'a' }, { $inc: { balance: -10 } }, { session: s })
      await accounts.updateOne({ _id: 'b' }, { $inc: { balance: 10 } }, { session: s })
      // Reads in the transaction see its writes; outside it, nothing yet.
      assert.equal((await accounts.findOne({ _id: 'b' }, { session: s })).balance, 10)
      assert.equal((await argon.branch('main').collection('accounts').findOne({ _id: 'b' })).balance, 0)
    })
    assert.deepEqual(await accounts.find().sort({ _id: 1 }).toArray(), [{ _id: 'a', balance: 90 }, { _id: 'b', balance: 10 }])
    s.startTransaction()
    await accounts.insertOne({ _id: 'c', balance: 1 }, { session: s })
    await s.abortTransaction()
    await s.endSession()
    assert.equal(await accounts.countDocuments({ _id: 'c' }), 0)
    const history = await argon.branch('main').collection('accounts').history('c')
    assert.deepEqual(history, [], 'the aborted insert left no WAL record')
  } finally {
    await ep.close()
    await argon.close()
  }
})

test('mongoose through the endpoint: schemas with validation, Model.init() unique index on a branch, CRUD, populate, lean', async () => {
  const mongoose = require('mongoose')
  const argon = await open()
  const ep = await argon.serve({ port: 0 })
  try {
    await argon.createBranch('feature')
    const onMain = mongoose.createConnection(ep.uriFor('main'), { serverSelectionTimeoutMS: 5000 })
    const onFeature = mongoose.createConnection(ep.uriFor('feature'), { serverSelectionTimeoutMS: 5000 })
    try {
      const authorSchema = new mongoose.Schema({ name: { type: String, required: true }, email: { type: String, unique: true } })
      const postSchema = new mongoose.Schema({ title: { type: String, minlength: 3 }, author: { type: mongoose.Schema.Types.ObjectId, ref: 'Author' } })
      const models = (conn) => ({ Author: conn.model('Author', authorSchema), Post: conn.model('Post', postSchema) })
      const m = models(onMain)
      const f = models(onFeature)
      await m.Author.init()
      await f.Author.init()
      const ada = await m.Author.create({ name: 'Ada', email: 'ada@x' })
      await m.Post.create({ title: 'Engines', author: ada._id })
      // Validation runs in mongoose; nothing reaches the branch.
      await assert.rejects(m.Author.create({ email: 'nobody@x' }), /required/)
      await assert.rejects(m.Post.create({ title: 'no' }), /shorter than the minimum/)
      // The unique index exists on the feature branch (built by init there): a duplicate fails.
      await f.Author.create({ name: 'Bea', email: 'bea@x' })
      await assert.rejects(f.Author.create({ name: 'Bea 2', email: 'bea@x' }), (e) => e.code === 11000)
      // The branch inherited main's data as of its fork (none) and has only its own.
      assert.deepEqual((await f.Author.find().lean()).map((a) => a.name), ['Bea'])
      assert.deepEqual((await m.Author.find().lean()).map((a) => a.name), ['Ada'])
      // populate and lean on main.
      const post = await m.Post.findOne({ title: 'Engines' }).populate('author').lean()
      assert.equal(post.author.name, 'Ada')
      await m.Author.updateOne({ _id: ada._id }, { $set: { name: 'Ada L.' } })
      assert.equal((await m.Author.findById(ada._id)).name, 'Ada L.')
      await m.Post.deleteMany({})
      assert.equal(await m.Post.countDocuments(), 0)
      // And through the JS API: main has Ada only, feature has Bea only.
      assert.deepEqual((await argon.branch('main').collection('authors').find().toArray()).map((a) => a.name), ['Ada L.'])
      assert.deepEqual((await argon.branch('feature').collection('authors').find().toArray()).map((a) => a.name), ['Bea'])
      assert.ok((await argon.branch('feature').collection('authors').indexes()).some((i) => i.unique && i.key.email === 1))
    } finally {
      await onMain.close()
      await onFeature.close()
    }
  } finally {
    await ep.close()
    await argon.close()
  }
})

test('mongosh --eval through the endpoint: find, insertOne, show dbs', async () => {
  const argon = await open()
  const ep = await argon.serve({ port: 0 })
  try {
    await argon.branch('main').collection('users').insertOne({ _id: 1, name: 'ada' })
    await argon.createBranch('sh')
    const mongosh = path.join(__dirname, '..', 'node_modules', '.bin', 'mongosh')
    const sh = (uri, script) => run(mongosh, [uri, '--quiet', '--norc', '--eval', script], { timeout: 60_000, env: { ...process.env, MONGOSH_NO_UPDATE_CHECK: '1', DO_NOT_TRACK: '1' } })
    const r1 = await sh(ep.uriFor('sh'), "db.users.insertOne({ _id: 2, name: 'bob' }); print(JSON.stringify(db.users.find().sort({ _id: 1 }).toArray()))")
    assert.equal(r1.code, 0, r1.stderr)
    assert.equal(r1.stdout.trim().split('\n').pop(), JSON.stringify([{ _id: 1, name: 'ada' }, { _id: 2, name: 'bob' }]))
    assert.equal(await argon.branch('main').collection('users').countDocuments(), 1, 'main untouched')
    const r2 = await sh(ep.uri, 'show dbs')
    assert.equal(r2.code, 0, r2.stderr)
    assert.ok(r2.stdout.includes(argon.database) && r2.stdout.includes(`${argon.database}@sh`), r2.stdout)
    const r3 = await sh(ep.uri, `print(db.getSiblingDB('${argon.database}@sh').users.countDocuments())`)
    assert.equal(r3.code, 0, r3.stderr)
    assert.equal(r3.stdout.trim().split('\n').pop(), '2')
  } finally {
    await ep.close()
    await argon.close()
  }
})

/** Sends raw bytes on a fresh connection and resolves with what came back before close or timeout. */
function raw(port, bytes, waitMs = 300) {
  return new Promise((resolve) => {
    const chunks = []
    let closed = false
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write(bytes))
    s.on('data', (d) => chunks.push(d))
    s.on('error', () => {})
    s.on('close', () => {
      closed = true
      resolve({ reply: Buffer.concat(chunks), closed })
    })
    setTimeout(() => {
      s.destroy()
      if (!closed) resolve({ reply: Buffer.concat(chunks), closed: false })
    }, waitMs)
  })
}

function opMsg(doc, { flags = 0, checksum = false } = {}) {
  const body = serialize(doc)
  let msg = wire.encodeOpMsg(7, 0, body, flags | (checksum ? wire.FLAG_CHECKSUM : 0))
  if (checksum) {
    msg = Buffer.concat([msg, Buffer.alloc(4)])
    msg.writeInt32LE(msg.length, 0)
    msg.writeUInt32LE(wire.crc32c(msg, 0, msg.length - 4), msg.length - 4)
  }
  return msg
}

test('wire protocol: checksums, moreToCome, the OP_QUERY handshake, and hostile input never stops the endpoint', async () => {
  assert.equal(wire.crc32c(Buffer.from('123456789')), 0xe3069283, 'CRC-32C check value')
  const argon = await open()
  const ep = await argon.serve({ port: 0 })
  try {
    const replyDoc = (r) => deserialize(r.subarray(21))
    // A checksummed ping; a corrupted checksum is an error reply.
    const ok = await raw(ep.port, opMsg({ ping: 1, $db: 'admin' }, { checksum: true }))
    assert.equal(replyDoc(ok.reply).ok, 1)
    const bad = opMsg({ ping: 1, $db: 'admin' }, { checksum: true })
    bad[bad.length - 1] ^= 0xff
    const badReply = replyDoc((await raw(ep.port, bad)).reply)
    assert.equal(badReply.ok, 0)
    assert.match(badReply.errmsg, /checksum/)
    // moreToCome: executed, no reply.
    const quiet = await raw(ep.port, opMsg({ insert: 'w0', documents: [{ _id: 1 }], $db: argon.database }, { flags: wire.FLAG_MORE_TO_COME }), 500)
    assert.equal(quiet.reply.length, 0)
    assert.equal(await argon.branch('main').collection('w0').countDocuments(), 1)
    // The legacy handshake (OP_QUERY isMaster on admin.$cmd) gets an OP_REPLY.
    const q = serialize({ isMaster: 1 })
    const name = Buffer.from('admin.$cmd\0')
    const oq = Buffer.alloc(16 + 4 + name.length + 8 + q.length)
    oq.writeInt32LE(oq.length, 0)
    oq.writeInt32LE(5, 4)
    oq.writeInt32LE(wire.OP_QUERY, 12)
    name.copy(oq, 20)
    oq.writeInt32LE(-1, 20 + name.length + 4)
    q.copy(oq, 20 + name.length + 8)
    const legacy = (await raw(ep.port, oq)).reply
    assert.equal(legacy.readInt32LE(12), wire.OP_REPLY)
    assert.equal(deserialize(legacy.subarray(36)).ismaster, true)
    // Hostile input: random bytes, truncated and oversized messages, bad sections.
    const c = await client(ep.uri)
    let seed = 7
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff)
    const inputs = [Buffer.from([1, 2, 3]), Buffer.alloc(16, 0xff)]
    const big = Buffer.alloc(16)
    big.writeInt32LE(wire.MAX_MESSAGE + 1, 0)
    big.writeInt32LE(wire.OP_MSG, 12)
    inputs.push(big)
    const good = opMsg({ find: 'w0', filter: {}, $db: argon.database })
    for (let i = 0; i < 60; i++) {
      const m = Buffer.from(good)
      const kind = i % 4
      if (kind === 0) for (let k = 0; k < 4; k++) m[16 + Math.floor(rnd() * (m.length - 16))] = Math.floor(rnd() * 256)
      if (kind === 1) inputs.push(m.subarray(0, 16 + Math.floor(rnd() * (m.length - 16))))
      if (kind === 2) {
        m[20] = 1 + Math.floor(rnd() * 200) // an unknown or misused section kind
      }
      if (kind === 3) m.writeInt32LE(m.readInt32LE(21) + 1 + Math.floor(rnd() * 50), 21) // a document length that lies
      if (kind !== 1) inputs.push(m)
    }
    for (let i = 0; i < 20; i++) inputs.push(Buffer.from(Array.from({ length: 16 + Math.floor(rnd() * 200) }, () => Math.floor(rnd() * 256))))
    for (const input of inputs) {
      const r = await raw(ep.port, input, 150)
      if (r.reply.length >= 21 && r.reply.readInt32LE(12) === wire.OP_MSG) {
        const d = replyDoc(r.reply)
        assert.ok(d.ok === 1 || (d.ok === 0 && typeof d.code === 'number'), JSON.stringify(d))
      }
      // The endpoint keeps serving everyone else.
      assert.equal((await c.db('admin').command({ ping: 1 })).ok, 1)
    }
    const oversize = await raw(ep.port, big, 500)
    assert.equal(oversize.closed, true, 'a message over 48 MB closes the connection')
  } finally {
    await ep.close()
    await argon.close()
  }
})

test('argon serve prints a connection string per branch, serves them, and stops on SIGTERM', async () => {
  const database = freshDb('ep_cli')
  const argon = await open(database)
  await argon.branch('main').collection('c').insertOne({ _id: 1 })
  await argon.createBranch('preview')
  await argon.close()
  const printed = await startServe({ uri: env.srv.uri, db: database })
  const { child, exited } = printed
  try {
    assert.deepEqual(Object.keys(printed.branches).sort(), ['main', 'preview'])
    assert.equal(printed.host, '127.0.0.1')
    const c = await client(printed.branches.preview)
    await c.db().collection('c').insertOne({ _id: 2 })
    assert.equal(await c.db().collection('c').countDocuments(), 2)
    const m = await client(printed.branches.main)
    assert.equal(await m.db().collection('c').countDocuments(), 1)
  } finally {
    child.kill('SIGTERM')
  }
  assert.equal(await exited, 0)
  assert.equal(printed.state.stderr, '')
})

test('SCRAM-SHA-256 users: the driver and mongosh authenticate; no or wrong credentials are refused; no secret in errors', async () => {
  const { keysFor } = require('../lib/endpoint/auth')
  const argon = await open()
  // One user by password, one by stored SCRAM keys (what an auth file should hold).
  const ep = await argon.serve({ port: 0, users: [{ user: 'app', password: 's3cret-pw' }, { user: 'ops', ...keysFor('ops-pw') }] })
  try {
    await argon.branch('main').collection('c').insertOne({ _id: 1 })
    const withCreds = (user, pw, db = argon.database) => `mongodb://${encodeURIComponent(user)}:${encodeURIComponent(pw)}@127.0.0.1:${ep.port}/${encodeURIComponent(db)}?directConnection=true&authMechanism=SCRAM-SHA-256`
    for (const [user, pw] of [['app', 's3cret-pw'], ['ops', 'ops-pw']]) {
      const c = await client(withCreds(user, pw))
      assert.equal(await c.db().collection('c').countDocuments(), 1, user)
    }
    // Without credentials: the handshake works, commands do not.
    const anon = await client(ep.uri)
    const e1 = await anon.db(argon.database).collection('c').findOne({}).catch((e) => e)
    assert.equal(e1.code, 13)
    // Wrong password: AuthenticationFailed, and the password is nowhere in the error.
    const e2 = await MongoClient.connect(withCreds('app', 'wrong-pw'), { serverSelectionTimeoutMS: 3000 }).catch((e) => e)
    assert.ok(e2 instanceof Error)
    assert.match(String(e2.message), /Authentication failed/)
    assert.ok(!JSON.stringify({ m: e2.message, c: e2.cause && e2.cause.message }).includes('wrong-pw'))
    const e3 = await MongoClient.connect(withCreds('nobody', 'x'), { serverSelectionTimeoutMS: 3000 }).catch((e) => e)
    assert.match(String(e3.message), /Authentication failed/)
    // mongosh with credentials, on a branch.
    await argon.createBranch('auth-b')
    const mongosh = path.join(__dirname, '..', 'node_modules', '.bin', 'mongosh')
    const r = await run(mongosh, [withCreds('app', 's3cret-pw', `${argon.database}@auth-b`), '--quiet', '--norc', '--eval', 'print(db.c.countDocuments())'], { timeout: 60_000, env: { ...process.env, MONGOSH_NO_UPDATE_CHECK: '1', DO_NOT_TRACK: '1' } })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout.trim().split('\n').pop(), '1')
  } finally {
    await ep.close()
    await argon.close()
  }
})

test('argon serve --auth-file requires its users; the connection limit closes connections beyond it', async () => {
  const fs = require('node:fs')
  const os = require('node:os')
  const { keysFor } = require('../lib/endpoint/auth')
  const database = freshDb('ep_auth')
  const argon = await open(database)
  await argon.branch('main').collection('c').insertOne({ _id: 1 })
  // The connection limit, on an in-process endpoint.
  const limited = await argon.serve({ port: 0, maxConnections: 2 })
  const socks = []
  try {
    const opened = (s) => new Promise((resolve) => s.once('connect', resolve))
    for (let i = 0; i < 2; i++) {
      const s = net.connect({ host: '127.0.0.1', port: limited.port })
      socks.push(s)
      await opened(s)
    }
    const over = await raw(limited.port, Buffer.alloc(0), 500)
    assert.equal(over.closed, true, 'a third connection is closed')
    socks.pop().destroy()
    await new Promise((r) => setTimeout(r, 100))
    const again = await raw(limited.port, opMsg({ ping: 1, $db: 'admin' }), 500)
    assert.equal(deserialize(again.reply.subarray(21)).ok, 1, 'room again once one closed')
  } finally {
    for (const s of socks) s.destroy()
    await limited.close()
    await argon.close()
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'argon-auth-'))
  const file = path.join(dir, 'users.json')
  fs.writeFileSync(file, JSON.stringify({ users: [{ user: 'ci', ...keysFor('ci-pw') }] }))
  const printed = await startServe({ uri: env.srv.uri, db: database, args: ['--auth-file', file] })
  const { child, exited } = printed
  try {
    const withCreds = `mongodb://ci:ci-pw@127.0.0.1:${printed.port}/${database}?directConnection=true`
    const c = await client(withCreds)
    assert.equal(await c.db().collection('c').countDocuments(), 1)
    const anon = await client(printed.branches.main)
    assert.equal((await anon.db().collection('c').countDocuments().catch((e) => e)).code, 13)
  } finally {
    child.kill('SIGTERM')
    fs.rmSync(dir, { recursive: true, force: true })
  }
  assert.equal(await exited, 0)
  assert.equal(printed.state.stderr, '')
})

test('document sequences in OP_MSG, and idle cursors expiring', async () => {
  const argon = await open()
  const ep = await argon.serve({ port: 0, cursorIdleMs: 300 })
  try {
    // An insert whose documents travel in a kind-1 section (a document sequence).
    const body = serialize({ insert: 'seq', ordered: true, $db: argon.database })
    const docs = [serialize({ _id: 1, a: 'x' }), serialize({ _id: 2, a: 'y' })]
    const ident = Buffer.from('documents\0')
    const seq = Buffer.concat([Buffer.alloc(4), ident, ...docs])
    seq.writeInt32LE(seq.length, 0)
    const msg = Buffer.concat([Buffer.alloc(20), Buffer.from([0]), body, Buffer.from([1]), seq])
    msg.writeInt32LE(msg.length, 0)
    msg.writeInt32LE(9, 4)
    msg.writeInt32LE(wire.OP_MSG, 12)
    const r = deserialize((await raw(ep.port, msg)).reply.subarray(21))
    assert.deepEqual([r.ok, r.n], [1, 2])
    assert.deepEqual(await argon.branch('main').collection('seq').find().sort({ _id: 1 }).toArray(), [{ _id: 1, a: 'x' }, { _id: 2, a: 'y' }])
    // A cursor left idle past cursorIdleMs is closed: getMore is CursorNotFound (43).
    const c = await client(ep.uri)
    await argon.branch('main').collection('many').insertMany(Array.from({ length: 10 }, (_, i) => ({ _id: i })))
    const cur = c.db(argon.database).collection('many').find({}, { batchSize: 2 })
    assert.ok(await cur.next())
    assert.equal(ep.cursors.map.size, 1)
    await new Promise((res) => setTimeout(res, 900))
    assert.equal(ep.cursors.map.size, 0, 'the idle cursor was closed')
    const drained = await cur.toArray().catch((e) => e)
    assert.equal(drained.code, 43)
  } finally {
    await ep.close()
    await argon.close()
  }
})
