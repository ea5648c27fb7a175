# Push one job with Ruby's own client:  ruby tests/ruby/push.rb CLASS TOKEN [IN_SECONDS]
# (REDIS_URL in the environment). Prints the jid.
require "sidekiq"

klass, token, in_seconds = ARGV
item = {"class" => klass, "args" => [token]}
item["at"] = Time.now.to_f + in_seconds.to_f if in_seconds
puts Sidekiq::Client.push(item)
