"""Loaded at start-up when this folder is on PYTHONPATH: records the process's AWS calls into
the file named by BWP_TEST_CALL_LOG (see call_log.py)."""

import os

if os.environ.get("BWP_TEST_CALL_LOG"):
    import call_log

    call_log.install(os.environ["BWP_TEST_CALL_LOG"])
