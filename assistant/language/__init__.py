"""Query language: text normalising, the catalog vocabulary (plus everyday-word knowledge) and query understanding."""
