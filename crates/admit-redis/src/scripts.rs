//! The Lua scripts that own the fleet semaphore's state in Redis.
//!
//! Every change to a semaphore's keys happens inside one of these scripts, so each change is
//! atomic and sees the server's clock (`TIME`), never a client's. Each script starts with the
//! same prologue ([`PROLOGUE`]): read the clock, create or check the metadata, purge expired
//! holders and tickets, and grant the head of the queue whatever the purge freed. Any script
//! run therefore repairs the state left by dead processes; no separate janitor is needed.
//!
//! The keys of a semaphore named `N` (all in one Redis Cluster slot, thanks to the `{N}` tag):
//!
//! | key                   | type | content                                                      |
//! |-----------------------|------|--------------------------------------------------------------|
//! | `admit:{N}:meta`      | hash | `capacity`, `used`, `seq`, `fence`, `epoch`, `grace`          |
//! | `admit:{N}:queue`     | zset | waiting ticket id → arrival number (the FIFO order)           |
//! | `admit:{N}:waits`     | zset | waiting ticket id → expiry (server ms)                        |
//! | `admit:{N}:holders`   | zset | holder id → lease expiry (server ms)                          |
//! | `admit:{N}:weights`   | hash | ticket or holder id → permits asked for / held               |
//! | `admit:{N}:fences`    | hash | holder id → fencing token                                     |
//!
//! Grants are published on the channel `admit:{N}:wake` as `g <id> <fence> <id> <fence> …`.

/// Arguments common to every script: `ARGV[1]` capacity, `ARGV[2]` the epoch the client knows
/// (empty before its first reply), `ARGV[3]` a fresh epoch to use if the state must be
/// created, `ARGV[4]` the lease and ticket TTL in ms, `ARGV[5]` the wake-up channel. Keys as
/// in the module docs, in that order.
const PROLOGUE: &str = r#"
local meta, queue, waits, holders, weights, fences =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local capacity = tonumber(ARGV[1])
local known_epoch = ARGV[2]
local ttl = tonumber(ARGV[4])
local channel = ARGV[5]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local now_us = tonumber(clock[1]) * 1000000 + tonumber(clock[2])

local stored = redis.call('HGET', meta, 'capacity')
if not stored then
  -- No state. If this client knew an epoch, the state was lost (a restart without
  -- persistence, a failover, a flush): holders it never heard of may still be running, so
  -- nothing is granted for one TTL, after which every such lease has expired on its own.
  local grace = 0
  if known_epoch ~= '' then grace = now + ttl end
  redis.call('HSET', meta, 'capacity', capacity, 'used', 0, 'seq', 0,
    'fence', string.format('%.0f', now_us), 'epoch', ARGV[3], 'grace', grace)
elseif tonumber(stored) ~= capacity then
  return {'mismatch', stored}
end
local epoch = redis.call('HGET', meta, 'epoch')
local used = tonumber(redis.call('HGET', meta, 'used'))
local grace = tonumber(redis.call('HGET', meta, 'grace'))
local granted = {}

local function purge()
  local dead = redis.call('ZRANGEBYSCORE', holders, '-inf', now)
  for _, id in ipairs(dead) do
    used = used - tonumber(redis.call('HGET', weights, id) or '0')
    redis.call('HDEL', weights, id)
    redis.call('HDEL', fences, id)
  end
  if #dead > 0 then redis.call('ZREMRANGEBYSCORE', holders, '-inf', now) end
  local gone = redis.call('ZRANGEBYSCORE', waits, '-inf', now)
  for _, id in ipairs(gone) do
    redis.call('ZREM', queue, id)
    redis.call('HDEL', weights, id)
  end
  if #gone > 0 then redis.call('ZREMRANGEBYSCORE', waits, '-inf', now) end
end

-- Grants `n` permits to `id` with a lease until `expiry`; returns the fencing token, which
-- is above every earlier one and, across a loss of state, above the server's clock in us.
local function grant(id, n, expiry)
  local fence = math.max(tonumber(redis.call('HGET', meta, 'fence')) + 1, now_us)
  local token = string.format('%.0f', fence)
  redis.call('HSET', meta, 'fence', token)
  redis.call('ZADD', holders, expiry, id)
  redis.call('HSET', weights, id, n)
  redis.call('HSET', fences, id, token)
  used = used + n
  return token
end

