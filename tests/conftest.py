# helper modules that also provide fixtures: resque_jobs (`resque`, `resque_worker`),
# system_helpers (`drive`) and web_support (`chromium`, `browser_page`, `serve_wsgi`, `dashboard`,
# `processes`)
pytest_plugins = ["redis_fixtures", "resque_jobs", "system_helpers", "web_support"]
