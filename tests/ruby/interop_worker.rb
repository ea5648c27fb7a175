# The Ruby side of the interop tests (tests/test_sidekiq_interop.py), run by real Sidekiq:
#   REDIS_URL=... sidekiq -r ./tests/ruby/interop_worker.rb -c 2 -q default -t 1
# InteropWorker has the same name as the Python class in tests/sidekiq_jobs.py and reports
# each run on the list test:events, as the Python jobs do.
require "json"
require "sidekiq"

# Debian pairs Sidekiq 6.4.1 with the redis gem 4.8, which warns on stderr at every BRPOP
# ("Passing the timeout as a positional argument is deprecated"); that is packaging noise,
# not Sidekiq, so silence it.
Redis.silence_deprecations = true if Redis.respond_to?(:silence_deprecations=)

Sidekiq.configure_server do |config|
  # poll the schedule and retry sets about every second (the default is 5 s x processes)
  config.options[:poll_interval_average] = 1
end

class InteropWorker
  include Sidekiq::Worker

  def perform(token)
    event = {event: "ran", token: token, jid: jid, runner: "ruby", t: Time.now.to_f,
             pid: Process.pid}
    Sidekiq.redis { |conn| conn.rpush("test:events", JSON.generate(event)) }
  end
end
