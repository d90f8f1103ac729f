"""Read-side queries the pages use (HackSoft's selectors): one module per page that needs more
than a lookup. Services write; selectors only read."""
