"""The browser client's Python side: a static server with the headers the page needs."""
