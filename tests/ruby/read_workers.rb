# List the running jobs of every process through Sidekiq's own API (Sidekiq::Workers, what the
# Busy page shows) and print them as JSON:  ruby tests/ruby/read_workers.rb  (REDIS_URL set)
require "json"
require "sidekiq"
require "sidekiq/api"

workers = Sidekiq::Workers.new
puts JSON.generate(
  size: workers.size,
  jobs: workers.map { |process, tid, work|
    {process: process, tid: tid, queue: work["queue"], run_at: work["run_at"],
     jid: work["payload"]["jid"], klass: work["payload"]["class"]}
  }
)
