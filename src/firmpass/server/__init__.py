"""`firmpass serve`: the team server (FastAPI, server-rendered Jinja2 pages, scans on Dask).

Modules: db (tables, Alembic upgrade), auth (argon2 passwords, sessions, CSRF, API tokens),
runner (scans as Dask tasks, progress), triage (decisions -> the next scan's VEX), app (pages and
the /api/v1 REST API), i18n (the server's bilingual strings).  docs/server.md describes it.
"""
