# Read the retry, dead and scheduled sets and the process list through Sidekiq's own API and
# print them as JSON:  ruby tests/ruby/read_sets.rb   (REDIS_URL in the environment)
require "json"
require "sidekiq"
require "sidekiq/api"

def rows(set)
  set.map do |entry|
    {jid: entry.jid, klass: entry.klass, args: entry.args, queue: entry.queue,
     retry_count: entry["retry_count"], error_class: entry["error_class"],
     error_message: entry["error_message"], failed_at: entry["failed_at"], at: entry.at.to_f}
  end
end

puts JSON.generate(
  retry: rows(Sidekiq::RetrySet.new),
  dead: rows(Sidekiq::DeadSet.new),
  scheduled: rows(Sidekiq::ScheduledSet.new),
  processes: Sidekiq::ProcessSet.new(false).map { |p| {identity: p.identity, pid: p["pid"], quiet: p["quiet"]} },
  stats: {processed: Sidekiq::Stats.new.processed, failed: Sidekiq::Stats.new.failed}
)