-- Grants the queue's head, then the next, while they fit: strict FIFO, so a large head is
-- never overtaken by smaller requests behind it. A queued waiter's lease runs on from its
-- ticket's expiry, which its process keeps refreshing.
local function grant_heads()
  if now < grace then return end
  while true do
    local head = redis.call('ZRANGE', queue, 0, 0)[1]
    if not head then return end
    local n = tonumber(redis.call('HGET', weights, head))
    if used + n > capacity then return end
    local expiry = tonumber(redis.call('ZSCORE', waits, head)) or (now + ttl)
    redis.call('ZREM', queue, head)
    redis.call('ZREM', waits, head)
    local token = grant(head, n, expiry)
    table.insert(granted, head)
    table.insert(granted, token)
  end
end

local function finish()
  redis.call('HSET', meta, 'used', used)
  if #granted > 0 then
    redis.call('PUBLISH', channel, 'g ' .. table.concat(granted, ' '))
  end
end

purge()
grant_heads()
"#;

/// `ARGV[6]` ticket id, `ARGV[7]` permits, `ARGV[8]` `wait` or `try`. Grants at once if
/// nobody waits and the permits fit; else queues the ticket (`wait`) or refuses (`try`).
/// Replies `{granted, epoch, fence}`, `{queued, epoch}` or `{busy, epoch}`.
const ACQUIRE: &str = r#"
local id, n, mode = ARGV[6], tonumber(ARGV[7]), ARGV[8]
if redis.call('ZCARD', queue) == 0 and used + n <= capacity and now >= grace then
  local token = grant(id, n, now + ttl)
  finish()
  return {'granted', epoch, token}
end
if mode == 'try' then
  finish()
  return {'busy', epoch}
end
local seq = redis.call('HINCRBY', meta, 'seq', 1)
redis.call('ZADD', queue, seq, id)
redis.call('ZADD', waits, now + ttl, id)
redis.call('HSET', weights, id, n)
finish()
return {'queued', epoch}
"#;

/// `ARGV[6..]` ids: releases each holder and removes each waiting ticket among them (ids not
/// found, already expired or from before a loss of state, change nothing), then grants the
/// queue's head. Replies `{ok, epoch}`.
const RELEASE: &str = r#"
for i = 6, #ARGV do
  local id = ARGV[i]
  if redis.call('ZREM', holders, id) == 1 then
    used = used - tonumber(redis.call('HGET', weights, id) or '0')
    redis.call('HDEL', fences, id)
    redis.call('HDEL', weights, id)
  elseif redis.call('ZREM', queue, id) == 1 then
    redis.call('ZREM', waits, id)
    redis.call('HDEL', weights, id)
  end
end
grant_heads()
finish()
return {'ok', epoch}
"#;

/// `ARGV[6..]` ids: extends each live lease and ticket by the TTL. Replies
/// `{ok, epoch, s1, s2, …}` with per id `h:<fence>` (held, possibly just granted), `w`
/// (still waiting) or `x` (gone: expired or lost).
const REFRESH: &str = r#"
local reply = {'ok', epoch}
for i = 6, #ARGV do
  local id = ARGV[i]
  if redis.call('ZSCORE', holders, id) then
    redis.call('ZADD', holders, now + ttl, id)
    table.insert(reply, 'h:' .. redis.call('HGET', fences, id))
  elseif redis.call('ZSCORE', waits, id) then
    redis.call('ZADD', waits, now + ttl, id)
    table.insert(reply, 'w')
  else
    table.insert(reply, 'x')
  end
end
finish()
return reply
"#;

/// No extra arguments. Replies `{ok, epoch, available, waiting}`.
const STATUS: &str = r#"
finish()
return {'ok', epoch, tostring(capacity - used), tostring(redis.call('ZCARD', queue))}
"#;

/// The semaphore's scripts, each loaded once per process (EVALSHA, falling back to EVAL
/// when the server does not know the script, e.g. after a restart).
pub(crate) struct Scripts {
    pub(crate) acquire: redis::Script,
    pub(crate) release: redis::Script,
    pub(crate) refresh: redis::Script,
    pub(crate) status: redis::Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        let with_prologue = |body: &str| redis::Script::new(&format!("{PROLOGUE}{body}"));
        Self {
            acquire: with_prologue(ACQUIRE),
            release: with_prologue(RELEASE),
            refresh: with_prologue(REFRESH),
            status: with_prologue(STATUS),
        }
    }
}

