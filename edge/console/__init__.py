"""The booth console: a web app on the edge daemon's server (beside ``/metrics``), served with every asset from the
edge so it works with no internet.

* :mod:`edge.console.app`: the routes (``/console/``, the JSON API under ``/console/api/``, the live stream).
* :mod:`edge.console.auth`: operator sign-in with a PIN and the session cookie.
* :mod:`edge.console.views`: what the screens show, as JSON (money in minor units beside display text, times in
  the car park's zone).
* ``static/``: plain HTML, CSS and JavaScript (no build step), zh-CN and English.
* :mod:`edge.console.cli`: ``parkgate edge operator ...`` (operators and their PINs).

The daemon mounts it with :func:`edge.console.app.attach_console` (this package imports nothing itself, so the
command line does not load the web server to manage operators).
"""
