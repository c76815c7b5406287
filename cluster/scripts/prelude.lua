-- Shared by every script (prepended when the scripts are built).
-- fenced: the caller's incarnation is not the live one, so it must not write.
local function fenced(hb, inc)
  return redis.call('GET', hb) ~= inc
end
-- split_entry returns pos, user key and meta of "<pos>\0<user>\0<meta>".
local function split_entry(e)
  local i = string.find(e, '\0', 1, true)
  local j = string.find(e, '\0', i + 1, true)
  return string.sub(e, 1, i - 1), string.sub(e, i + 1, j - 1), string.sub(e, j + 1)
end
-- drop_user decrements the user's connection count in pu.
local function drop_user(pu, user)
  if redis.call('HINCRBY', pu, user, -1) <= 0 then
    redis.call('HDEL', pu, user)
  end
end
-- now_ms is Redis' clock in milliseconds, as a decimal string.
local function now_ms()
  local t = redis.call('TIME')
  return t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000))
end
-- A stream entry of a channel's history is {"<offset>-0", {'b', flag,
-- 't', ms, 'd', payload}}. pub_offset returns its offset.
local function pub_offset(e)
  return tonumber(string.sub(e[1], 1, -3))
end
-- new_epoch gives the history meta hm the epoch e, deleting what is left
-- of stream h (its offsets were another epoch's).
local function new_epoch(hm, h, e)
  redis.call('DEL', h)
  redis.call('HSET', hm, 'e', e)
  return e
end
