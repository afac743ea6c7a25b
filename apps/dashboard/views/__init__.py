"""Dashboard pages: thin views that ask selectors for numbers and figures.py for charts."""
