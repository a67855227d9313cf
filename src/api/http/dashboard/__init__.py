"""The analysts' dashboard: one HTML page, its script and its style sheet (no build step).

`api.http.routes.dashboard` serves these files; the page draws its charts as plain SVG and
loads nothing from outside the server.
"""
