"""Formgrader's dialogs (autograde, collect, feedback) show the log at INFO, not hundreds of DEBUG lines.

Formgrader hands ``NbGraderAPI`` the level of the Jupyter server's logger, which traitlets >= 5.2
leaves at DEBUG (the level lives on the console handler), and ``capture_log`` then records every
DEBUG message of the grading run into the dialog. ``quiet_dialogs()`` (called by nbgrader_config.py)
wraps nbgrader's ``capture_log`` so that the captured log starts at INFO; the server's own log is
left as it was.
"""

import logging

_WRAPPED = "_course_quiet"


def quiet_dialogs(level=logging.INFO):
    import nbgrader.apps.api as api

    if getattr(api.capture_log, _WRAPPED, False):
        return
    original = api.capture_log

    def capture_log(app, *args, **kwargs):
        logger = app.log
        before = logger.level
        if logger.getEffectiveLevel() < level:
            logger.setLevel(level)
        try:
            return original(app, *args, **kwargs)
        finally:
            logger.setLevel(before)

    setattr(capture_log, _WRAPPED, True)
    api.capture_log = capture_log
