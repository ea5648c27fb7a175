"""What resque-web and Sidekiq::Web share: the guard (CSRF, basic auth, security headers), the
stylesheet, the script and the base page (blueprint.py), the Flask set-up (app.py) and the
command line that serves a dashboard alone (cli.py). Each dashboard's pages and Redis reading
stay in its own clone package (comparisons/resque_clone/web, comparisons/sidekiq_clone/web).
"""
