# Resque's side of the wire for tests/test_resque_ruby.py: Ruby's JSON and Time and the redis
# gem, reading and writing the keys as Resque 2.x does (the Resque gem itself is not packaged
# by Debian). REDIS_URL in the environment.
#   ruby tests/ruby/resque_peer.rb push QUEUE CLASS ARGS_JSON  pushes as Resque.push does; prints it
#   ruby tests/ruby/resque_peer.rb read                        prints, as JSON, what Ruby reads back
require "json"
require "redis"
require "time"

redis = Redis.new(url: ENV.fetch("REDIS_URL"))

case ARGV[0]
when "push"
  queue, klass, args = ARGV[1], ARGV[2], JSON.parse(ARGV[3])
  item = JSON.generate({ "class" => klass, "args" => args })
  redis.pipelined do |pipe|
    pipe.sadd("resque:queues", queue)
    pipe.rpush("resque:queue:#{queue}", item)
  end
  print item
when "read"
  queues = redis.smembers("resque:queues").sort
  queued = queues.to_h do |q|
    items = redis.lrange("resque:queue:#{q}", 0, -1).map do |raw|
      job = JSON.parse(raw)
      { "class" => job["class"], "args" => job["args"], "same_bytes" => JSON.generate(job) == raw }
    end
    [q, items]
  end
  failed = redis.lrange("resque:failed", 0, -1).map do |raw|
    rec = JSON.parse(raw)
    { "keys" => rec.keys,
      "failed_at" => Time.strptime(rec["failed_at"], "%Y/%m/%d %H:%M:%S %Z").to_i,
      "exception" => rec["exception"], "error" => rec["error"], "backtrace" => rec["backtrace"],
      "class" => rec["payload"]["class"], "args" => rec["payload"]["args"],
      "worker" => rec["worker"], "queue" => rec["queue"] }
  end
  workers = redis.smembers("resque:workers").map do |id|
    host, pid, worker_queues = id.split(":")
    beat = redis.hget("resque:workers:heartbeat", id)
    { "id" => id, "host" => host, "pid" => pid.to_i, "queues" => worker_queues.split(","),
      "started" => Time.parse(redis.get("resque:worker:#{id}:started")).to_i,
      "heartbeat" => beat && Time.parse(beat).to_i }
  end
  print JSON.generate({ "queues" => queues, "queued" => queued, "failed" => failed,
                        "processed" => redis.get("resque:stat:processed").to_i,
                        "failed_count" => redis.get("resque:stat:failed").to_i,
                        "workers" => workers })
else
  abort "usage: resque_peer.rb push QUEUE CLASS ARGS_JSON | read"
end
