"""Real Sidekiq 6.4.1 (Ruby) as a measured system: the original the Sidekiq clone copies, run
by the harness through adapter.py with the job class of jobs.rb; read README.md."""
