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
