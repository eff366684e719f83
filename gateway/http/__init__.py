"""HTTP: the health page, the JSON and compatibility APIs, the admin API and console."""
