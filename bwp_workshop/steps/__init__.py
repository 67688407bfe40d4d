"""The workshop's steps, one module per step, in the order the notebooks take them:
``preflight``, ``registration``, ``image``, ``install``, ``subscriptions``, ``pipeline`` and
``dead_letters``, ``api``, ``analytics``, ``cleanup``. Each works on both targets and says what
to do when it cannot proceed. (Deploying the stacks is :mod:`bwp_workshop.deploy`.)"""
