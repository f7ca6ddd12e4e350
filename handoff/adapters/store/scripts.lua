-- The RedisStore's atomic writes. handoff/store/redis.py splits this file at the
-- "-- @script <name>" lines and registers each script as the prelude followed by its body.
--
-- Every script gets ARGV[1] = the key prefix and ARGV[2] = the conversation (or agent) id.
-- KEYS holds the conversation/agent hash; the index keys are derived from the prefix
-- (single Redis or Sentinel; for Redis Cluster put a hash tag in the prefix, e.g. "{handoff}:").
--
-- Changes travel as: n, field1, value1, ..., fieldn, valuen, m, deleted1, ..., deletedm.
-- Indexes kept in step with every write (see write()):
--   <P>queue                zset of conversations in state queued, score rank (else queued_at)
--   <P>left                 zset of queued conversations whose customer left, score customer_left_at
--   <P>agent-convs:<agent>  zset of conversations assigned to the agent, score assigned_at (load = ZCARD)
--   <P>unanswered           zset of assigned, not yet answered conversations, score assigned_at
-- and each record's time to live follows its state (<P>ttl; queued and assigned records never expire, so an
-- expired key is in no index).

-- @prelude
local P = ARGV[1]
local INDEXED = {'state', 'agent_id', 'rank', 'queued_at', 'assigned_at', 'answered', 'customer_left_at'}

local function snapshot(key)
  local values = redis.call('HMGET', key, unpack(INDEXED))
  local record = {}
  for i, name in ipairs(INDEXED) do record[name] = values[i] end
  return record
end

local function unindex(id, r)
  if r.state == 'queued' then
    redis.call('ZREM', P .. 'queue', id)
    redis.call('ZREM', P .. 'left', id)
  end
  if r.state == 'assigned' and r.agent_id then redis.call('ZREM', P .. 'agent-convs:' .. r.agent_id, id) end
  redis.call('ZREM', P .. 'unanswered', id)
end

local function index(id, r)
  if r.state == 'queued' then
    redis.call('ZADD', P .. 'queue', r.rank, id)
    if r.customer_left_at then redis.call('ZADD', P .. 'left', r.customer_left_at, id) end
  end
  if r.state == 'assigned' and r.agent_id then
    redis.call('ZADD', P .. 'agent-convs:' .. r.agent_id, r.assigned_at or '0', id)
    if r.answered ~= '1' then redis.call('ZADD', P .. 'unanswered', r.assigned_at or '0', id) end
  end
end

local function read_changes(i)
  local sets, deletes = {}, {}
  local n = tonumber(ARGV[i])
  for j = 1, 2 * n do sets[j] = ARGV[i + j] end
  i = i + 2 * n + 1
  local m = tonumber(ARGV[i])
  for j = 1, m do deletes[j] = ARGV[i + j] end
  return sets, deletes
end

-- Whether the hash will hold `field` once `sets` and `deletes` are applied.
local function will_have(key, field, sets, deletes)
  for j = 1, #sets, 2 do if sets[j] == field then return true end end
  for _, name in ipairs(deletes) do if name == field then return false end end
  return redis.call('HEXISTS', key, field) == 1
end

-- The record's time to live by its state (<P>ttl: state -> milliseconds), or none.
local function expire(key, state)
  local ttl = redis.call('HGET', P .. 'ttl', state)
  if ttl then redis.call('PEXPIRE', key, ttl) else redis.call('PERSIST', key) end
end

-- Every write of a conversation goes through here: the indexes follow it, and its version goes up by one.
-- A queued record always has a rank (its queued_at when the caller gave none), so the queue's order is the
-- records' own.
local function write(key, id, sets, deletes)
  unindex(id, snapshot(key))
  if #sets > 0 then redis.call('HSET', key, unpack(sets)) end
  if #deletes > 0 then redis.call('HDEL', key, unpack(deletes)) end
  redis.call('HINCRBY', key, 'version', 1)
  local r = snapshot(key)
  if r.state == 'queued' and not r.rank then
    r.rank = r.queued_at or '0'
    redis.call('HSET', key, 'rank', r.rank)
  end
  index(id, r)
  expire(key, r.state)
end

local function server_time()
  local t = redis.call('TIME')
  return t[1] .. '.' .. string.rep('0', 6 - #t[2]) .. t[2]
end

-- @script create
-- KEYS[1] conversation hash; ARGV: prefix, id, changes. Returns 0 if the id exists.
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local sets, deletes = read_changes(3)
write(KEYS[1], ARGV[2], sets, deletes)
return 1

-- @script update
-- KEYS[1] conversation hash; ARGV: prefix, id, k, expected state 1..k, changes.
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'missing'} end
local k = tonumber(ARGV[3])
local allowed = false
for j = 1, k do if ARGV[3 + j] == state then allowed = true end end
if not allowed then return {'conflict', state} end
local sets, deletes = read_changes(4 + k)
write(KEYS[1], ARGV[2], sets, deletes)
return {'ok', redis.call('HGETALL', KEYS[1])}

-- @script touch
-- KEYS[1] conversation hash; ARGV: prefix, id. Restarts the record's time to live.
local state = redis.call('HGET', KEYS[1], 'state')
if state then expire(KEYS[1], state) end
return 1

-- @script delete
-- KEYS[1] conversation hash; ARGV: prefix, id. Returns the record it was (empty if none), now gone with its indexes.
local was = redis.call('HGETALL', KEYS[1])
if #was == 0 then return was end
unindex(ARGV[2], snapshot(KEYS[1]))
redis.call('DEL', KEYS[1])
return was