/// The GCRA rate limiter's script, the arithmetic of `admit::rate::Gcra` on the server's
/// clock, with reservations: a request that does not conform yet but would within `max_wait`
/// is *scheduled*: the TAT moves on as if it were granted at its instant, and the reply says
/// how long to wait. The caller sleeps that long and needs no second round trip, and the
/// limiter charges from the scheduled instant, not from a late wake-up, so the long-run rate is
/// exact.
///
/// Instants are nanoseconds since `origin` (server µs, rebased once the offset passes a day so
/// that every value stays an exact integer in a Lua double); the TAT is the pair
/// `tat_ns + tat_frac / count`, exactly `Gcra`'s scaled `tat / count`.
///
/// `KEYS[1]` the limiter's hash. `ARGV`: count, period_ns, burst, n, max_wait_ns, and for a
/// refund (a cancelled reservation) `refund` plus the reservation's `tat_ns, tat_frac, origin`. Replies
/// `{ok, wait_ns, tat_ns, tat_frac, origin}` (granted now or scheduled `wait_ns` from now; the
/// rest identifies the reservation for a refund),
/// `{wait, until_ns_from_now}` (not within `max_wait`: nothing taken), `{mismatch, stored}`.
pub(crate) const GCRA: &str = r#"
local key = KEYS[1]
local count, period, burst = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local n, max_wait = tonumber(ARGV[4]), tonumber(ARGV[5])
local clock = redis.call('TIME')
local now_us = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local config = count .. '/' .. period .. '/' .. burst
local state = redis.call('HMGET', key, 'config', 'origin', 'tat', 'frac')
local origin, tat, frac
if not state[1] then
  origin, tat, frac = now_us, 0, 0
elseif state[1] ~= config then
  return {'mismatch', state[1]}
else
  origin, tat, frac = tonumber(state[2]), tonumber(state[3]), tonumber(state[4])
end
local day_us = 86400 * 1000000
if now_us - origin > day_us then
  local shift = math.floor((now_us - origin) / day_us) * day_us
  origin = origin + shift
  tat = math.max(tat - shift * 1000, 0)
  if tat == 0 then frac = 0 end
end
local now = (now_us - origin) * 1000

if ARGV[6] == 'refund' then
  -- Undo the latest reservation if nothing was taken after it.
  local was_tat, was_frac = tonumber(ARGV[7]), tonumber(ARGV[8])
  was_tat = was_tat + (tonumber(ARGV[9]) - origin) * 1000
  if was_tat == tat and was_frac == frac then
    local cost = n * period
    local back_ns, back_frac = math.floor(cost / count), cost % count
    tat, frac = tat - back_ns, frac - back_frac
    if frac < 0 then frac, tat = frac + count, tat - 1 end
    redis.call('HSET', key, 'tat', string.format('%.0f', tat), 'frac', string.format('%.0f', frac))
  end
  return {'ok', '0', '0', '0', '0'}
end

-- base = tat, unless tat is more than one nanosecond behind now (Gcra's rule:
-- tat * count + frac + count - 1 >= now * count).
local base_ns, base_frac = tat, frac
local behind = now - tat
if behind > 1 or (behind == 1 and frac == 0) then
  base_ns, base_frac = now, 0
end
local cost = n * period
local new_ns = base_ns + math.floor(cost / count)
local new_frac = base_frac + cost % count
if new_frac >= count then new_ns, new_frac = new_ns + 1, new_frac - count end
-- Conforming at `t` means new_tat <= t + burst * T; the first such t (rounded up to ns).
local tol = burst * period
local tol_ns, tol_frac = math.floor(tol / count), tol % count
local until_ns, until_frac = new_ns - tol_ns, new_frac - tol_frac
if until_frac < 0 then until_ns, until_frac = until_ns - 1, until_frac + count end
if until_frac > 0 then until_ns = until_ns + 1 end
local wait = math.max(until_ns - now, 0)
if wait > max_wait then
  return {'wait', string.format('%.0f', wait)}
end
local ttl_ms = math.floor((new_ns - now) / 1000000) + 1000
redis.call('HSET', key, 'config', config, 'origin', string.format('%.0f', origin),
  'tat', string.format('%.0f', new_ns), 'frac', string.format('%.0f', new_frac))
redis.call('PEXPIRE', key, ttl_ms)
return {'ok', string.format('%.0f', wait), string.format('%.0f', new_ns),
  string.format('%.0f', new_frac), string.format('%.0f', origin)}
"#;
