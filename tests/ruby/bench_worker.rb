# No-op and latency workers for comparisons/sidekiq_clone/bench.py, run by real Sidekiq:
#   REDIS_URL=redis://127.0.0.1:PORT/0 sidekiq -r ./tests/ruby/bench_worker.rb -c 10 -q bench
# The Python clone's bench defines classes with the same names.
require "sidekiq"

# Debian pairs Sidekiq 6.4.1 with the redis gem 4.8, which warns on stderr at every BRPOP
# ("Passing the timeout as a positional argument is deprecated"); that is packaging noise,
# not Sidekiq, so silence it.
Redis.silence_deprecations = true if Redis.respond_to?(:silence_deprecations=)

# BENCH_QUIET=1: no start/done line per job (the clone logs per job only with -v)
Sidekiq.logger.level = Logger::WARN if ENV["BENCH_QUIET"] == "1"

class BenchNoop
  include Sidekiq::Worker

  def perform(*_args)
  end
end

class BenchLatency
  include Sidekiq::Worker

  # Enqueue-to-start latency in ns: wall clock now minus the stamp the bench pushed.
  def perform(pushed_ns)
    started = Process.clock_gettime(Process::CLOCK_REALTIME, :nanosecond)
    Sidekiq.redis { |conn| conn.rpush("bench:lat", (started - pushed_ns).to_s) }
  end
end
