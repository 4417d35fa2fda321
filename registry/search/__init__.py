"""The public search: the query engine (engine), the results table (tables) and the page (views)."""