-- @script enqueue
-- KEYS[1] conversation hash; ARGV: prefix, id, changes (state=queued included).
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'missing'} end
if state ~= 'bot' then return {'conflict', state} end  -- one escalation wins; see Customers.escalate
local sets, deletes = read_changes(3)
if not will_have(KEYS[1], 'queued_at', sets, deletes) then
  table.insert(sets, 'queued_at')
  table.insert(sets, server_time())
end
write(KEYS[1], ARGV[2], sets, deletes)
return {'ok', redis.call('HGETALL', KEYS[1])}

-- @script assign
-- KEYS[1] conversation hash, KEYS[2] agent hash; ARGV: prefix, conversation id, agent id, now.
-- Idempotent: the same call again (same agent, same now) returns 1, so a retried call cannot lie.
local current = redis.call('HMGET', KEYS[1], 'state', 'agent_id', 'assigned_at')
if current[1] == 'assigned' and current[2] == ARGV[3] and tonumber(current[3]) == tonumber(ARGV[4]) then
  return 1
end
if current[1] ~= 'queued' then return 0 end
local agent = redis.call('HMGET', KEYS[2], 'presence', 'capacity')
if agent[1] ~= 'online' then return 0 end
if redis.call('ZCARD', P .. 'agent-convs:' .. ARGV[3]) >= tonumber(agent[2] or '0') then return 0 end
write(KEYS[1], ARGV[2], {'state', 'assigned', 'agent_id', ARGV[3], 'assigned_at', ARGV[4], 'answered', '0'}, {})
return 1

-- @script release
-- KEYS[1] conversation hash, KEYS[2] agent hash; ARGV: prefix, conversation id, agent id, now, changes.
local current = redis.call('HMGET', KEYS[1], 'state', 'agent_id')
if current[1] ~= 'assigned' or current[2] ~= ARGV[3] then return false end
local sets, deletes = read_changes(5)
local requeue = false
for j = 1, #sets, 2 do if sets[j] == 'state' and sets[j + 1] == 'queued' then requeue = true end end
if requeue and not will_have(KEYS[1], 'queued_at', sets, deletes) then
  table.insert(sets, 'queued_at')
  table.insert(sets, ARGV[4])
end
write(KEYS[1], ARGV[2], sets, deletes)
if redis.call('ZCARD', P .. 'agent-convs:' .. ARGV[3]) == 0 and redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HSET', KEYS[2], 'idle_since', ARGV[4])
end
return redis.call('HGETALL', KEYS[1])

-- @script answered
-- KEYS[1] conversation hash; ARGV: prefix, conversation id, agent id.
local current = redis.call('HMGET', KEYS[1], 'state', 'agent_id')
if current[1] ~= 'assigned' or current[2] ~= ARGV[3] then return 0 end
write(KEYS[1], ARGV[2], {'answered', '1'}, {})
return 1

-- @script presence
-- KEYS[1] agent hash; ARGV: prefix, agent id, presence, now, defaults for an unknown agent (n pairs).
local was = redis.call('HGET', KEYS[1], 'presence')
local n = tonumber(ARGV[5])
for j = 1, n do redis.call('HSETNX', KEYS[1], ARGV[4 + 2 * j], ARGV[5 + 2 * j]) end
redis.call('SADD', P .. 'agents', ARGV[2])
redis.call('HSET', KEYS[1], 'presence', ARGV[3])
if ARGV[3] == 'online' and was ~= 'online' and redis.call('ZCARD', P .. 'agent-convs:' .. ARGV[2]) == 0 then
  redis.call('HSET', KEYS[1], 'idle_since', ARGV[4])
end
return 1

-- @script queued
-- KEYS[1] the queue zset; ARGV: prefix, offset, count (-1: all), the lowest rank ('-inf': from the start).
-- The records of a page of the queue, in order. An id whose record is not queued (only a key an earlier
-- version left could be) is dropped from the index on the way.
local ids = redis.call('ZRANGE', KEYS[1], ARGV[4], '+inf', 'BYSCORE', 'LIMIT', ARGV[2], ARGV[3])
local rows = {}
for _, id in ipairs(ids) do
  local key = P .. 'conv:' .. id
  if redis.call('HGET', key, 'state') == 'queued' then
    rows[#rows + 1] = redis.call('HGETALL', key)
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return rows

-- @script end_sessions
-- KEYS[1] the owner's set of session keys (<P>sessions-of:<owner>); ARGV: prefix.
-- Deletes every session filed under the owner, and the set; returns how many were still there.
local ended = 0
for _, session in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  ended = ended + redis.call('DEL', session)
end
redis.call('DEL', KEYS[1])
return ended

-- @script failure
-- KEYS[1] the failure hash (<P>failures:<key>: n, last); ARGV: prefix, now, forget_after (seconds).
-- One more failure in a row; the count starts again when the last was more than forget_after before.
local now, forget = tonumber(ARGV[2]), tonumber(ARGV[3])
local last = tonumber(redis.call('HGET', KEYS[1], 'last') or '')
local n = 1
if last and now - last <= forget then n = tonumber(redis.call('HGET', KEYS[1], 'n')) + 1 end
redis.call('HSET', KEYS[1], 'n', n, 'last', ARGV[2])
redis.call('PEXPIRE', KEYS[1], math.ceil(forget * 1000))
return n

-- @script lease
-- KEYS[1] the lease (<P>lease:<name>: its holder); ARGV: prefix, holder, ttl (milliseconds).
-- Take the lease if it is free, renew it if the holder has it already; 1 if the holder has it now, else 0.
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[2] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
