"""bwp-workshop: the Buy with Prime partner integration workshop, runnable without accounts.

The package does the work the notebooks show: settings, AWS clients for the selected target,
the local runtime (moto server and the other local services) and the CLI. Importing it is
cheap: it pulls in neither Jupyter, pandas nor the CDK, and creates no AWS client.
"""

__version__ = "0.1.0"
