"""Output: event tables, reports and plots. Renderers read data, never the raw files."""
