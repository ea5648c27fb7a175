# The job class real Sidekiq 6.4.1 runs for the harness (comparisons/sidekiq_ruby/adapter.py):
#
#   QUEUEBENCH_RUN_DIR=DIR REDIS_URL=redis://127.0.0.1:PORT/0 \
#     sidekiq -r ./comparisons/sidekiq_ruby/jobs.rb -q high -q default -q low -c 10 -t 25
#
# QueuebenchWorker#perform(job_id, planned_ns, workload, args) is the Ruby twin of the clone's
# QueuebenchWorker (comparisons/sidekiq_clone/jobs.py): it runs one attempt of a workload and
# writes the record core/probe.py defines, one JSON line per attempt appended to
# <run_dir>/records/<pid>.jsonl with a single write(2) on an O_APPEND descriptor, so a record
# written survives a SIGKILL of the worker. The workloads are Python (workloads/); the ones the
# scenarios drive without pygments are written again here with the same semantics: noop, sleep
# and flaky (its attempt counts in the same SQLite file, so the harness's verify() reads them).
#
# Settings the adapter passes in the environment:
#   QUEUEBENCH_RUN_DIR        the run directory (core.probe.ENV_RUN_DIR), as for Python workers
#   QUEUEBENCH_POLL_INTERVAL  average seconds between scheduled-set polls (Sidekiq's default is
#                             5 s x processes, after an initial wait of 10-15 s)
#   QUEUEBENCH_JOB_LOG        "stock": Sidekiq's start/done line per job; "quiet": none
require "digest"
require "fileutils"
require "json"
require "sidekiq"
require "sidekiq/job_logger"
require "sqlite3"

# Debian pairs Sidekiq 6.4.1 with the redis gem 4.8, which warns on stderr at every BRPOP
# ("Passing the timeout as a positional argument is deprecated"); that is packaging noise,
# not Sidekiq, so silence it.
Redis.silence_deprecations = true if Redis.respond_to?(:silence_deprecations=)

