"""Static files of the web pages (served by api/web.py); a package so wheels ship them."""
