"""The snippet app: paste code, a background job highlights it with pygments.

The seed's Rails example (snippets + a highlighting job + resque-web / Sidekiq::Web mounted),
in Flask, with the queue backend chosen on the command line:

    python -m examples.snippets_app --backend resque_clone|sidekiq_clone|rq|celery

README.md beside this file walks through the story step by step.
"""
