"""Compute for the pages: `front` is the one door (every cached read and result, every job for the
worker pool); `jobs` is the pool, `tasks` the functions it runs. Only `front` imports Streamlit:
workers import `jobs` and `tasks` alone."""
