"""Metrics and health: what an operator watches."""
