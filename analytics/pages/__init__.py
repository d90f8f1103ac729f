"""The analytics web pages, one module per page (views stay thin: access, parse, query, render)."""
