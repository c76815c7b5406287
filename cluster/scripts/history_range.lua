-- KEYS: hm, h
-- ARGV: epoch, from offset, to offset
-- The publications from..to of a channel still at epoch, in one step:
-- {epoch, offset1, flag1, payload1, ...}; just {its epoch, or ''} when the
-- channel is at another epoch (or none), whose stream is not epoch's.
local epoch = redis.call('HGET', KEYS[1], 'e')
if epoch ~= ARGV[1] then return {epoch or ''} end
local out = {epoch}
for _, e in ipairs(redis.call('XRANGE', KEYS[2], ARGV[2] .. '-0', ARGV[3] .. '-0')) do
  out[#out + 1] = pub_offset(e)
  out[#out + 1] = e[2][2]
  out[#out + 1] = e[2][6]
end
return out
