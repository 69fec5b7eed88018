'use strict'
/**
 * argondb: Git-like branches, a durable WAL and time travel for MongoDB.
 * Public entry point; see index.d.ts for the typed API.
 */
const { Argon, Branch } = require('./lib/argon')
const { Collection } = require('./lib/collection')
const { FindCursor, AggregationCursor } = require('./lib/cursor')
const { DiffCursor } = require('./lib/timetravel')
const { ArgonError, ArgonServerError, ArgonBulkWriteError, ErrorCodes } = require('./lib/errors')
const { ArgonSession } = require('./lib/session')
const { ArgonChangeStream } = require('./lib/changestream')

module.exports = { Argon, Branch, Collection, FindCursor, AggregationCursor, DiffCursor, ArgonSession, ArgonChangeStream, ArgonError, ArgonServerError, ArgonBulkWriteError, ErrorCodes }