module Queuebench
  SYSTEM = "sidekiq_ruby"
  RUN_DIR_ENV = "QUEUEBENCH_RUN_DIR"
  ERROR_CHARS = 300 # core/probe.py keeps the first 300 characters of an error

  class WorkloadError < StandardError; end

  # A workload that exists only in Python (the adapter refuses it before a job is pushed).
  class NotSupported < StandardError; end

  # The failure the flaky workload raises on purpose (workloads/flaky.py's FlakyFailure).
  class FlakyFailure < WorkloadError; end

  def self.run_dir
    dir = ENV[RUN_DIR_ENV].to_s
    raise "#{RUN_DIR_ENV} is not set: the worker does not know its run directory" if dir.empty?
    dir
  end

  # core/probe.py in Ruby: stamp the start, run the attempt, stamp the end, append one line.
  module Probe
    @lock = Mutex.new
    @file = nil
    @opened_for = nil # [run_dir, pid] the file was opened for

    def self.now_ns
      Process.clock_gettime(Process::CLOCK_REALTIME, :nanosecond)
    end

    # The append-only record file of this process, opened on first use (again when the run
    # directory changes); shared by the processor threads, each record one write(2).
    def self.file
      key = [Queuebench.run_dir, Process.pid]
      @lock.synchronize do
        return @file if @file && @opened_for == key
        @file&.close
        dir = File.join(key[0], "records")
        FileUtils.mkdir_p(dir)
        @file = File.open(File.join(dir, "#{key[1]}.jsonl"),
                          File::WRONLY | File::CREAT | File::APPEND, 0o644)
        @opened_for = key
        @file
      end
    end

    # Python's type(exc).__name__: the class name without its modules.
    def self.short_name(klass)
      klass.name.to_s.split("::").last || klass.to_s
    end

    # Run one attempt (the block) and record it; re-raise the job's exception so Sidekiq's
    # own retry handling sees the failure.
    def self.run(job_id, planned_ns, attempt)
      start = now_ns
      outcome = "ok"
      error = nil
      begin
        yield
      rescue Exception => e # as the probe's BaseException: a Sidekiq::Shutdown ends an attempt too
        outcome = "error"
        error = "#{short_name(e.class)}: #{e.message}"[0, ERROR_CHARS]
        raise
      ensure
        finish = now_ns
        record = {"system" => SYSTEM, "job" => job_id, "attempt" => attempt,
                  "planned" => planned_ns, "start" => start, "end" => finish,
                  "outcome" => outcome, "error" => error, "pid" => Process.pid}
        file.syswrite(JSON.generate(record, ascii_only: true) + "\n")
      end
    end
  end

  # The workloads the harness's scenarios use without pygments, as workloads/*.py define them.
  module Workloads
    # each workload's options and their defaults (the `defaults` of its Python class)
    DEFAULTS = {
      "noop" => {},
      "sleep" => {"ms" => 50},
      "flaky" => {"fail_first" => 2, "p" => nil, "seed" => 1}
    }.freeze

    @lock = Mutex.new
    @options = {}

    # Python's repr of a value, where a message or a seed string spells one as Python would.
    def self.py_str(value)
      case value
      when nil then "None"
      when true then "True"
      when false then "False"
      when Array then "[" + value.map { |v| v.is_a?(String) ? "'#{v}'" : py_str(v) }.join(", ") + "]"
      else value.to_s
      end
    end

    # The options the harness saved for this run (workloads.registry.prepare), read once per
    # run directory and checked as Workload.__init__ checks them.
    def self.options(name)
      run_dir = Queuebench.run_dir
      @lock.synchronize { @options[[run_dir, name]] ||= load_options(run_dir, name) }
    end

    def self.load_options(run_dir, name)
      path = File.join(run_dir, "workloads", "#{name}.json")
      given = File.exist?(path) ? JSON.parse(File.read(path)) : {}
      raise WorkloadError, "#{path} must hold a JSON object, not #{given.inspect}" unless given.is_a?(Hash)
      defaults = DEFAULTS.fetch(name)
      unknown = given.keys - defaults.keys
      unless unknown.empty?
        known = defaults.empty? ? "none" : py_str(defaults.keys.sort)
        raise WorkloadError, "workload '#{name}' has no option(s) #{py_str(unknown.sort)}; " \
                             "its options are #{known}"
      end
      defaults.merge(given)
    end

    def self.perform(name, args)
      unless DEFAULTS.key?(name)
        raise NotSupported, "workload #{name.inspect} is Python only: sidekiq_ruby's Ruby job " \
                            "runs #{DEFAULTS.keys.sort.join(", ")}"
      end
      raise WorkloadError, "a job's workload args must be a list, got #{args.inspect}" unless args.is_a?(Array)
      options = options(name)
      case name
      when "noop" then noop(*args)
      when "sleep" then sleep_ms(*args)
      when "flaky" then Flaky.perform(options, *args)
      end
    end

    # noop: nothing, so what is measured is the queue itself.
    def self.noop
    end

    # sleep: wait `ms` milliseconds without using the CPU (the job's argument, as in sleep.py).
    def self.sleep_ms(ms)
      unless (ms.is_a?(Integer) || ms.is_a?(Float)) && ms >= 0
        raise WorkloadError, "sleep needs a non-negative number of milliseconds, got #{ms.inspect}"
      end
      Kernel.sleep(ms / 1000.0)
    end

    # flaky: fail the first `fail_first` attempts of each key, or each attempt with probability
    # p drawn from Python's random.Random("seed:key:attempt"). Attempts are counted per key in
    # the run directory's flaky.sqlite3, the table workloads/flaky.py keeps, so they survive
    # across processes and retries and the harness's verify() sees the successes.
    module Flaky
      FILENAME = "flaky.sqlite3"
      BUSY_TIMEOUT_S = 30.0 # as workloads/store.connect: wait for a lock instead of failing
      BUSY_PAUSE_S = 0.002

      # One connection per thread (and run directory), as the Python workload keeps one per thread.
      def self.db
        path = File.join(Queuebench.run_dir, FILENAME)
        connections = (Thread.current[:queuebench_flaky] ||= {})
        connections[path] ||= begin
          db = SQLite3::Database.new(path)
          # Not busy_timeout: sqlite3-ruby 1.4 waits for it in C holding the GVL, so one thread
          # waiting on another's lock stops every thread, the lock holder and Sidekiq's
          # heartbeat included, for the whole timeout. A Ruby block that sleeps lets them run.
          db.busy_handler do |count|
            next false if count * BUSY_PAUSE_S >= BUSY_TIMEOUT_S
            Kernel.sleep(BUSY_PAUSE_S)
            true
          end
          db.execute("PRAGMA journal_mode=WAL")
          db.execute("CREATE TABLE IF NOT EXISTS attempts (key TEXT PRIMARY KEY, attempts INTEGER, " \
                     "succeeded INTEGER DEFAULT 0)")
          db
        end
      end

      def self.perform(options, key)
        attempt = Integer(db.execute(
          "INSERT INTO attempts (key, attempts) VALUES (?, 1) " \
          "ON CONFLICT(key) DO UPDATE SET attempts = attempts + 1 RETURNING attempts", [key]
        ).first.first)
        fails = if options["p"].nil?
          attempt <= Integer(options["fail_first"])
        else
          python_random("#{Workloads.py_str(options["seed"])}:#{key}:#{attempt}") < Float(options["p"])
        end
        raise FlakyFailure, "flaky job #{key} failed on purpose (attempt #{attempt})" if fails
        db.execute("UPDATE attempts SET succeeded = 1 WHERE key = ?", [key])
      end

      # random.Random(text).random() of Python 3: a str seed becomes the big-endian integer of
      # its UTF-8 bytes followed by their SHA-512, fed to MT19937's init_by_array in 32-bit words,
      # least significant first, which is what Ruby's Random.new(Integer) does too, except that
      # Ruby drops a most significant word equal to 1 (its "leading-zero guard", random.c): such
      # a seed gets one more word of 1 above it for Ruby to drop. Both draw a 53-bit float from
      # two 32-bit outputs the same way.
      def self.python_random(text)
        bytes = text.encode("UTF-8").b
        seed = (bytes + Digest::SHA512.digest(bytes)).unpack1("H*").to_i(16)
        words = (seed.bit_length + 31) / 32
        seed += 1 << (32 * words) if seed >> (32 * (words - 1)) == 1
        Random.new(seed).rand
      end
    end
  end

  # Server middleware: keeps the hash of the job this thread runs. In Sidekiq 6.4 perform gets
  # only the arguments and sidekiq_retry_in only (count, exception), but the attempt number is
  # the payload's retry_count and the harness's retry policy its "qb_retry". Left in place after
  # the job, since the retry handler runs after the middleware has returned; the next job of the
  # thread replaces it.
  class CurrentJob
    def call(_worker, job, _queue)
      Thread.current[:queuebench_job] = job
      yield
    end
  end

  def self.current_job(jid)
    job = Thread.current[:queuebench_job]
    job if job && job["jid"] == jid
  end

  # The harness's RetryPolicy ("qb_retry": backoff, delay_s) as sidekiq_retry_in's answer.
  # Sidekiq 6.4 takes whole seconds (it truncates with to_i, and 0 means "use the default
  # formula"), so the delay is rounded up, at least 1 s: no retry comes earlier than asked.
  # Sidekiq then adds its own jitter, rand(10) * (count + 1) seconds. "native" (or no policy)
  # answers nil: Sidekiq's count**4 + 15 + jitter.
  def self.retry_in(count)
    policy = (Thread.current[:queuebench_job] || {})["qb_retry"] || {}
    backoff = policy.fetch("backoff", "native")
    return nil if backoff == "native"
    delay = Float(policy.fetch("delay_s", 1.0))
    delay *= 2**count if backoff == "exponential"
    [delay.ceil, 1].max
  end

  # The `quiet` config's job logger: Sidekiq's own, less its start/done/fail line per job (the
  # context it sets for error reports stays).
  class QuietJobLogger < Sidekiq::JobLogger
    def call(_item, _queue)
      yield
    end
  end
