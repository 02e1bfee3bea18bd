"""Reliability and security suite: faults, load, bad input, secrets, signature abuse (issue 5).

Fast versions run in `make test`; full-size ones are marked `reliability` (`make reliability`).
"""
