"""The reliability harness: the portal under load and under faults, against real gunicorn processes.

`make reliability` (full) and `make reliability-short` (what CI runs through tests/test_reliability.py) start
gunicorn on a scratch database, make the data with the portal's own CLI and services, drive it over HTTP as
browsers would, and check the outcome in the database. See reliability/README.md.
"""
