-- KEYS: nodes   ARGV: prefix, node, conn, topic, message
-- Publishes a directed message when conn is a connection of the live
-- incarnation of node: 1 when published, 0 when there is no such connection.
local inc = redis.call('HGET', KEYS[1], ARGV[2])
if not inc then return 0 end
if redis.call('GET', ARGV[1] .. 'hb:' .. ARGV[2]) ~= inc then return 0 end
if redis.call('SISMEMBER', ARGV[1] .. 'oc:' .. ARGV[2] .. '@' .. inc, ARGV[3]) == 0 then return 0 end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
