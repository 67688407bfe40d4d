"""The harness the tests (``tests/``) and the benchmarks (``bench/``) share; the workshop
itself never imports it.

- ``checkout``: the checkout this package runs from;
- ``ports``: free ports, each pytest-xdist worker from its own slice;
- ``environment``: the machine's workshop and AWS variables to hide, a clean environment for
  subprocesses;
- ``tables``: the token, business product and data tables as the stacks make them;
- ``reference_app``: a minimal partner app served on a free port, for the sandbox;
- ``sandbox``: a served sandbox on free ports, and an app installed in it;
- ``pipeline_harness``: the event pipeline provisioned as the workshop does, and the local event
  runner on it.
"""
