"""Simulated market and matching engine shared by every platform simulator."""
