"""fx: converts every normalized fill to USD (usd_rate, fee_usd); see docs/fx.md."""
