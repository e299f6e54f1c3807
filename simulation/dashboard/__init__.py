"""Browser dashboard for training sessions (Mesa SolaraViz); see docs/dashboard.md."""
