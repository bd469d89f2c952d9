import { createHash } from 'node:crypto'

/**
 * The Lua scripts of `redisReplayStore`. Each runs atomically inside Redis, so `seq` is assigned,
 * the buffer trimmed, the TTL refreshed and the event published in one step: two nodes can never
 * get the same `seq`, and every subscriber of the channel hears one workflow's events in `seq`
 * order, whichever node recorded them.
 *
 * Keys per workflow (a hash tag keeps both in one Redis Cluster slot):
 * - `<prefix>{<workflowId>}:meta`: hash `{ epoch, seq }`, the life of the buffer and its last `seq`;
 * - `<prefix>{<workflowId>}:events`: list of the last `maxEvents` events as JSON, oldest first.
 * The list holds contiguous `seq`s ending at `meta.seq`, so no `seq` index is needed.
 * Where `meta` is missing (first write, expiry, FLUSHALL, a restart without persistence), a new
 * epoch starts from the candidate that the caller sent, and any orphaned list is dropped.
 */

export interface RedisScript {
  source: string
  sha: string
}

function script(source: string): RedisScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') }
}

/**
 * Lua shared by both scripts (KEYS meta and events, ARGV[1] the candidate epoch): the workflow's
 * current epoch, starting a new one, without any orphaned list, where `meta` is missing.
 */
const CURRENT_EPOCH = `
local epoch = redis.call('HGET', meta, 'epoch')
local started = false
if not epoch then
  epoch = ARGV[1]
  started = true
  redis.call('DEL', events)
  redis.call('HSET', meta, 'epoch', epoch, 'seq', 0)
end`

/**
 * KEYS: meta, events. ARGV: candidate epoch, ttl ms, maxEvents, event JSON without its closing
 * brace, id as a JSON string, channel ('' for none), origin.
 * Returns { seq, epoch }.
 */
export const APPEND = script(`
local meta, events = KEYS[1], KEYS[2]
local ttl, maxEvents = tonumber(ARGV[2]), tonumber(ARGV[3])
${CURRENT_EPOCH}
local seq = redis.call('HINCRBY', meta, 'seq', 1)
local stored = ARGV[4] .. ',"seq":' .. seq .. ',"id":' .. ARGV[5] .. '}'
if maxEvents > 0 then
  redis.call('RPUSH', events, stored)
  redis.call('LTRIM', events, -maxEvents, -1)
  redis.call('PEXPIRE', events, ttl)
end
redis.call('PEXPIRE', meta, ttl)
if ARGV[6] ~= '' then
  redis.call('PUBLISH', ARGV[6], ARGV[7] .. '\\n' .. epoch .. '\\n' .. stored)
end
return { seq, epoch }
`)

/**
 * KEYS: meta, events. ARGV: candidate epoch, ttl ms, afterSeq, limit.
 * Returns { lastSeq, epoch, firstHeldSeq, events }. A read of an unknown workflow fixes its epoch
 * (with the TTL), so that a client subscribing before the first event keeps a valid epoch.
 */
export const READ = script(`
local meta, events = KEYS[1], KEYS[2]
local afterSeq, limit = tonumber(ARGV[3]), tonumber(ARGV[4])
${CURRENT_EPOCH}
if started then redis.call('PEXPIRE', meta, tonumber(ARGV[2])) end
local lastSeq = tonumber(redis.call('HGET', meta, 'seq'))
local held = redis.call('LLEN', events)
local firstHeld = lastSeq - held + 1
local start = afterSeq + 1 - firstHeld
if start < 0 then start = 0 end
local out = {}
if limit > 0 and start < held then
  out = redis.call('LRANGE', events, start, start + limit - 1)
end
return { lastSeq, epoch, firstHeld, out }
`)