end

class QueuebenchWorker
  include Sidekiq::Worker

  sidekiq_options queue: "default", retry: true
  sidekiq_retry_in { |count, _exception| Queuebench.retry_in(count) }

  # attempt: 1 on the first run, then retry_count + 2 (Sidekiq sets retry_count 0 at the first
  # failure), as the clone's jobs.py counts; nil if the job hash is not at hand.
  def perform(job_id, planned_ns, workload, args)
    job = Queuebench.current_job(jid)
    attempt = if job.nil? then nil
    elsif job["retry_count"].nil? then 1
    else Integer(job["retry_count"]) + 2
    end
    Queuebench::Probe.run(job_id, planned_ns, attempt) do
      Queuebench::Workloads.perform(workload, args)
    end
  end
end

Sidekiq.configure_server do |config|
  # poll_interval_average, not average_scheduled_poll_interval: the latter is multiplied by the
  # number of processes and, left alone, poll_interval_average makes 6.4.1 wait 10-15 s before
  # its first poll; the clone's --poll-interval sets this same average.
  config.options[:poll_interval_average] = Float(ENV.fetch("QUEUEBENCH_POLL_INTERVAL", "1"))
  config.server_middleware { |chain| chain.add Queuebench::CurrentJob }
  job_log = ENV.fetch("QUEUEBENCH_JOB_LOG", "stock")
  unless %w[stock quiet].include?(job_log)
    raise ArgumentError, "QUEUEBENCH_JOB_LOG must be stock or quiet, not #{job_log.inspect}"
  end
  config.options[:job_logger] = Queuebench::QuietJobLogger if job_log == "quiet"
end
