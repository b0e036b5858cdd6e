"""Open inputs, detect their format and frame their lines into records (cheap str/regex work)."""
